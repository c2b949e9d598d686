package onednn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func loadOrSkip(tb testing.TB) *Lib {
	tb.Helper()
	l, err := Load()
	if err != nil {
		tb.Skipf("oneDNN not available: %v", err)
	}
	return l
}

// layout lays out logical dims (in oneDNN's order) in the memory order
// perm gives, outermost first, and returns the tensor.
func layout(dims [4]int, perm [4]int) Tensor {
	t := Tensor{Dims: dims}
	stride := 1
	for i := 3; i >= 0; i-- {
		t.Strides[perm[i]] = stride
		stride *= dims[perm[i]]
	}
	return t
}

func assertNear(t *testing.T, what string, got []float32, want []float64, impl string) {
	t.Helper()
	for i, v := range want {
		if d := math.Abs(float64(got[i]) - v); d > 1e-4*(1+math.Abs(v)) {
			t.Fatalf("%s, value %d: %g, want %g (%s)", what, i, got[i], v, impl)
		}
	}
}

// taps calls f for each (output, input, weight) position triple of s
// inside the input: n, o, y, x, c, ky, kx and the input's iy, ix.
func taps(s ConvSpec, f func(n, o, y, x, c, ky, kx, iy, ix int)) {
	d := s.Dst
	for n := range d.Dims[0] {
		for o := range d.Dims[1] {
			for y := range d.Dims[2] {
				for x := range d.Dims[3] {
					for c := range s.Weights.Dims[1] {
						for ky := range s.Weights.Dims[2] {
							for kx := range s.Weights.Dims[3] {
								iy := y*s.Strides[0] + ky*(s.Dilations[0]+1) - s.PadLow[0]
								ix := x*s.Strides[1] + kx*(s.Dilations[1]+1) - s.PadLow[1]
								if iy >= 0 && ix >= 0 && iy < s.Src.Dims[2] && ix < s.Src.Dims[3] {
									f(n, o, y, x, c, ky, kx, iy, ix)
								}
							}
						}
					}
				}
			}
		}
	}
}

// roles says which of a convolution's source (0), weights (1) and
// destination (2) each operand of Run is, for each kind.
var roles = [3][3]int{{0, 1, 2}, {0, 2, 1}, {2, 1, 0}}

// naive is what a Conv of kind writes from in0 and in1, by the definition,
// in float64.
func naive(s ConvSpec, kind int, in0, in1 []float32) []float64 {
	ops := operandsOf(s, kind)
	out := make([]float64, ops[2].span())
	offset := func(t Tensor, i [4]int) int {
		return i[0]*t.Strides[0] + i[1]*t.Strides[1] + i[2]*t.Strides[2] + i[3]*t.Strides[3]
	}
	taps(s, func(n, o, y, x, c, ky, kx, iy, ix int) {
		at := [3][4]int{{n, c, iy, ix}, {o, c, ky, kx}, {n, o, y, x}}
		r := roles[kind]
		out[offset(ops[2], at[r[2]])] += float64(in0[offset(ops[0], at[r[0]])]) *
			float64(in1[offset(ops[1], at[r[1]])])
	})
	return out
}

func outSize(in, k, stride, dil, lo, hi int) int {
	return (in+lo+hi-((k-1)*(dil+1)+1))/stride + 1
}

func TestConvMatchesDefinition(t *testing.T) {
	l := loadOrSkip(t)
	nchw, nhwc, cnhw := [4]int{0, 1, 2, 3}, [4]int{0, 2, 3, 1}, [4]int{1, 0, 2, 3}
	oihw, iohw, hwio := [4]int{0, 1, 2, 3}, [4]int{1, 0, 2, 3}, [4]int{2, 3, 1, 0}
	cases := []struct {
		name                string
		n, c, o, h, w, k    int
		stride, dil, lo, hi int
		srcL, wL, dstL      [4]int
	}{
		{"3x3 pad 1, PyTorch layouts", 4, 16, 32, 9, 9, 3, 1, 0, 1, 1, nchw, oihw, nchw},
		{"3 input channels, stride 2", 3, 3, 16, 12, 12, 3, 2, 0, 1, 1, nchw, oihw, nchw},
		{"kernel channels swapped", 2, 24, 8, 7, 7, 3, 1, 0, 1, 1, nchw, iohw, nchw},
		{"channels last", 2, 8, 16, 6, 6, 3, 1, 0, 2, 0, nhwc, hwio, nhwc},
		{"1x1 stride 2 into channels-major", 3, 16, 16, 8, 8, 1, 2, 0, 0, 0, nchw, oihw, cnhw},
		{"dilated, uneven padding", 2, 8, 8, 10, 10, 3, 1, 1, 2, 1, nchw, oihw, nchw},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			oh := outSize(tc.h, tc.k, tc.stride, tc.dil, tc.lo, tc.hi)
			ow := outSize(tc.w, tc.k, tc.stride, tc.dil, tc.lo, tc.hi)
			s := ConvSpec{
				Src:     layout([4]int{tc.n, tc.c, tc.h, tc.w}, tc.srcL),
				Weights: layout([4]int{tc.o, tc.c, tc.k, tc.k}, tc.wL),
				Dst:     layout([4]int{tc.n, tc.o, oh, ow}, tc.dstL),
				Strides: [2]int{tc.stride, tc.stride}, Dilations: [2]int{tc.dil, tc.dil},
				PadLow: [2]int{tc.lo, tc.lo}, PadHigh: [2]int{tc.hi, tc.hi},
			}
			src, w := randoms(rng, s.Src.span()), randoms(rng, s.Weights.span())
			dst := make([]float32, s.Dst.span())
			c, err := l.NewConv(s)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Run(src, w, dst); err != nil {
				t.Fatal(err)
			}
			assertNear(t, "convolution", dst, naive(s, 0, src, w), c.Impl())

			dy, dw := randoms(rng, s.Dst.span()), make([]float32, s.Weights.span())
			g, err := l.NewWeightsGradient(s)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Run(src, dy, dw); err != nil {
				t.Fatal(err)
			}
			assertNear(t, "weights gradient", dw, naive(s, 1, src, dy), g.Impl())

			dx := make([]float32, s.Src.span())
			if g, err = l.NewSourceGradient(s); err != nil {
				t.Fatal(err)
			}
			if err := g.Run(dy, w, dx); err != nil {
				t.Fatal(err)
			}
			assertNear(t, "source gradient", dx, naive(s, 2, dy, w), g.Impl())
		})
	}
}

func randoms(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

func TestConvRejectsShortBuffers(t *testing.T) {
	l := loadOrSkip(t)
	s := ConvSpec{Src: layout([4]int{1, 2, 4, 4}, [4]int{0, 1, 2, 3}),
		Weights: layout([4]int{2, 2, 3, 3}, [4]int{0, 1, 2, 3}),
		Dst:     layout([4]int{1, 2, 2, 2}, [4]int{0, 1, 2, 3}), Strides: [2]int{1, 1}}
	c, err := l.NewConv(s)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Run(make([]float32, 31), make([]float32, 36), make([]float32, 8))
	if err == nil || err.Error() != "onednn: convolution source holds 31 values, want 32" {
		t.Fatalf("short source: %v", err)
	}
}

func TestNewConvRejectsMismatchedShapes(t *testing.T) {
	l := loadOrSkip(t)
	s := ConvSpec{Src: layout([4]int{1, 2, 4, 4}, [4]int{0, 1, 2, 3}),
		Weights: layout([4]int{2, 2, 3, 3}, [4]int{0, 1, 2, 3}),
		Dst:     layout([4]int{1, 2, 3, 3}, [4]int{0, 1, 2, 3}), Strides: [2]int{1, 1}}
	_, err := l.NewConv(s)
	if err == nil || !strings.Contains(err.Error(), "describing the convolution: invalid arguments") {
		t.Fatalf("a 4x4 input convolved by 3x3 into 3x3: %v", err)
	}
}

// TestConcurrentConvsAreCorrect makes, runs and drops convolutions from
// several goroutines at once, collecting garbage meanwhile so that the
// dropped ones are freed while others run.
func TestConcurrentConvsAreCorrect(t *testing.T) {
	l := loadOrSkip(t)
	nchw := [4]int{0, 1, 2, 3}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 5))
			for i := range 20 {
				hw := 4 + (g+i)%5
				s := ConvSpec{Src: layout([4]int{2, 8, hw, hw}, nchw),
					Weights: layout([4]int{8, 8, 3, 3}, nchw),
					Dst:     layout([4]int{2, 8, hw, hw}, nchw),
					Strides: [2]int{1, 1}, PadLow: [2]int{1, 1}, PadHigh: [2]int{1, 1}}
				c, err := l.NewConv(s)
				if err != nil {
					errs <- err
					return
				}
				src, w := randoms(rng, s.Src.span()), randoms(rng, s.Weights.span())
				dst := make([]float32, s.Dst.span())
				if err := c.Run(src, w, dst); err != nil {
					errs <- err
					return
				}
				for j, v := range naive(s, 0, src, w) {
					if math.Abs(float64(dst[j])-v) > 1e-4*(1+math.Abs(v)) {
						errs <- fmt.Errorf("goroutine %d, convolution %d, value %d: %g, want %g",
							g, i, j, dst[j], v)
						return
					}
				}
				runtime.GC()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestNewConvNamesABadOperand(t *testing.T) {
	l := loadOrSkip(t)
	s := ConvSpec{Src: layout([4]int{1, 2, 4, 4}, [4]int{0, 1, 2, 3}),
		Weights: layout([4]int{2, 0, 3, 3}, [4]int{0, 1, 2, 3}),
		Dst:     layout([4]int{1, 2, 2, 2}, [4]int{0, 1, 2, 3}), Strides: [2]int{1, 1}}
	_, err := l.NewConv(s)
	want := "onednn: convolution weights of dimensions [2 0 3 3]"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("weights with no input channels: %v, want %q...", err, want)
	}
}
