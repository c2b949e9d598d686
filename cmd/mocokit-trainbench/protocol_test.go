package main

import (
	"bytes"
	"strings"
	"testing"
)

// answer is a line as scripts/bench_train.py prints it.
const answer = `{"row": "imagenet/32/train", "steps": 3, "images": 96, ` +
	`"seconds": 0.12, "peak_rss_bytes": 459927552, "version": "1.13.0a0"}`

func TestParseReplyReadsPythonAnswer(t *testing.T) {
	r, err := parseReply([]byte(answer+"\n"), "imagenet/32/train")
	if err != nil {
		t.Fatal(err)
	}
	if r.Steps != 3 || r.Images != 96 || r.PeakRSSBytes != 459927552 ||
		r.Version != "1.13.0a0" {
		t.Errorf("parsed %+v", r)
	}
	if got := r.imagesPerS(); got < 799.99 || got > 800.01 {
		t.Errorf("images/s %v, want 800", got)
	}
}

func TestParseReplyRejectsFailuresAndMismatches(t *testing.T) {
	cases := map[string]string{
		`{"error": "ValueError: bad row"}`: "ValueError: bad row",
		answer:                             `asked for "cifar/32/train"`,
		`{"row": "cifar/32/train", "steps": 0, "images": 0, "seconds": 1}`:  "no measurement",
		`{"row": "cifar/32/train", "steps": 1, "images": 32, "seconds": 0}`: "no measurement",
		`Traceback (most recent call last):`:                                "not JSON",
	}
	for line, want := range cases {
		_, err := parseReply([]byte(line), "cifar/32/train")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseReply(%s): error %v, want one containing %q", line, err, want)
		}
	}
}

func TestParseCommand(t *testing.T) {
	c, err := parseCommand("run cifar/32/infer 2")
	if err != nil || c.Verb != "run" || c.Steps != 2 || c.Row.key() != "cifar/32/infer" {
		t.Errorf("run: %+v, %v", c, err)
	}
	c, err = parseCommand("warm imagenet/8/train")
	if err != nil || c.Verb != "warm" || c.Steps != 1 || c.Row.Batch != 8 {
		t.Errorf("warm: %+v, %v", c, err)
	}
	for _, bad := range []string{"run cifar/32/infer", "run cifar/32/infer 0", "stop",
		"warm cifar/32"} {
		if _, err := parseCommand(bad); err == nil {
			t.Errorf("parseCommand(%q) accepted", bad)
		}
	}
}

func TestServeCommandsAnswersEachLineUntilQuit(t *testing.T) {
	in := strings.NewReader("warm imagenet/4/train\n\nrun cifar/2/infer 3\nnonsense\n" +
		"quit\nrun cifar/2/infer 1\n")
	var out bytes.Buffer
	var seen []string
	err := serveCommands(in, &out, func(c command) reply {
		seen = append(seen, c.Verb+" "+c.Row.key())
		return reply{Row: c.Row.key(), Steps: c.Steps, Images: c.Steps * c.Row.Batch,
			Seconds: 0.5, PeakRSSBytes: 1 << 20}
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(seen, ";") != "warm imagenet/4/train;run cifar/2/infer" {
		t.Errorf("ran %q", seen)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("answers %q, want 3 lines", lines)
	}
	r, err := parseReply([]byte(lines[1]), "cifar/2/infer")
	if err != nil || r.Images != 6 || r.imagesPerS() != 12 || r.PeakRSSBytes != 1<<20 {
		t.Errorf("second answer %+v, %v", r, err)
	}
	if !strings.Contains(lines[2], `"error":"command \"nonsense\"`) {
		t.Errorf("third answer %s, want an error naming the command", lines[2])
	}
	if !strings.Contains(lines[2], `"peak_rss_bytes":`) ||
		strings.Contains(lines[2], `"peak_rss_bytes":0`) {
		t.Errorf("error answer %s lacks this process's peak RSS", lines[2])
	}
}

func TestParseVmHWM(t *testing.T) {
	status := "Name:\tpython3\nVmPeak:\t 2193420 kB\nVmHWM:\t  549028 kB\nVmRSS:\t  1 kB\n"
	got, err := parseVmHWM(status)
	if err != nil || got != 549028*1024 {
		t.Errorf("parseVmHWM = %d, %v; want %d", got, err, 549028*1024)
	}
	if _, err := parseVmHWM("Name:\tx\n"); err == nil {
		t.Error("status without VmHWM accepted")
	}
	if _, err := parseVmHWM("VmHWM:\t 12 MB\n"); err == nil {
		t.Error("VmHWM in MB accepted")
	}
	own, err := peakRSS()
	if err != nil || own < 1<<20 {
		t.Errorf("this process's peak RSS %d, %v; want at least 1 MiB", own, err)
	}
}
