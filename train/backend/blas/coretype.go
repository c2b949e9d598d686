package blas

import (
	"os"

	"golang.org/x/sys/cpu"
)

// coreTypeVar is the environment variable through which OpenBLAS's
// DYNAMIC_ARCH builds accept a kernel family instead of detecting one.
const coreTypeVar = "OPENBLAS_CORETYPE"

// cpuFeatures are the instruction-set extensions that pick a kernel family.
type cpuFeatures struct {
	avx512f, avx512bw, avx512dq, avx512vl bool
	avx2, fma                             bool
}

// hostFeatures reads the features of this CPU, counting only those the
// operating system has enabled.
func hostFeatures() cpuFeatures {
	return cpuFeatures{
		avx512f:  cpu.X86.HasAVX512F,
		avx512bw: cpu.X86.HasAVX512BW,
		avx512dq: cpu.X86.HasAVX512DQ,
		avx512vl: cpu.X86.HasAVX512VL,
		avx2:     cpu.X86.HasAVX2,
		fma:      cpu.X86.HasFMA,
	}
}

// coreType names the OpenBLAS kernel family for features f, or "" when
// OpenBLAS's own detection is as good as any choice made here. OpenBLAS
// releases that predate a CPU model fall back to old SSE3 kernels on it,
// several times slower than the AVX2 or AVX-512 kernels the CPU can run.
func coreType(f cpuFeatures) string {
	switch {
	case f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl:
		return "SkylakeX"
	case f.avx2 && f.fma:
		return "Haswell"
	default:
		return ""
	}
}

// setCoreType sets OPENBLAS_CORETYPE from this CPU's features unless the
// environment already names a core, and returns the value it set, or "".
// An empty value counts as unset: OpenBLAS 0.3.21 does not treat it so,
// but picks an arbitrary core that the CPU may lack instructions for. In a
// cgo program os.Setenv also updates the C environment that OpenBLAS reads
// with getenv when dlopen runs its constructor.
func setCoreType() string {
	if os.Getenv(coreTypeVar) != "" {
		return ""
	}
	name := coreType(hostFeatures())
	if name == "" {
		return ""
	}
	if err := os.Setenv(coreTypeVar, name); err != nil {
		return ""
	}
	return name
}
