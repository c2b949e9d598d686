package backend

import "testing"

// TestScratchReusesTheSmallestFit checks that scratch lends back a kept
// buffer, the smallest one that holds the request, and keeps at most
// scratchKept.
func TestScratchReusesTheSmallestFit(t *testing.T) {
	s := &scratch[float32]{}
	big, small := s.get(1000), s.get(100)
	s.put(big)
	s.put(small)
	if got := s.get(50); cap(got) != 100 || &got[0] != &small[0] {
		t.Errorf("get(50): cap %d, want the 100-value buffer", cap(got))
	}
	if got := s.get(500); cap(got) != 1000 || len(got) != 500 {
		t.Errorf("get(500): len %d cap %d, want the 1000-value buffer cut to 500",
			len(got), cap(got))
	}
	for i := range scratchKept + 3 {
		s.put(make([]float32, 10+i))
	}
	smallest := cap(s.free[0])
	for _, b := range s.free {
		smallest = min(smallest, cap(b))
	}
	if len(s.free) != scratchKept || smallest != 13 {
		t.Errorf("kept %d buffers, the smallest of cap %d; want %d, the 3 smallest dropped",
			len(s.free), smallest, scratchKept)
	}
}
