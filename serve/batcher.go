package serve

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// runner is what a batcher runs: an inference.Session, or a stand-in in
// tests.
type runner interface {
	Run(input []float32, batch int) ([]float32, error)
	InputLen() int
	OutputDim() int
}

// batcher gathers the preprocessed images of concurrent requests into one
// onnxruntime run: a run of 32 images costs far less than 32 runs of one,
// because the convolutions' matrix products get wider. A single worker
// takes the first waiting image, then more until the batch is full or
// maxWait has passed, runs them and answers each image's request.
//
// The queue is bounded in images; a request that would overflow it is
// refused at once (429) rather than left to time out.
type batcher struct {
	model    string
	run      runner
	maxBatch int
	maxWait  time.Duration
	maxQueue int
	timeout  time.Duration // the request timeout, for messages
	metrics  *metrics

	mu     sync.RWMutex // held to send, and exclusively to close the queue
	closed bool
	queue  chan *job
	queued atomic.Int64 // images admitted and not yet taken by the worker
	// arriving counts requests still being read and decoded: the worker
	// waits for them only while there are some, so that a lone request
	// is not held back by maxWait.
	arriving atomic.Int64
	done     chan struct{}

	// beforeRun, when set (by tests), is called with each batch's size
	// before it runs.
	beforeRun func(n int)
}

// job is one image and, once done is closed, its output.
type job struct {
	ctx  context.Context
	x    []float32
	out  []float32
	err  error
	done chan struct{}
}

func newBatcher(model string, r runner, cfg Config, m *metrics) *batcher {
	b := &batcher{model: model, run: r, maxBatch: cfg.MaxBatch, maxWait: cfg.MaxWait,
		maxQueue: cfg.MaxQueue, timeout: cfg.RequestTimeout, metrics: m,
		queue: make(chan *job, cfg.MaxQueue), done: make(chan struct{})}
	go b.work()
	return b
}

// announce tells the worker that a request is on its way. The returned
// function withdraws it; it may be called more than once.
func (b *batcher) announce() func() {
	b.arriving.Add(1)
	var once sync.Once
	return func() { once.Do(func() { b.arriving.Add(-1) }) }
}

// submit queues the images of one request and waits for their outputs.
func (b *batcher) submit(ctx context.Context, xs [][]float32) ([][]float32, error) {
	jobs, err := b.enqueue(ctx, xs)
	if err != nil {
		return nil, err
	}
	outs := make([][]float32, len(jobs))
	for i, j := range jobs {
		select {
		case <-j.done:
		case <-ctx.Done():
			return nil, contextError(ctx, b.timeout)
		}
		if j.err != nil {
			return nil, j.err
		}
		outs[i] = j.out
	}
	return outs, nil
}

// enqueue admits all of a request's images or none of them.
func (b *batcher) enqueue(ctx context.Context, xs [][]float32) ([]*job, error) {
	n := int64(len(xs))
	if n > int64(b.maxQueue) {
		return nil, errorf(http.StatusRequestEntityTooLarge, "%d images in one request, "+
			"more than the queue holds (%d); send them in smaller requests", n, b.maxQueue)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return nil, retryLater(http.StatusServiceUnavailable, "the server is shutting down")
	}
	for {
		q := b.queued.Load()
		if q+n > int64(b.maxQueue) {
			b.metrics.rejected.WithLabelValues(b.model).Inc()
			return nil, retryLater(http.StatusTooManyRequests, "the queue of model %q "+
				"is full (%d images waiting, limit %d)", b.model, q, b.maxQueue)
		}
		if b.queued.CompareAndSwap(q, q+n) {
			break
		}
	}
	b.metrics.queueLength.WithLabelValues(b.model).Add(float64(n))
	jobs := make([]*job, len(xs))
	for i, x := range xs {
		jobs[i] = &job{ctx: ctx, x: x, done: make(chan struct{})}
		b.queue <- jobs[i] // never blocks: the channel holds maxQueue
	}
	return jobs, nil
}

// close stops taking images and waits until the queued ones are answered.
func (b *batcher) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	<-b.done
}

func (b *batcher) work() {
	defer close(b.done)
	buf := make([]float32, 0, b.maxBatch*b.run.InputLen())
	for first := range b.queue {
		b.taken()
		b.runBatch(b.gather(first), buf)
	}
}

func (b *batcher) taken() {
	b.queued.Add(-1)
	b.metrics.queueLength.WithLabelValues(b.model).Dec()
}

// gather adds waiting images to first's batch: all that are queued, then,
// while requests are still arriving, those that come within maxWait.
func (b *batcher) gather(first *job) []*job {
	batch := []*job{first}
	var timeout <-chan time.Time
	for len(batch) < b.maxBatch {
		select {
		case j, ok := <-b.queue:
			if !ok {
				return batch
			}
			b.taken()
			batch = append(batch, j)
			continue
		default:
		}
		if b.arriving.Load() == 0 || b.maxWait == 0 {
			return batch
		}
		if timeout == nil {
			t := time.NewTimer(b.maxWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case j, ok := <-b.queue:
			if !ok {
				return batch
			}
			b.taken()
			batch = append(batch, j)
		case <-timeout:
			return batch
		}
	}
	return batch
}

// runBatch runs the images whose requests still wait and answers them.
func (b *batcher) runBatch(batch []*job, buf []float32) {
	live := batch[:0]
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			j.err = contextError(j.ctx, b.timeout)
			close(j.done)
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	if b.beforeRun != nil {
		b.beforeRun(len(live))
	}
	x := buf[:0]
	for _, j := range live {
		x = append(x, j.x...)
	}
	start := time.Now()
	out, err := b.run.Run(x, len(live))
	b.metrics.observeBatch(b.model, len(live), time.Since(start))
	d := b.run.OutputDim()
	for i, j := range live {
		if err != nil {
			j.err = err
		} else {
			j.out = out[i*d : (i+1)*d : (i+1)*d]
		}
		close(j.done)
	}
}

// contextError is the answer to a request whose context ended: its time
// ran out, or its client went away (nginx's 499, seen only in metrics).
func contextError(ctx context.Context, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return retryLater(http.StatusServiceUnavailable, "no answer within the request "+
			"timeout of %v: the server is overloaded", timeout)
	}
	return errorf(statusClientClosed, "the client closed the request")
}

// statusClientClosed is the status recorded for requests whose client left.
const statusClientClosed = 499
