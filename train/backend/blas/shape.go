package blas

import (
	"fmt"
	"math"
)

// shape is the geometry of one row-major matrix multiplication.
type shape struct {
	transA, transB bool
	m, n, k        int
	lda, ldb, ldc  int
}

// check reports the first argument that would make OpenBLAS read or write
// outside the slices of lengths lenA, lenB and lenC, or that OpenBLAS's
// 32-bit integers cannot hold.
func (s shape) check(lenA, lenB, lenC int) error {
	for _, d := range []struct {
		name string
		v    int
	}{{"m", s.m}, {"n", s.n}, {"k", s.k}, {"lda", s.lda}, {"ldb", s.ldb}, {"ldc", s.ldc}} {
		if d.v < 0 || d.v > math.MaxInt32 {
			return fmt.Errorf("%s = %d out of range [0, %d]", d.name, d.v, math.MaxInt32)
		}
	}

	// Stored rows × columns of each matrix, row-major.
	aRows, aCols := s.m, s.k
	if s.transA {
		aRows, aCols = s.k, s.m
	}
	bRows, bCols := s.k, s.n
	if s.transB {
		bRows, bCols = s.n, s.k
	}

	if err := checkMatrix("a", "lda", aRows, aCols, s.lda, lenA); err != nil {
		return err
	}
	if err := checkMatrix("b", "ldb", bRows, bCols, s.ldb, lenB); err != nil {
		return err
	}
	return checkMatrix("c", "ldc", s.m, s.n, s.ldc, lenC)
}

// checkMatrix checks one rows×cols row-major matrix with leading dimension
// ld against the length of its slice. BLAS requires ld >= max(1, cols)
// even for an empty matrix.
func checkMatrix(name, ldName string, rows, cols, ld, length int) error {
	if ld < max(1, cols) {
		return fmt.Errorf("%s = %d less than %s's row length %d", ldName, ld, name, max(1, cols))
	}
	if rows == 0 || cols == 0 {
		return nil
	}
	// Both factors fit in 32 bits, so the product fits in an int.
	need := (rows-1)*ld + cols
	if length < need {
		return fmt.Errorf("len(%s) = %d, need %d for %d×%d with %s = %d",
			name, length, need, rows, cols, ldName, ld)
	}
	return nil
}
