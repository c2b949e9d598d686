package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mocokit/mocokit/convert"
	"github.com/mocokit/mocokit/models"
	"github.com/mocokit/mocokit/train"
)

func linclsCommand() *cobra.Command {
	rf := &runFlags{}
	var pretrained string
	cmd := &cobra.Command{
		Use:   "lincls --pretrained CKPT --data PATH [--preset default|seed] [flags]",
		Short: "Linear classification protocol: a linear layer on a frozen encoder",
		Long: `Trains a new fc (N(0, 0.01), zero bias) on the frozen encoder of a MoCo
checkpoint, as main_lincls.py does: batch norm in evaluation mode, SGD lr 30,
momentum 0.9, no weight decay, 100 epochs, lr / 10 at 60 and 80, evaluated
every epoch; RUN/best is model_best. --pretrained takes a GoMLX checkpoint
(or run directory) from "train moco", or main_moco.py's
checkpoint_0199.pth.tar. At the end it checks that the encoder did not move.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLincls(cmd, rf, pretrained)
		},
	}
	f := cmd.Flags()
	f.StringVar(&pretrained, "pretrained", "", "MoCo checkpoint (required)")
	rf.addFlags(f, "runs/lincls", "default (32x32) or seed (224x224)",
		"labelled dataset (see train baseline); required")
	addOptionFlags(f, &rf.o)
	return cmd
}

func runLincls(cmd *cobra.Command, rf *runFlags, pretrained string) error {
	o, ok := train.LinclsPresets[rf.preset]
	if !ok {
		return fmt.Errorf("unknown preset %q (have default, seed)", rf.preset)
	}
	if pretrained == "" && !rf.resume {
		return fmt.Errorf("--pretrained is required: a MoCo checkpoint")
	}
	var enc models.Weights
	if !rf.resume {
		var meta models.Metadata
		var stem models.Stem
		var err error
		if enc, stem, meta, err = loadEncoder(pretrained); err != nil {
			return err
		}
		o.Stem = stem
		if o.Mean == ([3]float32{}) {
			o.Mean, o.Std = meta.Preprocess.Mean, meta.Preprocess.Std
		}
	}
	cmd.Flags().Visit(func(fl *pflag.Flag) { applyFlag(&o, &rf.o, fl.Name) })
	if err := checkResumeFlags(cmd.Flags(), rf.resume); err != nil {
		return err
	}
	if rf.data == "" {
		return fmt.Errorf("--data is required (see train baseline --help)")
	}
	run, err := newRun(rf, o)
	if err != nil {
		return err
	}
	run.Probe = true
	if rf.resume {
		run.ResumeEpochs = resumeEpochs(cmd.Flags(), rf.o.Epochs)
		err = run.Resume(rf.out)
	} else {
		err = run.Start(enc)
	}
	if err != nil {
		return err
	}
	if err := run.Train(cmd.Context()); err != nil {
		return err
	}
	st := run.State()
	fmt.Fprintf(cmd.OutOrStdout(), "trained the linear probe %d epochs; best top-1 %.2f%% "+
		"at epoch %d (%s/best); encoder unchanged\n", st.Epoch, st.BestAcc, st.BestEpoch, rf.out)
	return nil
}

// loadEncoder reads the query encoder of a GoMLX MoCo checkpoint or of a
// PyTorch file (main_moco.py's checkpoint, or any file the converter
// reads).
func loadEncoder(path string) (models.Weights, models.Stem, models.Metadata, error) {
	if dir, err := train.ResolveCheckpoint(path); err == nil {
		c, err := train.ReadCheckpoint(dir)
		if err != nil {
			return nil, "", models.Metadata{}, err
		}
		slog.Info("pretrained encoder", "checkpoint", dir, "kind", c.State.Kind,
			"epoch", c.State.Epoch)
		return c.Weights, c.State.Config.Stem, c.State.Metadata, nil
	}
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		return nil, "", models.Metadata{}, fmt.Errorf("--pretrained %s: neither a GoMLX "+
			"checkpoint nor a PyTorch file", path)
	}
	ck, err := convert.Load(path)
	if err != nil {
		return nil, "", models.Metadata{}, err
	}
	// A MoCo checkpoint's encoder is its query encoder without the
	// projection; any other file's fc is dropped by the probe itself.
	plan, err := convert.MakePlan(ck, convert.Options{Features: ck.Kind == convert.KindMoCo,
		Source: filepath.Base(path)})
	if err != nil {
		return nil, "", models.Metadata{}, fmt.Errorf("%s: %w", path, err)
	}
	slog.Info("pretrained encoder", "file", path, "kind", ck.Kind)
	return plan.Weights, plan.Config.Stem, plan.Meta, nil
}
