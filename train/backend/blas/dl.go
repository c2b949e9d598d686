//go:build cgo

package blas

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

// CBLAS enum values, as cblas.h defines them, so that building needs no
// BLAS headers.
enum { blasRowMajor = 101, blasNoTrans = 111, blasTrans = 112 };

// OpenBLAS's default interface passes dimensions as 32-bit int.
typedef void (*sgemmFn)(int, int, int, int, int, int, float, const float *, int,
	const float *, int, float, float *, int);
typedef void (*dgemmFn)(int, int, int, int, int, int, double, const double *, int,
	const double *, int, double, double *, int);
typedef void (*setThreadsFn)(int);
typedef int (*getThreadsFn)(void);
typedef char *(*getStringFn)(void);

static int transFlag(int t) { return t ? blasTrans : blasNoTrans; }

static void callSgemm(void *f, int ta, int tb, int m, int n, int k, float alpha,
	const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
	((sgemmFn)f)(blasRowMajor, transFlag(ta), transFlag(tb), m, n, k,
		alpha, a, lda, b, ldb, beta, c, ldc);
}

static void callDgemm(void *f, int ta, int tb, int m, int n, int k, double alpha,
	const double *a, int lda, const double *b, int ldb, double beta, double *c, int ldc) {
	((dgemmFn)f)(blasRowMajor, transFlag(ta), transFlag(tb), m, n, k,
		alpha, a, lda, b, ldb, beta, c, ldc);
}

static void callSetThreads(void *f, int n) { ((setThreadsFn)f)(n); }
static int callGetThreads(void *f) { return ((getThreadsFn)f)(); }
static const char *callGetString(void *f) { return ((getStringFn)f)(); }

// lookup clears any stale error before dlsym, since a symbol's address may
// legitimately be NULL only when dlerror says nothing went wrong.
static void *lookup(void *h, const char *name) {
	dlerror();
	return dlsym(h, name);
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// open dlopens the library called name and resolves the symbols Lib uses.
func open(name string) (*Lib, error) {
	// dlerror's message belongs to the thread that made the failing call.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	h := C.dlopen(cname, C.RTLD_NOW|C.RTLD_LOCAL)
	if h == nil {
		return nil, fmt.Errorf("blas: dlopen %s: %s", name, dlError())
	}

	syms := map[string]unsafe.Pointer{}
	for _, s := range []string{
		"cblas_sgemm", "cblas_dgemm", "openblas_set_num_threads",
		"openblas_get_num_threads", "openblas_get_config", "openblas_get_corename",
	} {
		p, err := symbol(h, s)
		if err != nil {
			C.dlclose(h)
			return nil, fmt.Errorf("blas: %s: %w", name, err)
		}
		syms[s] = p
	}

	return &Lib{
		handle:     h,
		sgemm:      syms["cblas_sgemm"],
		dgemm:      syms["cblas_dgemm"],
		setThreadN: syms["openblas_set_num_threads"],
		getThreadN: syms["openblas_get_num_threads"],
		config:     C.GoString(C.callGetString(syms["openblas_get_config"])),
		core:       C.GoString(C.callGetString(syms["openblas_get_corename"])),
	}, nil
}

// symbol resolves one symbol in the library h.
func symbol(h unsafe.Pointer, name string) (unsafe.Pointer, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	p := C.lookup(h, cname)
	if p == nil {
		return nil, fmt.Errorf("missing symbol %s: %s", name, dlError())
	}
	return p, nil
}

// dlError returns the dynamic linker's message for the last failure.
func dlError() string {
	if msg := C.dlerror(); msg != nil {
		return C.GoString(msg)
	}
	return "no message from dlerror"
}

// setThreads asks OpenBLAS for n threads and records how many it will use,
// which its build may cap.
func (l *Lib) setThreads(n int) {
	C.callSetThreads(l.setThreadN, C.int(n))
	l.threads = int(C.callGetThreads(l.getThreadN))
}

// callSgemm runs cblas_sgemm on arguments that shape.check has accepted and
// that describe a non-empty product, so every slice has an element 0.
func (l *Lib) callSgemm(s shape, alpha float32, a, b []float32, beta float32, c []float32) {
	C.callSgemm(l.sgemm, cBool(s.transA), cBool(s.transB),
		C.int(s.m), C.int(s.n), C.int(s.k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.int(s.lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.int(s.ldb), C.float(beta),
		(*C.float)(unsafe.Pointer(&c[0])), C.int(s.ldc))
}

// callDgemm is callSgemm for cblas_dgemm.
func (l *Lib) callDgemm(s shape, alpha float64, a, b []float64, beta float64, c []float64) {
	C.callDgemm(l.dgemm, cBool(s.transA), cBool(s.transB),
		C.int(s.m), C.int(s.n), C.int(s.k), C.double(alpha),
		(*C.double)(unsafe.Pointer(&a[0])), C.int(s.lda),
		(*C.double)(unsafe.Pointer(&b[0])), C.int(s.ldb), C.double(beta),
		(*C.double)(unsafe.Pointer(&c[0])), C.int(s.ldc))
}

func cBool(v bool) C.int {
	if v {
		return 1
	}
	return 0
}
