package backend

import "sync"

// scratchKept is how many buffers of each type scratch keeps.
const scratchKept = 8

// scratchLargest is the most values of a buffer scratch keeps: 16 MiB of
// float32, four patch blocks (chunkValues).
const scratchLargest = 4 << 20

// scratch keeps the temporary buffers of native steps (patch matrices,
// product blocks) between calls: a training step makes hundreds, mostly of
// a few MiB, which Go would otherwise zero when it allocates them and then
// collect. Buffers larger than scratchLargest values are not kept. Buffers
// come back as they were left: every user writes a buffer whole before it
// reads it.
type scratch[T float32 | float64] struct {
	mu   sync.Mutex
	free [][]T
}

var (
	scratch32 scratch[float32]
	scratch64 scratch[float64]
)

// borrow returns a buffer of n values, not zeroed.
func borrow[T float32 | float64](n int) []T {
	return scratchOf[T]().get(n)
}

// giveBack returns a buffer from borrow for later calls.
func giveBack[T float32 | float64](buf []T) {
	scratchOf[T]().put(buf)
}

func scratchOf[T float32 | float64]() *scratch[T] {
	var zero T
	switch any(zero).(type) {
	case float32:
		return any(&scratch32).(*scratch[T])
	default:
		return any(&scratch64).(*scratch[T])
	}
}

// get takes the smallest kept buffer that holds n values, or makes one.
func (s *scratch[T]) get(n int) []T {
	s.mu.Lock()
	best := -1
	for i, b := range s.free {
		if cap(b) >= n && (best < 0 || cap(b) < cap(s.free[best])) {
			best = i
		}
	}
	if best >= 0 {
		b := s.free[best]
		s.free = append(s.free[:best], s.free[best+1:]...)
		s.mu.Unlock()
		return b[:n]
	}
	s.mu.Unlock()
	return make([]T, n)
}

// put keeps buf, dropping the smallest kept buffer beyond scratchKept.
func (s *scratch[T]) put(buf []T) {
	if cap(buf) == 0 || cap(buf) > scratchLargest {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free = append(s.free, buf)
	if len(s.free) > scratchKept {
		small := 0
		for i, b := range s.free {
			if cap(b) < cap(s.free[small]) {
				small = i
			}
		}
		s.free = append(s.free[:small], s.free[small+1:]...)
	}
}
