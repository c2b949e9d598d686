// Package blas calls OpenBLAS's single- and double-precision matrix
// multiplications (cblas_sgemm, cblas_dgemm, as the CBLAS interface of the
// reference BLAS defines them) from Go.
//
// The library is opened at run time with dlopen rather than linked: a
// mocokit binary then builds without the OpenBLAS headers and still starts
// on a machine without OpenBLAS, where Load returns an error and the caller
// keeps its pure-Go matrix multiplication.
package blas

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// LibraryName is the shared object Load opens: the runtime library of
// Debian's and Ubuntu's libopenblas0 packages and of OpenBLAS's own build.
const LibraryName = "libopenblas.so.0"

// Lib is a loaded OpenBLAS. Its methods may be called from several
// goroutines at once.
type Lib struct {
	handle unsafe.Pointer // from dlopen, kept open for the process
	sgemm  unsafe.Pointer // cblas_sgemm
	dgemm  unsafe.Pointer // cblas_dgemm

	setThreadN unsafe.Pointer // openblas_set_num_threads
	getThreadN unsafe.Pointer // openblas_get_num_threads

	config   string // openblas_get_config: version and build options
	core     string // openblas_get_corename: the kernels in use
	threads  int    // openblas_get_num_threads after setting it
	coreType string // OPENBLAS_CORETYPE chosen by Load; "" if left as found
	timeout  string // OPENBLAS_THREAD_TIMEOUT chosen by Load; "" if left as found
}

var (
	loadOnce sync.Once
	loaded   *Lib
	loadErr  error
)

// Load opens OpenBLAS once per process; later calls return the first
// call's result. Before opening it, Load sets OPENBLAS_CORETYPE from the
// CPU's features unless the environment already sets it, because OpenBLAS
// reads that variable only while it is loaded and may not recognise the
// CPU by itself; likewise OPENBLAS_THREAD_TIMEOUT (setThreadTimeout). It
// then sets OpenBLAS's thread count to GOMAXPROCS.
func Load() (*Lib, error) {
	loadOnce.Do(func() {
		coreType, timeout := setCoreType(), setThreadTimeout()
		loaded, loadErr = open(LibraryName)
		if loadErr != nil {
			return
		}
		loaded.coreType, loaded.timeout = coreType, timeout
		loaded.setThreads(runtime.GOMAXPROCS(0))
	})
	return loaded, loadErr
}

// Describe names the library's version and build, the kernels it runs and
// its thread count, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ...; core SkylakeX,
// 2 threads".
func (l *Lib) Describe() string {
	s := fmt.Sprintf("%s; core %s, %d threads", l.config, l.core, l.threads)
	if l.coreType != "" {
		s += fmt.Sprintf(" (OPENBLAS_CORETYPE=%s from CPU features)", l.coreType)
	}
	if l.timeout != "" {
		s += fmt.Sprintf(", %s=%s", threadTimeoutVar, l.timeout)
	}
	return s
}

// Sgemm computes C = alpha*op(A)*op(B) + beta*C in single precision, with
// every matrix stored row-major: op(A) is m×k, op(B) is k×n and C is m×n.
// op(X) is X, or X transposed when its trans flag is set, so A is stored
// as m×k (k×m when transA) with lda elements between rows, and so on for
// B and C. As in BLAS, C is not read when beta is 0.
//
// Sgemm returns an error, without touching C, when a dimension is negative
// or too large for OpenBLAS's 32-bit integers, a leading dimension is less
// than its row's length, or a slice is too short for its matrix.
func (l *Lib) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) error {

	s := shape{transA, transB, m, n, k, lda, ldb, ldc}
	if err := s.check(len(a), len(b), len(c)); err != nil {
		return fmt.Errorf("blas: sgemm: %w", err)
	}
	if m == 0 || n == 0 {
		return nil
	}
	if k == 0 {
		scale(c, m, n, ldc, beta)
		return nil
	}
	l.callSgemm(s, alpha, a, b, beta, c)
	return nil
}

// Dgemm is Sgemm in double precision.
func (l *Lib) Dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int,
	b []float64, ldb int, beta float64, c []float64, ldc int) error {

	s := shape{transA, transB, m, n, k, lda, ldb, ldc}
	if err := s.check(len(a), len(b), len(c)); err != nil {
		return fmt.Errorf("blas: dgemm: %w", err)
	}
	if m == 0 || n == 0 {
		return nil
	}
	if k == 0 {
		scale(c, m, n, ldc, beta)
		return nil
	}
	l.callDgemm(s, alpha, a, b, beta, c)
	return nil
}

// scale sets the m×n matrix C to beta*C: a product with k == 0 adds
// nothing. With beta == 0, C is cleared without being read, so NaNs in it
// do not survive, as BLAS specifies.
func scale[F float32 | float64](c []F, m, n, ldc int, beta F) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		for j := range row {
			if beta == 0 {
				row[j] = 0
			} else {
				row[j] *= beta
			}
		}
	}
}
