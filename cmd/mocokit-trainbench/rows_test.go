package main

import (
	"reflect"
	"testing"

	"github.com/mocokit/mocokit/models"
)

// TestDefaultPlanCoversTheSpeedGoal checks that the default table has the
// rows the speed goal names: both stems at batch 32 and 128, both modes.
func TestDefaultPlanCoversTheSpeedGoal(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := plan(splitList(o.stems), splitList(o.modes), o.batches, o.steps)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range rows {
		keys = append(keys, r.key())
	}
	want := []string{"imagenet/32/train", "imagenet/32/infer", "imagenet/128/train",
		"imagenet/128/infer", "cifar/32/train", "cifar/32/infer", "cifar/128/train",
		"cifar/128/infer"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("rows %v, want %v", keys, want)
	}
	if rows[0].Steps != 3 || rows[4].Steps != 2 {
		t.Errorf("steps imagenet %d, cifar %d; want 3 and 2", rows[0].Steps, rows[4].Steps)
	}
	if o.Rounds != 2 || o.Backend != "go" || o.Python != "/usr/bin/python3" {
		t.Errorf("defaults: rounds %d, backend %q, python %q", o.Rounds, o.Backend, o.Python)
	}
}

func TestBatchesFlagReplacesDefaultThenAddsPerStem(t *testing.T) {
	o, err := parseFlags([]string{"--batches", "16,64", "--batches", "cifar=8",
		"--steps", "5", "--stems", "cifar,imagenet,cifar", "--modes", "infer"})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := plan(splitList(o.stems), splitList(o.modes), o.batches, o.steps)
	if err != nil {
		t.Fatal(err)
	}
	want := []row{
		{Stem: models.StemCIFAR, Batch: 8, Mode: modeInfer, Steps: 5},
		{Stem: models.StemImageNet, Batch: 16, Mode: modeInfer, Steps: 5},
		{Stem: models.StemImageNet, Batch: 64, Mode: modeInfer, Steps: 5},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows %+v, want %+v", rows, want)
	}
	if got := o.batches.String(); got != "16,64 cifar=8" {
		t.Errorf("String() = %q, want %q", got, "16,64 cifar=8")
	}
}

func TestFlagsRejectBadValues(t *testing.T) {
	for _, args := range [][]string{
		{"--batches", "0"},
		{"--batches", "resnet=32"},
		{"--batches", "32,x"},
		{"--rounds", "0"},
		{"--threads", "0"},
		{"extra"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}

func TestPlanRejectsUnknownStemModeAndSteps(t *testing.T) {
	batches, _ := newPerStem("32")
	steps, _ := newPerStem("imagenet=2")
	for _, c := range []struct{ stems, modes []string }{
		{[]string{"vit"}, []string{"train"}},
		{[]string{"imagenet"}, []string{"eval"}},
		{[]string{"cifar"}, []string{"train"}}, // no steps for cifar
		{nil, []string{"train"}},
	} {
		if _, err := plan(c.stems, c.modes, batches, steps); err == nil {
			t.Errorf("plan(%v, %v) accepted", c.stems, c.modes)
		}
	}
	multi, _ := newPerStem("2,3")
	if _, err := plan([]string{"imagenet"}, []string{"train"}, batches, multi); err == nil {
		t.Error("plan accepted two step counts for one stem")
	}
}

func TestRowKeyRoundTrips(t *testing.T) {
	r := row{Stem: models.StemCIFAR, Batch: 128, Mode: modeTrain}
	got, err := parseRowKey(r.key())
	if err != nil || got != r || r.key() != "cifar/128/train" {
		t.Errorf("key %q parsed to %+v, %v", r.key(), got, err)
	}
	for _, bad := range []string{"cifar/128", "cifar/-1/train", "cifar/8/eval", "x/8/train"} {
		if _, err := parseRowKey(bad); err == nil {
			t.Errorf("parseRowKey(%q) accepted", bad)
		}
	}
}
