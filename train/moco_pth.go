package train

import (
	"github.com/mocokit/mocokit/convert/torchfile"
	"github.com/mocokit/mocokit/models"
	"github.com/mocokit/mocokit/pickle"
)

// WriteMoCoPth writes a MoCo checkpoint as main_moco.py saves one: a dict
// of epoch, arch, state_dict (the DataParallel names module.encoder_q.*,
// module.encoder_k.*, module.queue [dim, K] and module.queue_ptr) and
// optimizer (torch.optim.SGD's state_dict with the momentum buffers), so
// that main_lincls.py --pretrained, and mocokit's converter, read it.
func WriteMoCoPth(path string, c *Checkpoint, o MoCoOptions) error {
	cfg := c.State.Config
	var sd torchfile.Tensors
	for _, enc := range []struct {
		prefix string
		w      models.Weights
	}{{"module.encoder_q.", c.Weights}, {"module.encoder_k.", c.Key}} {
		for _, p := range cfg.Params() {
			sd = append(sd, torchEntry(enc.prefix+p.Name, p, enc.w[p.Name]))
		}
	}
	sd = append(sd, torchfile.Entry{Name: "module.queue", Shape: []int{o.Dim, o.K},
		Float32: transpose(c.Queue.Data, o.K, o.Dim)},
		torchfile.Entry{Name: "module.queue_ptr", Shape: []int{1},
			Int64: []int64{int64(c.State.QueuePtr)}})
	return torchfile.WriteCheckpoint(path,
		torchfile.TopEntry{Key: "epoch", Value: c.State.Epoch},
		torchfile.TopEntry{Key: "arch", Value: "resnet18"},
		torchfile.TopEntry{Key: "state_dict", Value: sd},
		torchfile.TopEntry{Key: "optimizer", Value: sgdStateDict(cfg, c, o)})
}

func torchEntry(name string, p models.Param, t *models.Tensor) torchfile.Entry {
	if p.Kind == models.NumBatchesTracked {
		return torchfile.Entry{Name: name, Shape: []int{}, Int64: []int64{int64(t.Data[0])}}
	}
	return torchfile.Entry{Name: name, Shape: p.Shape, Float32: t.Data}
}

// sgdStateDict is torch.optim.SGD.state_dict() for the query encoder's
// parameters, numbered in their order.
func sgdStateDict(cfg models.Config, c *Checkpoint, o MoCoOptions) *pickle.Dict {
	state := pickle.NewDict()
	ids := &pickle.List{}
	i := 0
	for _, p := range cfg.Params() {
		if !p.Trainable() {
			continue
		}
		if m, ok := c.Momentum[p.Name]; ok {
			buf := pickle.NewDict()
			buf.Set("momentum_buffer", torchfile.Entry{Name: p.Name, Shape: p.Shape,
				Float32: m.Data})
			state.Set(i, buf)
		}
		ids.Items = append(ids.Items, i)
		i++
	}
	group := pickle.NewDict()
	group.Set("lr", o.LR)
	group.Set("momentum", o.Momentum)
	group.Set("dampening", 0)
	group.Set("weight_decay", o.WeightDecay)
	group.Set("nesterov", false)
	group.Set("maximize", false)
	group.Set("foreach", nil)
	group.Set("differentiable", false)
	group.Set("params", ids)
	sd := pickle.NewDict()
	sd.Set("state", state)
	sd.Set("param_groups", &pickle.List{Items: []any{group}})
	return sd
}

// transpose turns a row-major [rows, cols] matrix into [cols, rows].
func transpose(v []float32, rows, cols int) []float32 {
	out := make([]float32, len(v))
	for r := range rows {
		for c := range cols {
			out[c*rows+r] = v[r*cols+c]
		}
	}
	return out
}
