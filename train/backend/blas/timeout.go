package blas

import "os"

// threadTimeoutVar is how long, as a power of two of CPU cycles, OpenBLAS's
// worker threads spin waiting for work before they sleep.
const threadTimeoutVar = "OPENBLAS_THREAD_TIMEOUT"

// threadTimeout is the value setThreadTimeout sets: 2^16 cycles, tens of
// microseconds. OpenBLAS's default, 2^28 (about a tenth of a second),
// keeps its workers spinning between the matrix products of a training
// step, on the cores that the step's Go code needs: on two cores a
// ResNet-18 step with the ImageNet stem ran 12% faster with 16 than with
// 28 (BenchmarkStep in package train, both values side by side).
const threadTimeout = "16"

// setThreadTimeout sets OPENBLAS_THREAD_TIMEOUT unless the environment
// sets it, and returns the value it set, or "".
func setThreadTimeout() string {
	if os.Getenv(threadTimeoutVar) != "" {
		return ""
	}
	if err := os.Setenv(threadTimeoutVar, threadTimeout); err != nil {
		return ""
	}
	return threadTimeout
}
