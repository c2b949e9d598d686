package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mocokit/mocokit/client"
)

func classifyCommand() *cobra.Command {
	var (
		server string
		topk   int
	)
	cmd := &cobra.Command{
		Use:   "classify FILE... [--server URL]",
		Short: "Send images to a mocokit server and print the top predictions",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if topk < 1 {
				return fmt.Errorf("--topk %d: want 1 or more", topk)
			}
			c, err := client.New(server)
			if err != nil {
				return err
			}
			failed := 0
			for _, file := range files {
				if err := classifyFile(cmd, c, file, topk); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					failed++
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d files failed", failed, len(files))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "http://localhost:8080", "server URL")
	cmd.Flags().IntVar(&topk, "topk", 5, "predictions to show per file")
	return cmd
}

func classifyFile(cmd *cobra.Command, c *client.Client, file string, topk int) error {
	f, err := os.Open(file)
	if err != nil {
		return err // names the file
	}
	defer f.Close()
	res, err := c.Classify(cmd.Context(), filepath.Base(file), f, topk)
	if err != nil {
		return err
	}
	return client.PrintPredictions(cmd.OutOrStdout(), file, res)
}
