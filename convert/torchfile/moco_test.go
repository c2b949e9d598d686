package torchfile

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/mocokit/mocokit/pickle"
)

// mocoCheckpoint returns the path of a checkpoint written by
// testdata/make_moco_checkpoint.py, named by MOCOKIT_MOCO_CKPT.
func mocoCheckpoint(tb testing.TB) string {
	tb.Helper()
	path := os.Getenv("MOCOKIT_MOCO_CKPT")
	if path == "" {
		tb.Skip("set MOCOKIT_MOCO_CKPT to a file written by " +
			"testdata/make_moco_checkpoint.py")
	}
	return path
}

func TestReadMoCoCheckpoint(t *testing.T) {
	v, err := ReadFile(mocoCheckpoint(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ck := v.(*pickle.Dict)
	sdv, _ := ck.Get("state_dict")
	sd, err := StateDict(sdv)
	if err != nil {
		t.Fatal(err)
	}
	var q, k int
	shapes := map[string]string{}
	for _, n := range sd {
		switch {
		case strings.HasPrefix(n.Name, "module.encoder_q."):
			q++
		case strings.HasPrefix(n.Name, "module.encoder_k."):
			k++
		}
		shapes[n.Name] = fmt.Sprint(n.Tensor.Shape)
	}
	if q != 122 || k != 122 || shapes["module.queue"] != "[128 65536]" ||
		shapes["module.queue_ptr"] != "[1]" || shapes["module.encoder_q.fc.weight"] != "[128 512]" {
		t.Fatalf("encoder_q %d, encoder_k %d tensors; queue %s, queue_ptr %s, fc %s", q, k,
			shapes["module.queue"], shapes["module.queue_ptr"], shapes["module.encoder_q.fc.weight"])
	}
	state, err := followPath(v, "optimizer", "state")
	if err != nil {
		t.Fatal(err)
	}
	// Only encoder_q's 62 parameters have gradients, hence momentum buffers.
	if n := state.(*pickle.Dict).Len(); n != 62 {
		t.Fatalf("optimizer state has %d entries, want 62", n)
	}
}

func followPath(v any, keys ...string) (any, error) {
	for _, k := range keys {
		d, ok := v.(*pickle.Dict)
		if !ok {
			return nil, fmt.Errorf("%s is a %s", k, pickle.TypeName(v))
		}
		if v, ok = d.Get(k); !ok {
			return nil, fmt.Errorf("no %q", k)
		}
	}
	return v, nil
}

// BenchmarkReadMoCoCheckpoint reads a MoCo checkpoint (about 170 MB) and
// converts its queue to float32; compare with make_moco_checkpoint.py --time.
func BenchmarkReadMoCoCheckpoint(b *testing.B) {
	path := mocoCheckpoint(b)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	for b.Loop() {
		v, err := ReadFile(path, nil)
		if err != nil {
			b.Fatal(err)
		}
		q, err := followPath(v, "state_dict", "module.queue")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := q.(*Tensor).Float32(); err != nil {
			b.Fatal(err)
		}
	}
}
