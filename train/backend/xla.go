//go:build xla

package backend

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla"
)

// xlaCompiled tells whether this binary carries GoMLX's XLA backend.
const xlaCompiled = true

func init() {
	// Installing a plugin means downloading one; only plugins already on
	// this machine are used.
	xla.EnableAutoInstall(false)
}

// newXLA opens GoMLX's XLA backend on the named PJRT plugin ("cuda", "cpu",
// or a plugin file's absolute path), or on the first one found.
func newXLA(config string) (backends.Backend, error) {
	b, err := xla.New(config)
	if err != nil {
		return nil, fmt.Errorf("backend: %q: %w (PJRT plugins found: %s; "+
			"name a plugin file by its absolute path, or list its folder in "+
			"$PJRT_PLUGIN_LIBRARY_PATH; %q needs none)", XLAName+prefixed(config), err,
			xlaPluginsFound(), GoName)
	}
	return b, nil
}

func xlaPluginAvailable() bool { return len(xla.GetAvailablePlugins()) > 0 }

func xlaPluginsFound() string {
	plugins := xla.GetAvailablePlugins()
	if len(plugins) == 0 {
		return "none"
	}
	return strings.Join(plugins, ", ")
}
