package train

import (
	"math"
	"testing"
)

func TestSchedules(t *testing.T) {
	cases := []struct {
		text  string
		epoch int
		want  float64
	}{
		{"step:2:0.8", 0, 0.005}, {"step:2:0.8", 1, 0.005}, {"step:2:0.8", 2, 0.004},
		{"step:2:0.8", 5, 0.005 * 0.64},
		{"multistep:120,160:0.1", 119, 0.005}, {"multistep:120,160:0.1", 120, 0.0005},
		{"multistep:120,160:0.1", 199, 0.005 * 0.01},
		{"cosine", 0, 0.005}, {"cosine", 100, 0.0025}, {"constant", 7, 0.005},
	}
	for _, c := range cases {
		s, err := ParseSchedule(c.text)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.LR(0.005, c.epoch, 200); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s epoch %d: lr %g, want %g", c.text, c.epoch, got, c.want)
		}
		if s.String() != c.text {
			t.Errorf("%s prints as %s", c.text, s)
		}
	}
	for _, bad := range []string{"", "linear", "step:0:0.5", "step:2", "multistep:a:0.1",
		"cosine:3", "step:2:-1"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q) accepted", bad)
		}
	}
}
