package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mocokit/mocokit/models"
)

// Modes of a row: a training step or an eval-mode forward pass.
const (
	modeTrain = "train"
	modeInfer = "infer"
)

// row is one line of the table: a network stem, a batch size and a mode.
// Its key, "stem/batch/mode", is how the two workers are told what to run.
type row struct {
	Stem  models.Stem
	Batch int
	Mode  string
	Steps int // timed steps per measurement
}

// key is the row as the worker protocol names it, e.g. "imagenet/32/train".
func (r row) key() string { return fmt.Sprintf("%s/%d/%s", r.Stem, r.Batch, r.Mode) }

// parseRowKey reads a key written by row.key; Steps is left zero.
func parseRowKey(key string) (row, error) {
	parts := strings.Split(key, "/")
	if len(parts) != 3 {
		return row{}, fmt.Errorf("row %q: want stem/batch/mode", key)
	}
	stem, err := parseStem(parts[0])
	if err != nil {
		return row{}, fmt.Errorf("row %q: %w", key, err)
	}
	batch, err := strconv.Atoi(parts[1])
	if err != nil || batch < 1 {
		return row{}, fmt.Errorf("row %q: batch %q is not a positive integer", key, parts[1])
	}
	if err := checkMode(parts[2]); err != nil {
		return row{}, fmt.Errorf("row %q: %w", key, err)
	}
	return row{Stem: stem, Batch: batch, Mode: parts[2]}, nil
}

func parseStem(s string) (models.Stem, error) {
	switch st := models.Stem(s); st {
	case models.StemImageNet, models.StemCIFAR:
		return st, nil
	}
	return "", fmt.Errorf("stem %q: want %s or %s", s, models.StemImageNet, models.StemCIFAR)
}

func checkMode(m string) error {
	if m != modeTrain && m != modeInfer {
		return fmt.Errorf("mode %q: want %s or %s", m, modeTrain, modeInfer)
	}
	return nil
}

// perStem is a flag holding positive integers for every stem, or for one
// stem at a time: "32,128" sets them for all stems, "cifar=32" for one. The
// flag may be repeated; the first use replaces the default.
type perStem struct {
	all    []int
	byStem map[models.Stem][]int
	set    bool
}

// newPerStem returns a perStem holding def, parsed as by Set.
func newPerStem(def ...string) (*perStem, error) {
	p := &perStem{}
	for _, d := range def {
		if err := p.parse(d); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// String writes the values back in the form Set reads.
func (p *perStem) String() string {
	if p == nil {
		return ""
	}
	var parts []string
	if p.all != nil {
		parts = append(parts, joinInts(p.all))
	}
	for _, s := range []models.Stem{models.StemImageNet, models.StemCIFAR} {
		if v, ok := p.byStem[s]; ok {
			parts = append(parts, string(s)+"="+joinInts(v))
		}
	}
	return strings.Join(parts, " ")
}

// Set parses one use of the flag.
func (p *perStem) Set(s string) error {
	if !p.set {
		*p = perStem{set: true}
	}
	return p.parse(s)
}

func (p *perStem) parse(s string) error {
	name, list, found := strings.Cut(s, "=")
	if !found {
		list = s
	}
	vals, err := parseInts(list)
	if err != nil {
		return err
	}
	if !found {
		p.all = vals
		return nil
	}
	stem, err := parseStem(name)
	if err != nil {
		return err
	}
	if p.byStem == nil {
		p.byStem = map[models.Stem][]int{}
	}
	p.byStem[stem] = vals
	return nil
}

// get returns the values for stem: its own, else those for all stems.
func (p *perStem) get(stem models.Stem) ([]int, error) {
	if v, ok := p.byStem[stem]; ok {
		return v, nil
	}
	if p.all != nil {
		return p.all, nil
	}
	return nil, fmt.Errorf("no value given for stem %s", stem)
}

func parseInts(list string) ([]int, error) {
	var vals []int
	for _, f := range strings.Split(list, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%q: want positive integers separated by commas", list)
		}
		vals = append(vals, v)
	}
	return vals, nil
}

func joinInts(vals []int) string {
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

// plan lists the rows to measure, stems outermost, then batch sizes, then
// modes, in the order given. steps must hold a single value per stem.
func plan(stems, modes []string, batches, steps *perStem) ([]row, error) {
	var rows []row
	for _, s := range stems {
		stem, err := parseStem(s)
		if err != nil {
			return nil, err
		}
		bs, err := batches.get(stem)
		if err != nil {
			return nil, fmt.Errorf("--batches: %w", err)
		}
		st, err := steps.get(stem)
		if err != nil || len(st) != 1 {
			return nil, fmt.Errorf("--steps: want one number for stem %s", stem)
		}
		for _, b := range bs {
			for _, m := range modes {
				if err := checkMode(m); err != nil {
					return nil, err
				}
				rows = append(rows, row{Stem: stem, Batch: b, Mode: m, Steps: st[0]})
			}
		}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("nothing to measure: no stems or no modes")
	}
	return rows, nil
}

// splitList splits a comma-separated flag value, dropping empty items and
// repeats.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}
