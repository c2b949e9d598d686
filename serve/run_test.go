package serve

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mocokit/mocokit/inference/inferencetest"
)

func TestRunServesUntilCancelled(t *testing.T) {
	lib := inferencetest.Library(t)
	fx := inferencetest.Get(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Model: fx.Classifier, ORTLib: lib, Addr: addr, Threads: 1})
	}()
	up := false
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if up = resp.StatusCode == http.StatusOK; up {
				break
			}
			// 503 while the model loads: it listens first.
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("/readyz answered %d", resp.StatusCode)
			}
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !up {
		t.Fatal("server never became ready")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("no model accepted")
	}
	if _, err := New(Config{Model: "m.onnx", EvalBatch: -1}); err == nil {
		t.Fatal("negative batch accepted")
	}
	_, err := New(Config{Model: "m.onnx", MaxPixels: 100, MaxDecodePixels: 99})
	if err == nil || !strings.Contains(err.Error(), "decode pixel limit 99 is less than") {
		t.Fatalf("decode budget under one image: %v", err)
	}
	if ModelName("/x/y/resnet18.cifar.onnx") != "resnet18.cifar" {
		t.Fatal(ModelName("/x/y/resnet18.cifar.onnx"))
	}
}
