//go:build !xla

package backend

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
)

// xlaCompiled tells whether this binary carries GoMLX's XLA backend.
const xlaCompiled = false

// newXLA explains how to get the XLA backend: importing it needs the
// github.com/gomlx/go-xla module, which this build leaves out.
func newXLA(config string) (backends.Backend, error) {
	return nil, fmt.Errorf("backend: %q asked for, but this binary has no XLA backend: "+
		"build it with `go get github.com/gomlx/go-xla@v0.1.4` and `go build -tags xla`, "+
		"then name a PJRT plugin (xla:cuda, or xla:/path/to/pjrt_c_api_cuda_plugin.so); "+
		"available here: %q", XLAName+prefixed(config), GoName)
}

func xlaPluginAvailable() bool { return false }

func xlaPluginsFound() string { return "none" }
