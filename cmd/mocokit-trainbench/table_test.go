package main

import (
	"bytes"
	"testing"

	"github.com/mocokit/mocokit/models"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{7}, 7},
		{[]float64{30, 10}, 20},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 100, 2}, 3},
	} {
		if got := median(c.xs); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
	xs := []float64{3, 1, 2}
	median(xs)
	if xs[0] != 3 || xs[1] != 1 {
		t.Errorf("median reordered its argument: %v", xs)
	}
}

func TestTableShowsMediansSlowdownAndMemory(t *testing.T) {
	results := []result{{
		Row:     row{Stem: models.StemImageNet, Batch: 32, Mode: modeTrain, Steps: 3},
		Mocokit: side{Rates: []float64{28, 32}, PeakRSS: 1536 << 20},
		Torch:   side{Rates: []float64{900, 780, 840}, PeakRSS: 459927552},
	}, {
		Row:     row{Stem: models.StemCIFAR, Batch: 8, Mode: modeInfer, Steps: 2},
		Mocokit: side{Rates: []float64{2.5}, PeakRSS: 300 << 20},
		Torch:   side{Rates: []float64{95}, PeakRSS: 400 << 20},
	}}
	var b bytes.Buffer
	writeTable(&b, results)
	want := "" +
		"stem     batch mode  steps mocokit img/s PyTorch img/s   slower mocokit RSS PyTorch RSS\n" +
		"imagenet    32 train     3         30.00           840    28.0x    1536 MiB     439 MiB\n" +
		"cifar        8 infer     2          2.50         95.00    38.0x     300 MiB     400 MiB\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestSlowdownOfUnmeasuredRowIsZero(t *testing.T) {
	r := result{Torch: side{Rates: []float64{10}}}
	if got := r.slowdown(); got != 0 {
		t.Errorf("slowdown = %v, want 0", got)
	}
}

func TestParseCPUModel(t *testing.T) {
	info := "processor\t: 0\nvendor_id\t: GenuineIntel\n" +
		"model name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu\n\nprocessor\t: 1\n"
	if got := parseCPUModel(info); got != "Intel(R) Xeon(R) Processor" {
		t.Errorf("parseCPUModel = %q", got)
	}
	if got := parseCPUModel("processor\t: 0\n"); got != "unknown CPU" {
		t.Errorf("parseCPUModel without model name = %q", got)
	}
}
