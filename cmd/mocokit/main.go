// Command mocokit converts, serves and queries ResNet-18 image models
// trained on CIFAR-10: PyTorch checkpoints in, ONNX out, ONNX into an HTTP
// server running onnxruntime.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "mocokit:", err)
		stop()
		os.Exit(1)
	}
}

func rootCommand() *cobra.Command {
	var verbose bool
	root := &cobra.Command{
		Use:           "mocokit",
		Short:         "ResNet-18 on CIFAR-10: train in Go, convert PyTorch checkpoints, serve ONNX",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(*cobra.Command, []string) {
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			h := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})
			slog.SetDefault(slog.New(h))
		},
	}
	root.PersistentFlags().BoolVarP(&verbose, "verbose", "v", false, "log at debug level")
	root.AddCommand(convertCommand(), serveCommand(), classifyCommand(), modelsCommand(),
		trainCommand(), exportCommand())
	return root
}
