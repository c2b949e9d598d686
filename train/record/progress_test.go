package record

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// logLines decodes the JSON log lines in buf.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// checkNumber fails t unless line[key] is want.
func checkNumber(t *testing.T, line map[string]any, key string, want float64) {
	t.Helper()
	got, ok := line[key].(float64)
	if !ok || math.Abs(got-want) > 1e-9 {
		t.Errorf("%s = %v, want %v (line %v)", key, line[key], want, line)
	}
}

func TestProgressLogsEveryIntervalWhenNotOnATerminal(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	clock := &fakeClock{t: time.Unix(1000, 0)}
	p := newProgress(nil, logger, 3, 10, clock.now)
	p.LogInterval = 30 * time.Second

	// Four batches of 128, 10 s each: a line at 30 s, none at 10, 20, 40 s.
	batches := []struct{ loss, acc float64 }{{2.0, 10}, {1.5, 20}, {1.0, 40}, {0.5, 60}}
	for _, b := range batches {
		clock.t = clock.t.Add(10 * time.Second)
		p.Step(b.loss, b.acc, 128)
	}
	// A short last batch: 64 images at 60 s.
	clock.t = clock.t.Add(20 * time.Second)
	p.Step(0.2, 100, 64)
	p.Done()

	lines := logLines(t, &buf)
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2 (at 30 s and 60 s):\n%s", len(lines), buf.String())
	}
	first, second := lines[0], lines[1]
	checkNumber(t, first, "epoch", 3)
	checkNumber(t, first, "step", 3)
	checkNumber(t, first, "steps", 10)
	checkNumber(t, first, "loss", 1.5)
	checkNumber(t, first, "acc", 70.0/3)
	checkNumber(t, first, "images_per_s", 3*128/30.0)
	checkNumber(t, second, "step", 5)
	checkNumber(t, second, "loss", (5.0*128+0.2*64)/(4*128+64))
	checkNumber(t, second, "acc", (130.0*128+100*64)/(4*128+64))
	checkNumber(t, second, "images_per_s", (4*128+64)/60.0)
	if p.Steps() != 5 || p.Images() != 576 || p.Elapsed() != time.Minute {
		t.Errorf("Steps %d Images %d Elapsed %v, want 5, 576, 1m", p.Steps(), p.Images(),
			p.Elapsed())
	}
}

func TestProgressLogsEveryNSteps(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	clock := &fakeClock{t: time.Unix(0, 0)}
	p := newProgress(nil, logger, 1, 7, clock.now)
	p.LogInterval = time.Hour
	p.LogSteps = 3
	for i := range 7 {
		clock.t = clock.t.Add(time.Second)
		p.Step(float64(7-i), 50, 32)
	}
	lines := logLines(t, &buf)
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2 (steps 3 and 6):\n%s", len(lines), buf.String())
	}
	checkNumber(t, lines[0], "step", 3)
	checkNumber(t, lines[0], "loss", 6)
	checkNumber(t, lines[1], "step", 6)
	checkNumber(t, lines[1], "loss", 4.5)
	checkNumber(t, lines[1], "images_per_s", 32)
}

func TestProgressBeforeAnyStepHasNoMeans(t *testing.T) {
	p := newProgress(nil, slog.New(slog.DiscardHandler), 1, 5, time.Now)
	if !math.IsNaN(p.Loss()) || !math.IsNaN(p.Acc()) {
		t.Errorf("Loss %v Acc %v before any step, want NaN", p.Loss(), p.Acc())
	}
}

func TestProgressDrawsABarOnATerminal(t *testing.T) {
	var bar, logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	p := newProgress(&bar, logger, 2, 4, time.Now)
	for range 4 {
		p.Step(0.75, 50, 16)
	}
	p.Done()
	out := bar.String()
	for _, want := range []string{"epoch 2", "loss 0.7500", "acc 50.00%", "img/s", "4/4", "100%"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar output lacks %q:\n%q", want, out)
		}
	}
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("finished bar does not end its line: %q", out)
	}
	if logs.Len() != 0 {
		t.Errorf("bar mode logged: %s", logs.String())
	}
}

func TestProgressWithUnknownStepsShowsASpinner(t *testing.T) {
	var bar bytes.Buffer
	p := newProgress(&bar, nil, 1, 0, time.Now)
	for range 3 {
		p.Step(1.25, 10, 8)
	}
	p.Done()
	if out := bar.String(); !strings.Contains(out, "loss 1.2500") {
		t.Errorf("spinner output lacks the loss: %q", out)
	}
}

func TestNewProgressLogsWhenOutIsAFile(t *testing.T) {
	f, err := os.Create(t.TempDir() + "/out.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var logs bytes.Buffer
	p := NewProgress(f, slog.New(slog.NewJSONHandler(&logs, nil)), 1, 2)
	p.LogInterval = 0
	p.Step(1, 10, 4)
	p.Done()
	if info, err := f.Stat(); err != nil || info.Size() != 0 {
		t.Errorf("a bar was drawn into a plain file: %v, %v", info.Size(), err)
	}
	if lines := logLines(t, &logs); len(lines) != 1 {
		t.Errorf("%d log lines, want 1", len(lines))
	}
}

func TestProgressCutShortKeepsItsCount(t *testing.T) {
	var bar bytes.Buffer
	clock := &fakeClock{t: time.Unix(0, 0)}
	p := newProgress(&bar, nil, 5, 6, clock.now)
	for range 4 {
		clock.t = clock.t.Add(time.Second)
		p.Step(0.5, 80, 10)
	}
	p.Done()
	out := bar.String()
	if !strings.Contains(out, "(4/6)") || strings.Contains(out, "100%") ||
		!strings.Contains(out, "10.0 img/s") || !strings.HasSuffix(out, "\n") {
		t.Errorf("bar of an epoch stopped at step 4 of 6: %q", out)
	}
}
