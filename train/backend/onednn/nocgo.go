//go:build !cgo || noonednn

package onednn

import "errors"

// open fails: this build has no oneDNN.
func open(name string) (string, error) {
	return "", errors.New("cannot load " + name + ": built without cgo or with the tag noonednn")
}

// primitive is never made, since open always fails.
type primitive struct{}

func newPrimitive(ConvSpec, int) (*primitive, string, error) {
	return nil, "", errors.New("built without oneDNN")
}

func (p *primitive) run(_, _, _ []float32) error { return errors.New("built without oneDNN") }

func (p *primitive) destroy() {}
