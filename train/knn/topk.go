package knn

import (
	"math"
	"runtime"
	"sync"
)

// voter turns rows of similarities into class scores.
type voter struct {
	k       int
	t       float64
	classes int
	labels  []int32
	emit    emitFunc
}

// rows votes on a [rows, nBank] similarity matrix, spreading the rows over
// the cores; row r of it is test row start+r.
func (v *voter) rows(sims []float32, rows, nBank, start int) {
	workers := min(runtime.GOMAXPROCS(0), rows)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nearest := make(neighbours, 0, v.k)
			scores := make([]float64, v.classes)
			for r := w; r < rows; r += workers {
				nearest = nearest.top(sims[r*nBank:(r+1)*nBank], v.k)
				v.score(nearest, scores)
				v.emit(start+r, scores)
			}
		}()
	}
	wg.Wait()
}

// score sums exp((sim - top) / t) per class over the nearest neighbours.
func (v *voter) score(nearest neighbours, scores []float64) {
	clear(scores)
	top := math.Inf(-1)
	for _, n := range nearest {
		top = max(top, float64(n.sim))
	}
	for _, n := range nearest {
		scores[v.labels[n.index]] += math.Exp((float64(n.sim) - top) / v.t)
	}
}

// neighbour is one bank row and its similarity to the test row.
type neighbour struct {
	sim   float32
	index int32
}

// neighbours is a min-heap on similarity: its root is the weakest of the
// k kept so far, the one a more similar bank row replaces.
type neighbours []neighbour

// top returns the k rows of sims with the largest values, in no particular
// order, reusing h's storage. A partial selection: a bank row costs one
// comparison unless it beats the weakest kept, which in a bank of n rows in
// no particular order happens about k ln(n/k) times, so the cost is close to
// n comparisons (n log k at worst) instead of a sort's n log n. On equal
// similarities the earlier bank row stays.
func (h neighbours) top(sims []float32, k int) neighbours {
	h = h[:0]
	for i, s := range sims[:k] {
		h = append(h, neighbour{sim: s, index: int32(i)})
	}
	for i := k/2 - 1; i >= 0; i-- {
		h.down(i)
	}
	for i := k; i < len(sims); i++ {
		if s := sims[i]; s > h[0].sim {
			h[0] = neighbour{sim: s, index: int32(i)}
			h.down(0)
		}
	}
	return h
}

// down restores the heap order below i.
func (h neighbours) down(i int) {
	for {
		least := i
		if l := 2*i + 1; l < len(h) && h.less(l, least) {
			least = l
		}
		if r := 2*i + 2; r < len(h) && h.less(r, least) {
			least = r
		}
		if least == i {
			return
		}
		h[i], h[least] = h[least], h[i]
		i = least
	}
}

// less orders by similarity, and among equals puts the later bank row
// nearer the root, so that it is the one replaced.
func (h neighbours) less(a, b int) bool {
	if h[a].sim != h[b].sim {
		return h[a].sim < h[b].sim
	}
	return h[a].index > h[b].index
}
