package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mocokit/mocokit/dataset"
	"github.com/mocokit/mocokit/train"
	"github.com/mocokit/mocokit/train/backend"
)

func trainCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train ResNet-18 with GoMLX",
		// A subcommand's hook replaces its parents': the root's sets up
		// logging.
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			cmd.Root().PersistentPreRun(cmd, args)
			backend.TuneGC()
		},
	}
	cmd.AddCommand(baselineCommand(), mocoCommand(), linclsCommand(), evalCommand())
	return cmd
}

// runPlace holds the flags every training command shares: where the data
// and the run directory are, the recipe's name, and how to run it.
type runPlace struct {
	data, testData, out, preset, backend string
	resume                               bool
	keep, workers                        int
}

func (p *runPlace) addFlags(f *pflag.FlagSet, out, presets, dataHelp string) {
	f.StringVar(&p.data, "data", "", dataHelp)
	f.StringVar(&p.testData, "test-data", "", "test set, if not the test split of --data")
	f.StringVarP(&p.out, "out", "o", out, "run directory")
	f.StringVar(&p.preset, "preset", "default", "recipe: "+presets)
	f.StringVar(&p.backend, "backend", "", "GoMLX backend: go, xla[:PLUGIN] "+
		"(default: $GOMLX_BACKEND, else xla when a PJRT plugin is found, else go)")
	f.BoolVar(&p.resume, "resume", false, "continue the run in --out from its last "+
		"checkpoint, with the options it was started with (only --epochs may change)")
	f.IntVar(&p.keep, "keep", 3, "epoch checkpoints to keep besides the best (0: all)")
	f.IntVar(&p.workers, "workers", 0, "data loading workers (0: one per core)")
}

type runFlags struct {
	runPlace
	init string
	o    train.Options
}

func baselineCommand() *cobra.Command {
	rf := &runFlags{}
	cmd := &cobra.Command{
		Use:   "baseline --data PATH [--preset default|seed] [flags]",
		Short: "Supervised training of ResNet-18 on a labelled image dataset",
		Long: `Trains ResNet-18 with cross-entropy and SGD, checkpointing every epoch
into --out (epoch-NNNN/ GoMLX checkpoints, links last and best, record.json
with the curves, curves.png). --preset seed reproduces the original PyTorch
baseline; flags given explicitly override the preset. --resume continues a
run from its last checkpoint, step for step as if never stopped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBaseline(cmd, rf)
		},
	}
	f := cmd.Flags()
	rf.addFlags(f, "runs/baseline", fmt.Sprint(train.PresetNames()), "dataset: "+
		"cifar-10-batches-py or -bin directory, a tar or directory of train/ and test/ "+
		"class folders (required)")
	f.StringVar(&rf.init, "init", "", "start from the weights of this GoMLX checkpoint "+
		"(for example one written by \"convert pth2gomlx\")")
	addOptionFlags(f, &rf.o)
	return cmd
}

func addOptionFlags(f *pflag.FlagSet, o *train.Options) {
	f.StringVar((*string)(&o.Stem), "stem", "", "imagenet or cifar")
	f.IntVar(&o.Epochs, "epochs", 0, "epochs to train")
	f.IntVar(&o.BatchSize, "batch-size", 0, "images per SGD step")
	f.Float64Var(&o.LR, "lr", 0, "initial learning rate")
	f.Float64Var(&o.Momentum, "momentum", 0, "SGD momentum")
	f.Float64Var(&o.WeightDecay, "weight-decay", 0, "L2 weight decay")
	f.BoolVar(&o.Nesterov, "nesterov", false, "Nesterov momentum")
	f.StringVar(&o.Schedule, "schedule", "", "constant, cosine, step:SIZE:GAMMA or "+
		"multistep:E1,E2:GAMMA")
	f.StringVar(&o.Augment, "augment", "", "none or crop-flip")
	f.Uint64Var(&o.Seed, "seed", 0, "seed of initialisation, shuffling and augmentation")
	f.Float64Var(&o.StopAtTrainAcc, "stop-at-train-acc", 0,
		"stop after an epoch whose training accuracy (%) exceeds this")
	f.IntVar(&o.StepsPerEpoch, "steps-per-epoch", 0, "cap on steps per epoch (0: all)")
	f.IntVar(&o.TestImages, "test-images", 0, "evaluate on this many test images (0: all)")
	f.IntVar(&o.Size, "size", 0, "input side; images of other sizes are resized (shorter "+
		"side) and centre-cropped to it (default: the preset's, 32 for baseline)")
}

// options starts from the preset and applies the flags the user gave.
func (rf *runFlags) options(f *pflag.FlagSet) (train.Options, error) {
	o, err := train.Preset(rf.preset)
	if err != nil {
		return o, err
	}
	f.Visit(func(fl *pflag.Flag) {
		applyFlag(&o, &rf.o, fl.Name)
	})
	return o, o.Validate()
}

func applyFlag(o, given *train.Options, name string) {
	switch name {
	case "stem":
		o.Stem = given.Stem
	case "epochs":
		o.Epochs = given.Epochs
	case "batch-size":
		o.BatchSize = given.BatchSize
	case "lr":
		o.LR = given.LR
	case "momentum":
		o.Momentum = given.Momentum
	case "weight-decay":
		o.WeightDecay = given.WeightDecay
	case "nesterov":
		o.Nesterov = given.Nesterov
	case "schedule":
		o.Schedule = given.Schedule
	case "augment":
		o.Augment = given.Augment
	case "seed":
		o.Seed = given.Seed
	case "stop-at-train-acc":
		o.StopAtTrainAcc = given.StopAtTrainAcc
	case "steps-per-epoch":
		o.StepsPerEpoch = given.StepsPerEpoch
	case "test-images":
		o.TestImages = given.TestImages
	case "size":
		o.Size = given.Size
	}
}

func runBaseline(cmd *cobra.Command, rf *runFlags) error {
	o, err := rf.options(cmd.Flags())
	if err != nil {
		return err
	}
	if rf.data == "" {
		return fmt.Errorf("--data is required: a CIFAR-10 directory (cifar-10-batches-py " +
			"or -bin), or a tar or directory of train/ and test/ class folders")
	}
	if err := checkResumeFlags(cmd.Flags(), rf.resume); err != nil {
		return err
	}
	if rf.resume && rf.init != "" {
		return fmt.Errorf("--resume continues a run; --init starts one: give one of them")
	}
	run, err := newRun(rf, o)
	if err != nil {
		return err
	}
	switch {
	case rf.resume:
		run.ResumeEpochs = resumeEpochs(cmd.Flags(), rf.o.Epochs)
		err = run.Resume(rf.out)
	case rf.init != "":
		err = startFrom(run, rf.init, cmd.Flags().Changed("stem"))
	default:
		err = run.Start(nil)
	}
	if err != nil {
		return err
	}
	if err := run.Train(cmd.Context()); err != nil {
		return err
	}
	st := run.State()
	fmt.Fprintf(cmd.OutOrStdout(), "trained %d epochs (%d steps); best test accuracy "+
		"%.2f%% at epoch %d; checkpoints in %s\n", st.Epoch, st.Step, st.BestAcc,
		st.BestEpoch, rf.out)
	return nil
}

func newRun(rf *runFlags, o train.Options) (*train.Run, error) {
	trainSet, testSet, err := loadData(rf.data, rf.testData)
	if err != nil {
		return nil, err
	}
	b, err := backend.New(rf.backend)
	if err != nil {
		return nil, err
	}
	slog.Info("training", "backend", backend.Describe(b), "preset", o.Preset,
		"stem", o.Stem, "train_images", len(trainSet.Samples),
		"test_images", len(testSet.Samples))
	return &train.Run{Options: o, Out: rf.out, TrainSet: trainSet, TestSet: testSet,
		Backend: b, Keep: rf.keep, Workers: rf.workers, Log: slog.Default(),
		Status: os.Stderr}, nil
}

func loadData(data, testData string) (trainSet, testSet *dataset.Dataset, err error) {
	if trainSet, err = dataset.Load(data, dataset.Train); err != nil {
		return nil, nil, fmt.Errorf("training set: %w", err)
	}
	if testData == "" {
		testData = data
	}
	if testSet, err = dataset.Load(testData, dataset.Test); err != nil {
		return nil, nil, fmt.Errorf("test set: %w", err)
	}
	return trainSet, testSet, nil
}

func startFrom(run *train.Run, ckpt string, stemGiven bool) error {
	dir, err := train.ResolveCheckpoint(ckpt)
	if err != nil {
		if st, statErr := os.Stat(ckpt); statErr == nil && !st.IsDir() {
			return fmt.Errorf("--init takes a GoMLX checkpoint; convert %s first with "+
				"`mocokit convert pth2gomlx %s -o DIR`", ckpt, ckpt)
		}
		return err
	}
	c, err := train.ReadCheckpoint(dir)
	if err != nil {
		return err
	}
	if stem := c.State.Config.Stem; stemGiven && run.Options.Stem != stem {
		return fmt.Errorf("--stem %s, but the weights of %s have the %s stem", run.Options.Stem,
			ckpt, stem)
	}
	run.Options.Stem = c.State.Config.Stem
	return run.Start(c.Weights)
}
