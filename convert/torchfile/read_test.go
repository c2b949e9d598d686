package torchfile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mocokit/mocokit/pickle"
)

// expectedTensor is one entry of testdata/expected.json, written by
// testdata/make_fixtures.py from the tensors PyTorch itself saved.
type expectedTensor struct {
	Path   []any         `json:"path"`
	DType  string        `json:"dtype"`
	Shape  []int         `json:"shape"`
	Values []json.Number `json:"values"`
}

func loadExpected(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// follow walks a decoded value along a path of dict keys and list indices;
// "@state_dict" applies StateDict and continues by tensor name.
func follow(v any, path []any) (any, error) {
	for i := 0; i < len(path); i++ {
		step := path[i]
		if step == "@state_dict" {
			sd, err := StateDict(v)
			if err != nil {
				return nil, err
			}
			name := path[i+1].(string)
			for _, n := range sd {
				if n.Name == name {
					return n.Tensor, nil
				}
			}
			return nil, fmt.Errorf("no %q in state_dict", name)
		}
		switch c := v.(type) {
		case *pickle.Dict:
			var ok bool
			switch k := step.(type) {
			case string:
				if n, err := strconv.Atoi(k); err == nil {
					// JSON object keys are strings; optimizer state uses ints.
					if v, ok = c.GetKey(int64(n)); ok {
						continue
					}
				}
				v, ok = c.Get(k)
			case float64:
				v, ok = c.GetKey(int64(k))
			}
			if !ok {
				return nil, fmt.Errorf("no key %v", step)
			}
		case *pickle.List:
			v = c.Items[int(step.(float64))]
		case pickle.Tuple:
			v = c[int(step.(float64))]
		default:
			return nil, fmt.Errorf("cannot index %s with %v", pickle.TypeName(v), step)
		}
	}
	return v, nil
}

func checkTensor(t *testing.T, v any, want expectedTensor) {
	t.Helper()
	tn, ok := v.(*Tensor)
	if !ok {
		t.Fatalf("%v: got %s, want a tensor", want.Path, pickle.TypeName(v))
	}
	if string(tn.DType) != want.DType || fmt.Sprint(tn.Shape) != fmt.Sprint(want.Shape) {
		t.Fatalf("%v: got %s %v, want %s %v", want.Path, tn.DType, tn.Shape, want.DType, want.Shape)
	}
	switch tn.DType {
	case Float32, Float64, Float16, BFloat16:
		got, err := tn.Float32()
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range want.Values {
			f, _ := w.Float64()
			if got[i] != float32(f) {
				t.Fatalf("%v[%d] = %v, want %v", want.Path, i, got[i], float32(f))
			}
		}
	default:
		got, err := tn.Int64()
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range want.Values {
			n, _ := w.Int64()
			if got[i] != n {
				t.Fatalf("%v[%d] = %v, want %v", want.Path, i, got[i], n)
			}
		}
	}
	if len(want.Values) != tn.Numel() {
		t.Fatalf("%v: %d values, want %d", want.Path, tn.Numel(), len(want.Values))
	}
}

func TestReadMatchesPyTorchFixtures(t *testing.T) {
	exp := loadExpected(t)
	files := map[string]string{}
	for _, c := range []string{"tensors", "state_dict", "checkpoint", "whole_model"} {
		files[c+".pt"] = c
		files[c+"_legacy.pt"] = c
	}
	files["tensors_p4.pt"] = "tensors_p4"
	for file, c := range files {
		t.Run(file, func(t *testing.T) {
			var want []expectedTensor
			if err := json.Unmarshal(exp[c], &want); err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 {
				t.Fatal("no expected tensors")
			}
			v, err := ReadFile(filepath.Join("testdata", file), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range want {
				got, err := follow(v, w.Path)
				if err != nil {
					t.Fatalf("%v: %v", w.Path, err)
				}
				checkTensor(t, got, w)
			}
		})
	}
}

func TestReadCheckpointScalars(t *testing.T) {
	var want struct {
		Epoch    int64   `json:"epoch"`
		Arch     string  `json:"arch"`
		LR       float64 `json:"lr"`
		Momentum float64 `json:"momentum"`
		Params   []int64 `json:"params"`
	}
	if err := json.Unmarshal(loadExpected(t)["scalars"], &want); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"checkpoint.pt", "checkpoint_legacy.pt"} {
		v, err := ReadFile(filepath.Join("testdata", file), nil)
		if err != nil {
			t.Fatal(err)
		}
		ck := v.(*pickle.Dict)
		epoch, _ := ck.Get("epoch")
		arch, _ := ck.Get("arch")
		if epoch != want.Epoch || arch != want.Arch {
			t.Errorf("%s: epoch %v arch %v, want %v %v", file, epoch, arch, want.Epoch, want.Arch)
		}
		group, err := follow(v, []any{"optimizer", "param_groups", 0.0})
		if err != nil {
			t.Fatal(err)
		}
		g := group.(*pickle.Dict)
		lr, _ := g.Get("lr")
		mom, _ := g.Get("momentum")
		params, _ := g.Get("params")
		if lr != want.LR || mom != want.Momentum {
			t.Errorf("%s: lr %v momentum %v, want %v %v", file, lr, mom, want.LR, want.Momentum)
		}
		if fmt.Sprint(params.(*pickle.List).Items) != fmt.Sprint(want.Params) {
			t.Errorf("%s: params %v, want %v", file, params, want.Params)
		}
		sd, _ := ck.Get("state_dict")
		named, err := StateDict(sd)
		if err != nil || len(named) == 0 || named[0].Name != "module.0.weight" {
			t.Errorf("%s: state_dict %v, %v", file, named, err)
		}
	}
}
