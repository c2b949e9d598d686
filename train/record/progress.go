package record

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// How often a Progress writes.
const (
	// DefaultLogInterval is the least time between two progress lines when
	// not on a terminal.
	DefaultLogInterval = 30 * time.Second
	// barThrottle bounds how often the bar redraws, since a fast model
	// steps far more often than a person can read.
	barThrottle = 100 * time.Millisecond
)

// Progress reports the steps of one epoch as they run: on a terminal as a
// progress bar showing the epoch's mean loss and accuracy so far and the
// images per second; elsewhere (a log file, a pipe) as a slog line every
// LogInterval or every LogSteps steps. It also keeps the epoch's running
// means for the caller's record. A Progress is not safe for concurrent use.
type Progress struct {
	// LogInterval is the least time between two progress lines when not on
	// a terminal; 0 or less logs every step.
	LogInterval time.Duration
	// LogSteps, when positive, also logs a line every LogSteps steps.
	LogSteps int

	logger *slog.Logger
	bar    *progressbar.ProgressBar
	epoch  int
	steps  int

	step    int
	images  int
	lossSum float64 // loss times images, summed
	accSum  float64 // accuracy times images, summed
	start   time.Time
	lastLog time.Time
	now     func() time.Time

	barSteps int // steps not yet shown on the bar
	lastDraw time.Time
}

// NewProgress starts reporting epoch, which will take steps steps (0 or
// less if unknown). It draws a bar on out when out is a terminal and logs
// to logger (slog.Default() when nil) otherwise.
func NewProgress(out *os.File, logger *slog.Logger, epoch, steps int) *Progress {
	var w io.Writer
	if out != nil && term.IsTerminal(int(out.Fd())) {
		w = out
	}
	return newProgress(w, logger, epoch, steps, time.Now)
}

// newProgress draws a bar on bar when it is not nil and logs otherwise;
// now is the clock.
func newProgress(bar io.Writer, logger *slog.Logger, epoch, steps int,
	now func() time.Time) *Progress {
	if logger == nil {
		logger = slog.Default()
	}
	p := &Progress{
		LogInterval: DefaultLogInterval,
		logger:      logger, epoch: epoch, steps: steps, now: now,
	}
	p.start = now()
	p.lastLog = p.start
	if bar != nil {
		total := steps
		if total <= 0 {
			total = -1 // the bar's spinner for an unknown length
		}
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(bar),
			progressbar.OptionSetDescription(fmt.Sprintf("epoch %d", epoch)),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(bar) }),
		)
	}
	return p
}

// Step reports one finished step: its batch's mean loss, its top-1
// accuracy in percent, and the number of images in the batch. The epoch's
// means weigh each batch by its images, so a short last batch counts less.
func (p *Progress) Step(loss, acc float64, images int) {
	p.step++
	p.images += images
	p.lossSum += loss * float64(images)
	p.accSum += acc * float64(images)
	now := p.now()
	if p.bar != nil {
		p.barSteps++
		if now.Sub(p.lastDraw) >= barThrottle || p.step == p.steps {
			p.draw(now)
		}
		return
	}
	due := now.Sub(p.lastLog) >= p.LogInterval
	if p.LogSteps > 0 && p.step%p.LogSteps == 0 {
		due = true
	}
	if due {
		p.lastLog = now
		p.logger.Info("training", "epoch", p.epoch, "step", p.step, "steps", p.steps,
			"loss", p.Loss(), "acc", p.Acc(), "images_per_s", p.ImagesPerSecond())
	}
}

// draw brings the bar up to date. The bar redraws on each call, so both
// calls wait until a redraw is due: the library's own throttle would drop
// the second of them and leave the count one step behind, which on a model
// that takes seconds a step shows for seconds.
func (p *Progress) draw(now time.Time) {
	p.lastDraw = now
	// The bar is a display; failing to draw it must not stop training.
	p.bar.Describe(fmt.Sprintf("epoch %d loss %.4f acc %.2f%% %.1f img/s",
		p.epoch, p.Loss(), p.Acc(), p.ImagesPerSecond()))
	_ = p.bar.Add(p.barSteps)
	p.barSteps = 0
}

// Done ends the epoch's report: it completes the bar and ends its line.
// When logging it writes nothing, as the caller logs the finished epoch.
func (p *Progress) Done() {
	if p.bar == nil || p.bar.IsFinished() {
		return
	}
	if p.barSteps > 0 {
		p.draw(p.now())
	}
	if p.steps > 0 && p.step < p.steps {
		// An epoch cut short keeps its count rather than a full bar.
		_ = p.bar.Exit()
		return
	}
	_ = p.bar.Finish()
}

// Steps is the number of steps reported so far.
func (p *Progress) Steps() int { return p.step }

// Images is the number of images reported so far.
func (p *Progress) Images() int { return p.images }

// Loss is the epoch's mean loss so far, weighted by images; NaN before the
// first image.
func (p *Progress) Loss() float64 { return p.lossSum / float64(p.images) }

// Acc is the epoch's top-1 accuracy so far in percent; NaN before the first
// image.
func (p *Progress) Acc() float64 { return p.accSum / float64(p.images) }

// Elapsed is the time since the epoch's report began.
func (p *Progress) Elapsed() time.Duration { return p.now().Sub(p.start) }

// ImagesPerSecond is the epoch's throughput so far; 0 before any time has
// passed.
func (p *Progress) ImagesPerSecond() float64 {
	s := p.Elapsed().Seconds()
	if s <= 0 {
		return 0
	}
	return float64(p.images) / s
}
