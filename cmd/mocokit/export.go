package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mocokit/mocokit/dataset"
	"github.com/mocokit/mocokit/export"
	"github.com/mocokit/mocokit/train"
	"github.com/mocokit/mocokit/train/backend"
)

func exportCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export CKPT -o MODEL.onnx",
		Short: "Export a GoMLX checkpoint (or a run directory's last one) to ONNX",
		Long: `Writes the network of a checkpoint made by "train" or "convert
pth2gomlx" as an ONNX model with the same writer as "convert pth2onnx": the
metadata carries the class names and preprocessing, so "serve --model"
takes the file as it is. Give a run directory for its last checkpoint, or
RUN/best for the best one.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("name the ONNX file to write with -o")
			}
			if err := checkOutsideInput(args[0], out); err != nil {
				return err
			}
			c, err := readCheckpointArg(args[0])
			if err != nil {
				return err
			}
			meta := c.State.Metadata
			if meta.Source == "" {
				meta.Source = filepath.Base(args[0])
			}
			if err := export.WriteFile(out, c.State.Config, c.Weights, meta); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (resnet18, %s stem, %s head, epoch %d)\n",
				out, c.State.Config.Stem, c.State.Config.Head, c.State.Epoch)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "ONNX file to write")
	return cmd
}

// checkOutsideInput refuses an output path inside the checkpoint or run
// directory being read, which would overwrite part of it.
func checkOutsideInput(in, out string) error {
	dirs := []string{in}
	if dir, err := train.ResolveCheckpoint(in); err == nil {
		dirs = append(dirs, dir)
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		for _, p := range []string{d, realPath(d)} {
			abs, err := filepath.Abs(p)
			if err != nil {
				continue
			}
			if rel, err := filepath.Rel(abs, absOut); err == nil &&
				!strings.HasPrefix(rel, "..") {
				return fmt.Errorf("output %s is inside %s, which is being read; write "+
					"it elsewhere", out, in)
			}
		}
	}
	return nil
}

func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

func readCheckpointArg(path string) (*train.Checkpoint, error) {
	dir, err := train.ResolveCheckpoint(path)
	if err != nil {
		return nil, err
	}
	return train.ReadCheckpoint(dir)
}

func evalCommand() *cobra.Command {
	var data, backendSpec string
	cmd := &cobra.Command{
		Use:   "eval CKPT --data PATH",
		Short: "Top-1 accuracy of a GoMLX checkpoint on a test set, computed by GoMLX",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := readCheckpointArg(args[0])
			if err != nil {
				return err
			}
			test, err := dataset.Load(data, dataset.Test)
			if err != nil {
				return fmt.Errorf("test set: %w", err)
			}
			b, err := backend.New(backendSpec)
			if err != nil {
				return err
			}
			slog.Info("evaluating", "backend", backend.Describe(b), "images", len(test.Samples))
			acc, err := train.Evaluate(b, c, test)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "top-1 %.2f%% on %d images\n", acc,
				len(test.Samples))
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "test set (its test split)")
	cmd.Flags().StringVar(&backendSpec, "backend", "", "GoMLX backend (see train baseline)")
	_ = cmd.MarkFlagRequired("data")
	return cmd
}
