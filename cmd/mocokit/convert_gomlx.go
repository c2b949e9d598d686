package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mocokit/mocokit/convert"
	"github.com/mocokit/mocokit/models"
)

func pth2gomlxCommand() *cobra.Command {
	var out, stem, preset, classes string
	var features bool
	cmd := &cobra.Command{
		Use:   "pth2gomlx IN.pth[.tar] -o CKPT_DIR",
		Short: "Load PyTorch weights into a GoMLX checkpoint, to fine-tune or evaluate in Go",
		Long: `Reads the same files as pth2onnx and writes a GoMLX checkpoint directory
that "train baseline --init", "train eval" and "export" take.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("name the checkpoint directory to write with -o")
			}
			opt := convert.Options{Stem: models.Stem(stem), Features: features, Preset: preset}
			if classes != "" {
				opt.Classes = strings.Split(classes, ",")
			}
			rep, err := convert.PthToGoMLX(args[0], out, opt)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "checkpoint directory to create")
	cmd.Flags().StringVar(&stem, "stem", "", "force the stem: imagenet or cifar")
	cmd.Flags().BoolVar(&features, "features", false, "MoCo: keep the encoder without its fc")
	cmd.Flags().StringVar(&preset, "preset", "", "preprocessing: cifar32 or upscale224 "+
		"(as pth2onnx)")
	cmd.Flags().StringVar(&classes, "classes", "", "comma-separated class names "+
		"(default: CIFAR-10's)")
	return cmd
}

func gomlx2pthCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "gomlx2pth CKPT -o OUT.pth",
		Short: "Write a GoMLX checkpoint's network as a PyTorch state_dict",
		Long: `Writes torch.save(state_dict) in torchvision's names and order; load it
with torchvision.models.resnet18(num_classes=N).load_state_dict(
torch.load(OUT), strict=True) (for the CIFAR stem, first replace conv1 with a
3x3 stride-1 convolution and maxpool with nn.Identity()).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("name the .pth file to write with -o")
			}
			if err := checkOutsideInput(args[0], out); err != nil {
				return err
			}
			cfg, err := convert.GoMLXToPth(args[0], out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (resnet18, %s stem, %s head)\n", out,
				cfg.Stem, cfg.Head)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "state_dict file to write")
	return cmd
}
