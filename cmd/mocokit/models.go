package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mocokit/mocokit/export"
	"github.com/mocokit/mocokit/models"
)

func modelsCommand() *cobra.Command {
	var check bool
	var ortLib string
	cmd := &cobra.Command{
		Use:   "models [FILE.onnx...]",
		Short: "List the network variants, or show what ONNX files hold",
		Long: `Without arguments, lists the ResNet-18 stems, heads and preprocessing
presets mocokit knows. With ONNX files, shows each one's network, output,
classes, preprocessing and origin, as stored in its metadata.

--check also runs each file on the same random image with two independent
ONNX implementations, onnxruntime and onnx-go (pure Go), and fails when
their outputs differ by more than 1e-4.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			if check && len(args) == 0 {
				return fmt.Errorf("--check needs ONNX files to check")
			}
			if len(args) == 0 {
				listVariants(w)
				return nil
			}
			for _, path := range args {
				if err := showModel(w, path); err != nil {
					return err
				}
				if !check {
					continue
				}
				if err := crossCheck(w, path, ortLib); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false,
		"run each file with onnxruntime and onnx-go and compare")
	cmd.Flags().StringVar(&ortLib, "ort-lib", "", "onnxruntime shared library")
	return cmd
}

func listVariants(w io.Writer) {
	fmt.Fprintln(w, "arch   resnet18 (torchvision's BasicBlock layout, 11.2M parameters "+
		"with a 10-way fc)")
	fmt.Fprintln(w, "stems  imagenet  7x7/2 conv, BN, ReLU, 3x3/2 max pool (torchvision)")
	fmt.Fprintln(w, "       cifar     3x3/1 conv, BN, ReLU, no pool")
	fmt.Fprintln(w, "heads  classifier  fc to N classes (output \"logits\")")
	fmt.Fprintln(w, "       moco        fc 512 to 128 (MoCo v1, output \"embedding\")")
	fmt.Fprintln(w, "       moco-mlp    512-512-ReLU-128 (MoCo v2 --mlp, output \"embedding\")")
	fmt.Fprintln(w, "       features    no fc: 512-d pooled features (output \"features\")")
	fmt.Fprintln(w, "presets")
	for _, name := range []string{"cifar32", "upscale224"} {
		p := models.Presets[name]
		fmt.Fprintf(w, "       %-10s  %dx%d, mean %v, std %v\n", name, p.InputSize,
			p.InputSize, p.Mean, p.Std)
	}
}

func showModel(w io.Writer, path string) error {
	meta, shape, err := export.ReadMetadata(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s\n", path)
	fmt.Fprintf(w, "  network  %s, stem %s, head %s\n", meta.Arch, meta.Stem, meta.Head)
	fmt.Fprintf(w, "  input    %v (-1: any batch), mean %v, std %v\n", shape,
		meta.Preprocess.Mean, meta.Preprocess.Std)
	fmt.Fprintf(w, "  output   %q\n", meta.Output)
	if len(meta.Classes) > 0 {
		fmt.Fprintf(w, "  classes  %d: %s\n", len(meta.Classes), strings.Join(meta.Classes, ", "))
	}
	fmt.Fprintf(w, "  source   %s\n", meta.Source)
	return nil
}
