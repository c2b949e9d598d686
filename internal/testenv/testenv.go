// Package testenv decides what a test does when something it needs from
// the machine is missing (PyTorch, the onnxruntime library, the CIFAR-10
// copy): it skips on a developer's machine, and fails under CI, where
// scripts/test.sh has installed everything and a skip would hide a test
// that never ran.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// Missing skips tb, or fails it when $CI is set, with the reason given.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		tb.Fatal(msg + " (CI runs scripts/test.sh, which provides it)")
	}
	tb.Skip(msg)
}
