package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mocokit/mocokit/convert"
	"github.com/mocokit/mocokit/models"
)

func convertCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "convert",
		Short: "Convert PyTorch checkpoints to ONNX or GoMLX, and GoMLX to PyTorch",
	}
	cmd.AddCommand(pth2onnxCommand(), pth2gomlxCommand(), gomlx2pthCommand())
	return cmd
}

func pth2onnxCommand() *cobra.Command {
	var (
		out, stem, preset, classes string
		size                       int
		mean, std                  []float32
		features                   bool
	)
	cmd := &cobra.Command{
		Use:   "pth2onnx IN.pth[.tar] [-o OUT.onnx]",
		Short: "Convert a MoCo, linear-probe, state_dict or pickled-model file to ONNX",
		Long: `Reads a file written by torch.save (zip or legacy format) without
executing pickle code, recognises its layout (main_moco.py checkpoint,
main_lincls.py checkpoint, plain state_dict, or a whole pickled torchvision
ResNet) and writes an ONNX model whose metadata carries the class names and
the preprocessing a server needs.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt := convert.Options{Stem: models.Stem(stem), Features: features,
				Preset: preset}
			if classes != "" {
				opt.Classes = strings.Split(classes, ",")
			}
			opt.InputSize = size
			if cmd.Flags().Changed("mean") {
				opt.Mean = (*[3]float32)(mean)
			}
			if cmd.Flags().Changed("std") {
				opt.Std = (*[3]float32)(std)
			}
			if out == "" {
				out = defaultONNXName(args[0])
			}
			rep, err := convert.PthToONNX(args[0], out, opt)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&out, "output", "o", "", "ONNX file to write (default: IN with .onnx)")
	f.StringVar(&stem, "stem", "", "force the stem: imagenet or cifar (default: from conv1)")
	f.BoolVar(&features, "features", false,
		"MoCo: export the 512-d pooled features instead of the 128-d embedding")
	f.StringVar(&preset, "preset", "",
		"preprocessing: cifar32 or upscale224 (default: upscale224 for MoCo and "+
			"linear-probe checkpoints, cifar32 otherwise)")
	f.IntVar(&size, "input-size", 0, "input size in pixels (default: the preset's)")
	f.Float32SliceVar(&mean, "mean", []float32{0.5, 0.5, 0.5},
		"RGB mean (default: the preset's)")
	f.Float32SliceVar(&std, "std", []float32{0.5, 0.5, 0.5}, "RGB std (default: the preset's)")
	f.StringVar(&classes, "classes", "", "comma-separated class names (default: CIFAR-10's)")
	cmd.PreRunE = func(*cobra.Command, []string) error {
		if len(mean) != 3 || len(std) != 3 {
			return fmt.Errorf("--mean and --std take 3 values each (R,G,B)")
		}
		if classes != "" && slices.Contains(strings.Split(classes, ","), "") {
			return fmt.Errorf("--classes %q has an empty class name", classes)
		}
		return nil
	}
	return cmd
}

// defaultONNXName replaces a PyTorch file's extension with .onnx.
func defaultONNXName(in string) string {
	for _, ext := range []string{".pth.tar", ".pth", ".pt", ".tar"} {
		if strings.HasSuffix(in, ext) {
			return strings.TrimSuffix(in, ext) + ".onnx"
		}
	}
	return in + ".onnx"
}
