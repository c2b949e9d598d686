package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mocokit/mocokit/assets"
	"github.com/mocokit/mocokit/serve"
)

// defaultTestSet is where the original PyTorch project keeps CIFAR-10.
const defaultTestSet = "cifar-10-batches-py"

// evalDefault stands for --eval-testset given without a folder.
const evalDefault = "default"

func serveCommand() *cobra.Command {
	cfg := serve.Config{}
	cmd := &cobra.Command{
		Use: "serve [--model M.onnx | --models DIR] [--addr :8080] " +
			"[--eval-testset [DIR]]",
		Short: "Serve models over HTTP: POST /classify, /v2 (KServe), /metrics",
		Long: `Serves ONNX models exported by mocokit with onnxruntime. Without
--model or --models it serves the embedded default, a ResNet-18 trained on
CIFAR-10. --models DIR serves every *.onnx in DIR, each named by its base
name (/classify?model=NAME, /v2/models/NAME/infer); the default model is
--default-model or the first by name.

Concurrent requests are batched: up to --max-batch images go into one
onnxruntime run, waiting at most --max-wait for more while requests are
arriving. At most --max-queue images wait per model; beyond that requests
get 429 with Retry-After. On SIGTERM or SIGINT the server stops accepting,
answers the requests in flight and exits 0.

--eval-testset evaluates the model on a test set as the server starts and
logs its top-1 accuracy, overall and per class; GET /eval returns the same
figures (the default model is evaluated). DIR is a cifar-10-batches-py or
cifar-10-batches-bin folder, a folder (or .tar archive) of class subfolders
of images; give it as --eval-testset DIR or --eval-testset=DIR. Without
DIR it is ./cifar-10-batches-py when that exists, else the embedded
CIFAR-10 test set (JPEG q75 copy).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := evalPathArg(&cfg, args); err != nil {
				return err
			}
			if err := resolveDefaults(&cfg); err != nil {
				return err
			}
			return serve.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Model, "model", "", "ONNX model to serve (default: the embedded one)")
	f.StringVar(&cfg.ModelsDir, "models", "", "serve every *.onnx in this folder")
	f.StringVar(&cfg.DefaultModel, "default-model", "", "model for requests that name "+
		"none (default: the first by name)")
	f.StringVar(&cfg.Addr, "addr", ":8080", "address to listen on")
	f.StringVar(&cfg.EvalPath, "eval-testset", "",
		"evaluate on this test set after starting (see above)")
	f.Lookup("eval-testset").NoOptDefVal = evalDefault
	f.IntVar(&cfg.EvalBatch, "eval-batch", serve.DefaultEvalBatch, "images per batch "+
		"in the evaluation")
	f.StringVar(&cfg.Device, "device", "auto",
		"cpu, cuda, or auto (CUDA when its libraries load, else CPU)")
	f.StringVar(&cfg.ORTLib, "ort-lib", "", "onnxruntime shared library (default: "+
		"$MOCOKIT_ORT_LIB, then .deps/onnxruntime, then the system's)")
	f.IntVar(&cfg.Threads, "threads", 0, "onnxruntime intra-op threads (0: one per core)")
	f.StringVar(&cfg.GraphOpt, "graph-opt", "all", "onnxruntime graph optimisation: "+
		"disable, basic, extended or all")
	f.IntVar(&cfg.MaxBatch, "max-batch", serve.DefaultMaxBatch,
		"most images in one onnxruntime run")
	f.DurationVar(&cfg.MaxWait, "max-wait", serve.DefaultMaxWait,
		"longest a batch waits for more images")
	f.IntVar(&cfg.MaxQueue, "max-queue", serve.DefaultMaxQueue,
		"images waiting per model before requests get 429")
	f.DurationVar(&cfg.RequestTimeout, "request-timeout", serve.DefaultRequestTimeout,
		"longest a request may take, upload included")
	f.Int64Var(&cfg.MaxBodyBytes, "max-body", serve.DefaultMaxBodyBytes,
		"largest request body in bytes")
	f.IntVar(&cfg.MaxPixels, "max-pixels", serve.DefaultMaxPixels,
		"largest image accepted, width times height")
	f.Int64Var(&cfg.MaxDecodePixels, "max-decode-pixels", 0,
		"pixels decoded at once across all requests (default: 4 x --max-pixels)")
	return cmd
}

// evalPathArg takes the folder of "--eval-testset DIR": the flag's value is
// optional, so the flag parser leaves DIR as an argument.
func evalPathArg(cfg *serve.Config, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cfg.EvalPath != evalDefault {
		return fmt.Errorf("unexpected argument %q (serve takes flags only; "+
			"a test set goes after --eval-testset)", args[0])
	}
	cfg.EvalPath = args[0]
	return nil
}

// resolveDefaults fills in the embedded model and test set where the
// command line asks for defaults.
func resolveDefaults(cfg *serve.Config) error {
	if cfg.Model != "" && cfg.ModelsDir != "" {
		return fmt.Errorf("give --model or --models, not both")
	}
	wantModel := cfg.Model == "" && cfg.ModelsDir == ""
	wantTestSet := cfg.EvalPath == evalDefault
	if wantTestSet {
		if st, err := os.Stat(defaultTestSet); err == nil && st.IsDir() {
			cfg.EvalPath, wantTestSet = defaultTestSet, false
		}
	}
	if !wantTestSet && cfg.EvalPath != "" {
		if _, err := os.Stat(cfg.EvalPath); err != nil {
			return fmt.Errorf("--eval-testset: %w", err)
		}
	}
	if !wantModel && !wantTestSet {
		return nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	model, testSet, err := assets.Extract(filepath.Join(cache, "mocokit"))
	if err != nil {
		return fmt.Errorf("unpacking the embedded default: %w", err)
	}
	if wantModel {
		cfg.Model = model
		slog.Info("using the embedded default model", "path", model)
	}
	if wantTestSet {
		cfg.EvalPath = testSet
		slog.Info("using the embedded CIFAR-10 test set (JPEG q75 copy)", "path", testSet)
	}
	return nil
}
