package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
)

// baselineLossEvery is how many steps of an epoch the PyTorch baseline
// averaged before logging each train_loss entry.
const baselineLossEvery = 200

// number is a float64 that JSON, which has no NaN or infinity, stores as
// null when it is not finite; null reads back as NaN.
type number float64

// MarshalJSON writes n as a JSON number, or null when n is not finite.
func (n number) MarshalJSON() ([]byte, error) {
	if !isFinite(float64(n)) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(n))
}

// UnmarshalJSON reads a JSON number, or null as NaN.
func (n *number) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = number(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = number(f)
	return nil
}

// fileJSON is the record file as it is read. The first four keys are the
// baseline's loss_and_time.json verbatim, so scripts that plot that file
// read this one; the epochs and step_loss lists carry everything and are
// what a record is read from. Pointers tell a key left out from an empty
// list, which tells the two kinds of file apart.
type fileJSON struct {
	TestAcc   *[]number  `json:"test_acc"`
	TrainAcc  *[]number  `json:"train_acc"`
	TrainLoss *[]number  `json:"train_loss"`
	TrainTime *[]number  `json:"train_time"`
	Name      string     `json:"name,omitempty"`
	Epochs    *[]epochJS `json:"epochs"`
	StepLoss  []stepJS   `json:"step_loss"`
}

// epochJS is an Epoch in the file.
type epochJS struct {
	Epoch     int               `json:"epoch"`
	Steps     int               `json:"steps"`
	LR        number            `json:"lr"`
	TrainLoss number            `json:"train_loss"`
	TrainAcc  number            `json:"train_acc"`
	TestAcc   number            `json:"test_acc"`
	Seconds   number            `json:"seconds"`
	Extra     map[string]number `json:"extra,omitempty"`
}

// stepJS is a StepLoss in the file.
type stepJS struct {
	Epoch int    `json:"epoch"`
	Step  int    `json:"step"`
	Loss  number `json:"loss"`
}

// MarshalJSON writes lt with the baseline's four keys; a metric that was
// not measured (NaN) is null.
func (lt LossAndTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		TestAcc   []number `json:"test_acc"`
		TrainAcc  []number `json:"train_acc"`
		TrainLoss []number `json:"train_loss"`
		TrainTime []number `json:"train_time"`
	}{numbers(lt.TestAcc), numbers(lt.TrainAcc), numbers(lt.TrainLoss), numbers(lt.TrainTime)})
}

// MarshalJSON writes the record file: the baseline's four keys followed by
// the full history, one list or one entry a line so that the file reads
// and diffs well.
func (r *Record) MarshalJSON() ([]byte, error) {
	lt := r.LossAndTime()
	var w jsonLines
	w.buf.WriteString("{\n")
	w.field("test_acc", numbers(lt.TestAcc))
	w.field("train_acc", numbers(lt.TrainAcc))
	w.field("train_loss", numbers(lt.TrainLoss))
	w.field("train_time", numbers(lt.TrainTime))
	if r.Name != "" {
		w.field("name", r.Name)
	}
	epochs := make([]any, len(r.Epochs))
	for i, e := range r.Epochs {
		epochs[i] = toEpochJS(e)
	}
	w.list("epochs", epochs)
	steps := make([]any, len(r.StepLoss))
	for i, s := range r.StepLoss {
		steps[i] = stepJS{Epoch: s.Epoch, Step: s.Step, Loss: number(s.Loss)}
	}
	w.list("step_loss", steps)
	w.buf.WriteString("\n}")
	return w.buf.Bytes(), w.err
}

// jsonLines writes a JSON object one field a line, keeping the first error.
type jsonLines struct {
	buf    bytes.Buffer
	fields int
	err    error
}

// key starts a field.
func (w *jsonLines) key(k string) {
	if w.fields > 0 {
		w.buf.WriteString(",\n")
	}
	w.fields++
	fmt.Fprintf(&w.buf, "  %q: ", k)
}

// value writes v compactly.
func (w *jsonLines) value(v any) {
	b, err := json.Marshal(v)
	if err != nil && w.err == nil {
		w.err = err
	}
	w.buf.Write(b)
}

// field writes k and v on one line.
func (w *jsonLines) field(k string, v any) {
	w.key(k)
	w.value(v)
}

// list writes k and then each item of vs on a line of its own.
func (w *jsonLines) list(k string, vs []any) {
	w.key(k)
	if len(vs) == 0 {
		w.buf.WriteString("[]")
		return
	}
	w.buf.WriteString("[\n")
	for i, v := range vs {
		w.buf.WriteString("    ")
		w.value(v)
		if i < len(vs)-1 {
			w.buf.WriteString(",")
		}
		w.buf.WriteString("\n")
	}
	w.buf.WriteString("  ]")
}

// toEpochJS converts e for JSON.
func toEpochJS(e Epoch) epochJS {
	js := epochJS{
		Epoch: e.Epoch, Steps: e.Steps, LR: number(e.LR),
		TrainLoss: number(e.TrainLoss), TrainAcc: number(e.TrainAcc),
		TestAcc: number(e.TestAcc), Seconds: number(e.Seconds),
	}
	if len(e.Extra) > 0 {
		js.Extra = make(map[string]number, len(e.Extra))
		for k, v := range e.Extra {
			js.Extra[k] = number(v)
		}
	}
	return js
}

// WriteJSON writes the record to path through a temporary file in the same
// folder, renamed over path once complete, so a reader never sees half a
// file and a failed write leaves any previous one intact.
func (r *Record) WriteJSON(path string) error {
	b, err := r.MarshalJSON()
	if err != nil {
		return fmt.Errorf("record: encoding %s: %w", path, err)
	}
	b = append(b, '\n')
	return writeAtomic(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// ReadJSON reads a record written by WriteJSON, or a loss_and_time.json
// left by the PyTorch baseline, as UnmarshalJSON describes.
func ReadJSON(path string) (*Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	r := new(Record)
	if err := r.UnmarshalJSON(b); err != nil {
		return nil, fmt.Errorf("record: %s: %w", path, err)
	}
	return r, nil
}

// UnmarshalJSON reads a record file, or the baseline's loss_and_time.json.
// The baseline's file knows only accuracies, times and step losses: its
// epochs get NaN for the learning rate and the epoch loss and 0 steps, and
// its train_loss entries are shared evenly among the epochs, at every
// 200th step of each as the baseline logged them.
func (r *Record) UnmarshalJSON(b []byte) error {
	var f fileJSON
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	var (
		read *Record
		err  error
	)
	if f.Epochs != nil {
		read, err = fromFile(&f)
	} else {
		read, err = fromLossAndTime(&f)
	}
	if err != nil {
		return err
	}
	*r = *read
	return nil
}

// fromFile builds a record from the epochs and step_loss lists, checking
// their order as a live run would.
func fromFile(f *fileJSON) (*Record, error) {
	r := &Record{Name: f.Name}
	for _, e := range *f.Epochs {
		var extra map[string]float64
		if len(e.Extra) > 0 {
			extra = make(map[string]float64, len(e.Extra))
			for k, v := range e.Extra {
				extra[k] = float64(v)
			}
		}
		err := r.AddEpoch(Epoch{
			Epoch: e.Epoch, Steps: e.Steps, LR: float64(e.LR),
			TrainLoss: float64(e.TrainLoss), TrainAcc: float64(e.TrainAcc),
			TestAcc: float64(e.TestAcc), Seconds: float64(e.Seconds), Extra: extra,
		})
		if err != nil {
			return nil, err
		}
	}
	for _, s := range f.StepLoss {
		err := r.addLoggedStepLoss(StepLoss{Epoch: s.Epoch, Step: s.Step, Loss: float64(s.Loss)})
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

// addLoggedStepLoss appends a step loss read from a file, where it may
// belong to any epoch, checking only that the entries move forward.
func (r *Record) addLoggedStepLoss(s StepLoss) error {
	if n := len(r.StepLoss); n > 0 {
		last := r.StepLoss[n-1]
		if s.Epoch < last.Epoch || s.Epoch == last.Epoch && s.Step <= last.Step {
			return fmt.Errorf("step loss at epoch %d step %d after epoch %d step %d",
				s.Epoch, s.Step, last.Epoch, last.Step)
		}
	}
	if s.Epoch < 1 || s.Step < 1 {
		return fmt.Errorf("step loss at epoch %d step %d: both count from 1", s.Epoch, s.Step)
	}
	r.StepLoss = append(r.StepLoss, s)
	return nil
}

// fromLossAndTime builds a record from the baseline's four lists.
func fromLossAndTime(f *fileJSON) (*Record, error) {
	if f.TestAcc == nil || f.TrainAcc == nil || f.TrainTime == nil {
		return nil, fmt.Errorf("neither a record (no epochs) nor a loss_and_time.json " +
			"(test_acc, train_acc and train_time are required)")
	}
	n := len(*f.TrainAcc)
	if len(*f.TestAcc) != n || len(*f.TrainTime) != n {
		return nil, fmt.Errorf("loss_and_time: %d test_acc, %d train_acc and %d train_time "+
			"entries; one per epoch expected", len(*f.TestAcc), n, len(*f.TrainTime))
	}
	var losses []number
	if f.TrainLoss != nil {
		losses = *f.TrainLoss
	}
	if n == 0 && len(losses) > 0 || n > 0 && len(losses)%n != 0 {
		return nil, fmt.Errorf("loss_and_time: %d train_loss entries do not divide "+
			"evenly among %d epochs", len(losses), n)
	}
	r := &Record{Epochs: make([]Epoch, n)}
	for i := range n {
		r.Epochs[i] = Epoch{
			Epoch: i + 1, LR: math.NaN(), TrainLoss: math.NaN(),
			TrainAcc: float64((*f.TrainAcc)[i]), TestAcc: float64((*f.TestAcc)[i]),
			Seconds: float64((*f.TrainTime)[i]),
		}
	}
	for i, loss := range losses {
		perEpoch := len(losses) / n
		r.StepLoss = append(r.StepLoss, StepLoss{
			Epoch: i/perEpoch + 1, Step: (i%perEpoch + 1) * baselineLossEvery, Loss: float64(loss),
		})
	}
	return r, nil
}

// numbers converts xs for JSON, keeping an empty list a list, not null.
func numbers(xs []float64) []number {
	out := make([]number, len(xs))
	for i, x := range xs {
		out[i] = number(x)
	}
	return out
}
