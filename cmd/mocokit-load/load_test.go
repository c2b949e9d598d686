package main

import (
	"bytes"
	"image"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	_ "image/png"
)

func TestHugePNGDeclaresTenBillionPixels(t *testing.T) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(hugePNG()))
	if err != nil || format != "png" || cfg.Width != 100000 || cfg.Height != 100000 {
		t.Fatalf("%s %dx%d: %v", format, cfg.Width, cfg.Height, err)
	}
}

func TestMixDrawsEveryKindByWeight(t *testing.T) {
	images, err := testImages(4)
	if err != nil || len(images) != 4 {
		t.Fatalf("%d images: %v", len(images), err)
	}
	m := newMix(images, 1<<20, "127.0.0.1:1")
	r := rand.New(rand.NewPCG(1, 2))
	counts := make([]int, len(m.kinds))
	const draws = 100000
	for range draws {
		counts[m.pick(r)]++
	}
	for i, k := range m.kinds {
		want := draws * k.weight / m.total
		if counts[i] < want*8/10 || counts[i] > want*12/10 {
			t.Errorf("%s: drawn %d times, want about %d", k.name, counts[i], want)
		}
	}
	body, ct := m.kinds[5].body(r) // over --max-body
	if len(body) <= 1<<20 || !strings.HasPrefix(ct, "multipart/form-data") {
		t.Fatalf("oversized body is %d bytes, %s", len(body), ct)
	}
}

func TestStatsCountOnlyWrongAnswersAsUnexpected(t *testing.T) {
	m := newMix([][]byte{{0xff, 0xd8}}, 1<<20, "127.0.0.1:1")
	s := newStats(m)
	s.record(0, outcome{status: 200, latency: time.Millisecond})
	s.record(0, outcome{status: 500, latency: time.Millisecond})
	s.record(1, outcome{status: 400})
	s.record(1, outcome{failure: "connection reset"})
	s.record(len(m.kinds)-1, outcome{failure: "hung up on purpose"})
	if got := s.unexpected(); got != 2 {
		t.Fatalf("%d unexpected, want 2 (the 500 and the reset)", got)
	}
	d := []time.Duration{}
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if percentile(d, 99) != "99ms" || percentile(d, 50) != "50ms" {
		t.Fatalf("p50 %s, p99 %s", percentile(d, 50), percentile(d, 99))
	}
}
