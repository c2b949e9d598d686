package loader

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"

	"github.com/mocokit/mocokit/augment"
)

// pending is a batch being filled by the workers.
type pending struct {
	batch Batch
	left  atomic.Int64  // samples still to fill
	done  chan struct{} // closed when left reaches zero

	mu  sync.Mutex
	err error // the first sample's failure
}

// task is one sample of a pending batch: its position in the batch.
type task struct {
	p   *pending
	pos int
}

// Epoch returns the batches of epoch in order; epochs are numbered by the
// caller (from 0 or 1, as long as it is consistent). Workers prepare up
// to Prefetch batches ahead of the loop. A failure ends the sequence with
// the error; so does ctx's cancellation, with ctx.Err(). Breaking out of
// the loop or a cancellation stops the workers, and the loop returns only
// once they have exited. A Batch's arrays are the consumer's to keep.
func (l *Loader) Epoch(ctx context.Context, epoch int) iter.Seq2[Batch, error] {
	return func(yield func(Batch, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		// Deferred calls run last first: cancel, then wait for exits.
		defer wg.Wait()
		defer cancel()

		ready := make(chan *pending, l.cfg.Prefetch)
		tasks := make(chan task, l.cfg.BatchSize)
		wg.Go(func() { l.dispatch(ctx, epoch, ready, tasks) })
		for range l.cfg.Workers {
			wg.Go(func() { l.work(ctx, epoch, tasks) })
		}
		for p := range ready {
			select {
			case <-p.done:
			case <-ctx.Done():
				yield(Batch{}, ctx.Err())
				return
			}
			if p.err != nil {
				yield(Batch{}, p.err)
				return
			}
			if !yield(p.batch, nil) {
				return
			}
		}
		// The dispatcher stops early only when ctx is cancelled.
		if err := ctx.Err(); err != nil {
			yield(Batch{}, err)
		}
	}
}

// dispatch hands out the batches of epoch in order: each goes to ready
// (which holds at most Prefetch), then its samples go to the workers.
func (l *Loader) dispatch(ctx context.Context, epoch int, ready chan<- *pending,
	tasks chan<- task) {
	defer close(ready)
	defer close(tasks)
	order := l.order(epoch)
	bs := l.cfg.BatchSize
	for step := range l.StepsPerEpoch() {
		p := l.newPending(order[step*bs : min((step+1)*bs, len(order))])
		select {
		case ready <- p:
		case <-ctx.Done():
			return
		}
		for pos := range p.batch.Indices {
			select {
			case tasks <- task{p, pos}:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (l *Loader) newPending(indices []int) *pending {
	n, side := len(indices), l.cfg.Size
	p := &pending{done: make(chan struct{})}
	p.batch = Batch{Views: make([][]float32, l.cfg.Views), Labels: make([]int32, n),
		Indices: append([]int(nil), indices...), Size: side}
	for v := range p.batch.Views {
		p.batch.Views[v] = make([]float32, n*3*side*side)
	}
	for pos, i := range indices {
		p.batch.Labels[pos] = int32(l.ds.Samples[i].Label)
	}
	p.left.Store(int64(n))
	return p
}

// work fills samples until the tasks run out or ctx is cancelled.
func (l *Loader) work(ctx context.Context, epoch int, tasks <-chan task) {
	for {
		select {
		case <-ctx.Done():
			return
		case t, ok := <-tasks:
			if !ok {
				return
			}
			if err := l.fill(epoch, t.p, t.pos); err != nil {
				t.p.mu.Lock()
				if t.p.err == nil {
					t.p.err = err
				}
				t.p.mu.Unlock()
			}
			if t.p.left.Add(-1) == 0 {
				close(t.p.done)
			}
		}
	}
}

// fill augments every view of one sample into its place in the batch.
func (l *Loader) fill(epoch int, p *pending, pos int) error {
	i := p.batch.Indices[pos]
	s := l.ds.Samples[i]
	if s.Image == nil {
		return fmt.Errorf("loader: sample %d (%s) has no image", i, s.Name)
	}
	img := asNRGBA(s.Image)
	side := l.cfg.Size
	per := 3 * side * side
	for v, dst := range p.batch.Views {
		out := img
		if l.cfg.Transform != nil {
			var err error
			out, err = l.cfg.Transform.Apply(img, augmentRNG(l.cfg.Seed, epoch, i, v))
			if err != nil {
				return fmt.Errorf("loader: sample %d (%s): %w", i, s.Name, err)
			}
		}
		if b := out.Bounds(); b.Dx() != side || b.Dy() != side {
			return fmt.Errorf("loader: sample %d (%s) came out %dx%d, want %dx%d",
				i, s.Name, b.Dx(), b.Dy(), side, side)
		}
		err := augment.ToTensor(out, l.cfg.Mean, l.cfg.Std, dst[pos*per:(pos+1)*per])
		if err != nil {
			return fmt.Errorf("loader: sample %d (%s): %w", i, s.Name, err)
		}
	}
	return nil
}
