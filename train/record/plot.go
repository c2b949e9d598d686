package record

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Plot size: 800x900 pixels, the loss panel above the accuracy panel.
const (
	plotWidth  = 8 * vg.Inch
	plotHeight = 9 * vg.Inch
	plotDPI    = 100
)

// stepLossColor is light so that the noisy per-step curve stays behind the
// per-epoch means drawn over it.
var stepLossColor = color.RGBA{R: 150, G: 180, B: 220, A: 255}

// Plot draws the record as a PNG at path: the training loss against the
// epoch (each logged step loss and each epoch's mean) above the top-1
// accuracies against the epoch (train, test and every Extra metric). Epoch
// e's values sit at x = e, its step losses between e-1 and e. The file is
// written through a temporary one, as WriteJSON does.
func (r *Record) Plot(path string) error {
	if len(r.Epochs) == 0 && len(r.StepLoss) == 0 {
		return fmt.Errorf("record: plotting %s: nothing recorded", path)
	}
	loss, err := r.lossPlot()
	if err != nil {
		return fmt.Errorf("record: plotting %s: %w", path, err)
	}
	acc, err := r.accuracyPlot()
	if err != nil {
		return fmt.Errorf("record: plotting %s: %w", path, err)
	}
	img := vgimg.NewWith(vgimg.UseWH(plotWidth, plotHeight), vgimg.UseDPI(plotDPI))
	tiles := draw.Tiles{
		Rows: 2, Cols: 1, PadY: 8 * vg.Millimeter,
		PadTop: 4 * vg.Millimeter, PadBottom: 4 * vg.Millimeter,
		PadLeft: 4 * vg.Millimeter, PadRight: 6 * vg.Millimeter,
	}
	r.setEpochRange(loss)
	r.setEpochRange(acc)
	plots := [][]*plot.Plot{{loss}, {acc}}
	canvases := plot.Align(plots, tiles, draw.New(img))
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	return writeAtomic(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
		return err
	})
}

// title prefixes what with the run's name, when it has one.
func (r *Record) title(what string) string {
	if r.Name == "" {
		return what
	}
	return r.Name + ": " + what
}

// newPanel returns an empty plot with its title, axis labels and grid.
func newPanel(title, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = yLabel
	p.X.Tick.Marker = epochTicks{}
	p.Add(plotter.NewGrid())
	return p
}

// setEpochRange spans p from the start of training to the newest epoch
// either panel shows, so that the two panels line up.
func (r *Record) setEpochRange(p *plot.Plot) {
	last := r.lastEpoch()
	if n := len(r.StepLoss); n > 0 && r.StepLoss[n-1].Epoch > last {
		last = r.StepLoss[n-1].Epoch
	}
	p.X.Min, p.X.Max = 0, float64(last)
}

// lossPlot draws the step losses and the epoch means.
func (r *Record) lossPlot() (*plot.Plot, error) {
	p := newPanel(r.title("training loss"), "loss")
	p.Legend.Top = true
	if steps := r.stepLossXYs(); len(steps) > 0 {
		line, err := plotter.NewLine(steps)
		if err != nil {
			return nil, err
		}
		line.Color = stepLossColor
		p.Add(line)
		p.Legend.Add("logged steps", line)
	}
	means := r.epochXYs(func(e Epoch) float64 { return e.TrainLoss })
	if err := addSeries(p, "epoch mean", means, 0); err != nil {
		return nil, err
	}
	return p, nil
}

// accuracyPlot draws the train, test and Extra curves.
func (r *Record) accuracyPlot() (*plot.Plot, error) {
	p := newPanel(r.title("top-1 accuracy"), "accuracy (%)")
	series := []struct {
		name  string
		value func(Epoch) float64
	}{
		{"train", func(e Epoch) float64 { return e.TrainAcc }},
		{"test", func(e Epoch) float64 { return e.TestAcc }},
	}
	for _, name := range r.extraNames() {
		series = append(series, struct {
			name  string
			value func(Epoch) float64
		}{name, func(e Epoch) float64 { return extraValue(e, name) }})
	}
	for i, s := range series {
		if err := addSeries(p, s.name, r.epochXYs(s.value), i+1); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// addSeries adds a line with points in the i-th plotutil colour and shape,
// and its legend entry; a series with no finite value is left out.
func addSeries(p *plot.Plot, name string, xys plotter.XYs, i int) error {
	if len(xys) == 0 {
		return nil
	}
	line, points, err := plotter.NewLinePoints(xys)
	if err != nil {
		return fmt.Errorf("series %s: %w", name, err)
	}
	line.Color = plotutil.Color(i)
	line.Width = vg.Points(1.5)
	points.Color = plotutil.Color(i)
	points.Shape = plotutil.Shape(i)
	p.Add(line, points)
	p.Legend.Add(name, line, points)
	return nil
}

// epochXYs places value of each epoch at x = epoch, skipping NaN and
// infinities, which a plot cannot draw.
func (r *Record) epochXYs(value func(Epoch) float64) plotter.XYs {
	var xys plotter.XYs
	for _, e := range r.Epochs {
		if v := value(e); isFinite(v) {
			xys = append(xys, plotter.XY{X: float64(e.Epoch), Y: v})
		}
	}
	return xys
}

// extraValue is e's Extra metric name, NaN when e lacks it.
func extraValue(e Epoch, name string) float64 {
	if v, ok := e.Extra[name]; ok {
		return v
	}
	return math.NaN()
}

// stepLossXYs places each step loss of epoch e at e-1 plus the fraction of
// the epoch done. An epoch whose step count is unknown (still running, or
// read from the baseline's file) is taken to end one logging interval after
// its last logged step.
func (r *Record) stepLossXYs() plotter.XYs {
	steps := make(map[int]int)
	for _, e := range r.Epochs {
		steps[e.Epoch] = e.Steps
	}
	estimate := make(map[int]int)
	for i, s := range r.StepLoss {
		gap := s.Step
		if i > 0 && r.StepLoss[i-1].Epoch == s.Epoch {
			gap = s.Step - r.StepLoss[i-1].Step
		}
		estimate[s.Epoch] = s.Step + gap
	}
	var xys plotter.XYs
	for _, s := range r.StepLoss {
		n := steps[s.Epoch]
		if n < s.Step {
			n = estimate[s.Epoch]
		}
		if isFinite(s.Loss) {
			x := float64(s.Epoch-1) + float64(s.Step)/float64(n)
			xys = append(xys, plotter.XY{X: x, Y: s.Loss})
		}
	}
	return xys
}

// epochTicks marks whole epochs, at most about ten of them labelled, since
// gonum's default ticks fall on fractions such as 2.5 that no epoch has.
type epochTicks struct{}

// Ticks returns major ticks at multiples of 1, 2 or 5 times a power of ten
// and minor ticks at the epochs between them when there are few enough.
func (epochTicks) Ticks(min, max float64) []plot.Tick {
	step := 1.0
	for i := 0; (max-min)/step > 10; i++ {
		step *= []float64{2, 2.5, 2}[i%3] // 1, 2, 5, 10, 20, 50, ...
	}
	var ticks []plot.Tick
	for e := math.Ceil(min); e <= max; e++ {
		switch {
		case math.Mod(e, step) == 0:
			ticks = append(ticks, plot.Tick{Value: e, Label: strconv.Itoa(int(e))})
		case max-min <= 50:
			ticks = append(ticks, plot.Tick{Value: e})
		}
	}
	return ticks
}
