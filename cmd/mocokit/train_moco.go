package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mocokit/mocokit/train"
	"github.com/mocokit/mocokit/train/backend"
)

type mocoFlags struct {
	runPlace
	savePth bool
	o       train.MoCoOptions
}

func mocoCommand() *cobra.Command {
	mf := &mocoFlags{}
	cmd := &cobra.Command{
		Use:   "moco --data PATH [--preset default|seed] [flags]",
		Short: "MoCo self-supervised pretraining of ResNet-18 (labels unused)",
		Long: `Pretrains a ResNet-18 query encoder with momentum contrast as
main_moco.py does (v1, or v2 with --mlp --aug-plus --cos), checkpointing
every epoch into --out, with the loss, the contrastive top-1/top-5 and a
weighted kNN monitor on the test set (the labels serve only the monitor).
--save-pth also writes main_moco.py's checkpoint_NNNN.pth.tar.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runMoCo(cmd, mf) },
	}
	f := cmd.Flags()
	mf.addFlags(f, "runs/moco", "default or seed",
		"dataset (see train baseline; its test split feeds the kNN monitor); required")
	f.BoolVar(&mf.savePth, "save-pth", false, "also write main_moco.py's .pth.tar checkpoints")
	addMoCoFlags(f, &mf.o)
	return cmd
}

func addMoCoFlags(f *pflag.FlagSet, o *train.MoCoOptions) {
	f.StringVar((*string)(&o.Stem), "stem", "", "imagenet or cifar")
	f.IntVar(&o.Size, "size", 0, "input side after RandomResizedCrop")
	f.IntVar(&o.Epochs, "epochs", 0, "epochs")
	f.IntVar(&o.BatchSize, "batch-size", 0, "images per step")
	f.Float64Var(&o.LR, "lr", 0, "initial learning rate")
	f.Float64Var(&o.Momentum, "momentum", 0, "SGD momentum")
	f.Float64Var(&o.WeightDecay, "weight-decay", 0, "weight decay")
	f.StringVar(&o.Schedule, "schedule", "", "learning-rate schedule (see train baseline)")
	f.Bool("cos", false, "cosine schedule (MoCo v2), the same as --schedule cosine")
	f.IntVar(&o.Dim, "moco-dim", 0, "embedding dimension")
	f.IntVar(&o.K, "moco-k", 0, "queue length (a multiple of the keys per step)")
	f.Float64Var(&o.M, "moco-m", 0, "key encoder momentum")
	f.Float64Var(&o.T, "moco-t", 0, "softmax temperature")
	f.BoolVar(&o.MLP, "mlp", false, "MLP projection head (MoCo v2)")
	f.BoolVar(&o.AugPlus, "aug-plus", false, "MoCo v2 augmentation, with Gaussian blur")
	f.BoolVar(&o.Symmetric, "symmetric", false, "symmetric loss: both views as queries")
	f.IntVar(&o.BNSplits, "bn-splits", 0, "batch norm over this many sub-batches "+
		"(the one-device stand-in for shuffling BN across GPUs)")
	f.Uint64Var(&o.Seed, "seed", 0, "seed of initialisation, shuffling and augmentation")
	f.IntVar(&o.KNNEvery, "knn-every", 0, "run the kNN monitor every N epochs (0: never)")
	f.IntVar(&o.KNNK, "knn-k", 0, "kNN neighbours")
	f.Float64Var(&o.KNNT, "knn-t", 0, "kNN temperature")
	f.IntVar(&o.KNNBank, "knn-bank", 0, "training images in the kNN bank (0: all)")
	f.IntVar(&o.TestImages, "test-images", 0, "test images for the kNN monitor (0: all)")
	f.IntVar(&o.StepsPerEpoch, "steps-per-epoch", 0, "cap on steps per epoch (0: all)")
}

func (mf *mocoFlags) options(f *pflag.FlagSet) (train.MoCoOptions, error) {
	o, ok := train.MoCoPresets[mf.preset]
	if !ok {
		return o, fmt.Errorf("unknown preset %q (have default, seed)", mf.preset)
	}
	g := mf.o
	set := map[string]func(){
		"stem": func() { o.Stem = g.Stem }, "size": func() { o.Size = g.Size },
		"epochs": func() { o.Epochs = g.Epochs }, "batch-size": func() { o.BatchSize = g.BatchSize },
		"lr": func() { o.LR = g.LR }, "momentum": func() { o.Momentum = g.Momentum },
		"weight-decay": func() { o.WeightDecay = g.WeightDecay },
		"schedule":     func() { o.Schedule = g.Schedule }, "cos": func() { o.Schedule = "cosine" },
		"moco-dim": func() { o.Dim = g.Dim }, "moco-k": func() { o.K = g.K },
		"moco-m": func() { o.M = g.M }, "moco-t": func() { o.T = g.T },
		"mlp": func() { o.MLP = g.MLP }, "aug-plus": func() { o.AugPlus = g.AugPlus },
		"symmetric": func() { o.Symmetric = g.Symmetric },
		"bn-splits": func() { o.BNSplits = g.BNSplits }, "seed": func() { o.Seed = g.Seed },
		"knn-every": func() { o.KNNEvery = g.KNNEvery }, "knn-k": func() { o.KNNK = g.KNNK },
		"knn-t": func() { o.KNNT = g.KNNT }, "knn-bank": func() { o.KNNBank = g.KNNBank },
		"test-images":     func() { o.TestImages = g.TestImages },
		"steps-per-epoch": func() { o.StepsPerEpoch = g.StepsPerEpoch },
	}
	f.Visit(func(fl *pflag.Flag) {
		if apply, ok := set[fl.Name]; ok {
			apply()
		}
	})
	return o, o.Validate()
}

func runMoCo(cmd *cobra.Command, mf *mocoFlags) error {
	o, err := mf.options(cmd.Flags())
	if err != nil {
		return err
	}
	if err := checkResumeFlags(cmd.Flags(), mf.resume); err != nil {
		return err
	}
	if mf.data == "" {
		return fmt.Errorf("--data is required (see train baseline --help)")
	}
	trainSet, testSet, err := loadData(mf.data, mf.testData)
	if err != nil {
		return err
	}
	b, err := backend.New(mf.backend)
	if err != nil {
		return err
	}
	slog.Info("MoCo pretraining", "backend", backend.Describe(b), "preset", o.Preset,
		"stem", o.Stem, "size", o.Size, "train_images", len(trainSet.Samples))
	run := &train.MoCoRun{Options: o, Out: mf.out, TrainSet: trainSet, TestSet: testSet,
		Backend: b, Keep: mf.keep, Workers: mf.workers, Log: slog.Default(),
		Status: os.Stderr, SavePth: mf.savePth}
	if mf.resume {
		run.ResumeEpochs = resumeEpochs(cmd.Flags(), mf.o.Epochs)
		err = run.Resume(mf.out)
	} else {
		err = run.Start(nil)
	}
	if err != nil {
		return err
	}
	if err := run.Train(cmd.Context()); err != nil {
		return err
	}
	st := run.State()
	fmt.Fprintf(cmd.OutOrStdout(), "pretrained %d epochs (%d steps); best kNN accuracy "+
		"%.2f%% at epoch %d; checkpoints in %s\n", st.Epoch, st.Step, st.BestAcc,
		st.BestEpoch, mf.out)
	return nil
}
