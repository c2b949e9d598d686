//go:build !cgo

package blas

import "errors"

// open fails: without cgo there is no dlopen to load the library with.
func open(name string) (*Lib, error) {
	return nil, errors.New("blas: cannot load " + name + ": built without cgo")
}

// The methods below are unreachable, since open never returns a Lib.

func (l *Lib) setThreads(int) {}

func (l *Lib) callSgemm(shape, float32, []float32, []float32, float32, []float32) {}

func (l *Lib) callDgemm(shape, float64, []float64, []float64, float64, []float64) {}
