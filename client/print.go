package client

import (
	"fmt"
	"io"
)

// PrintPredictions writes one line per prediction of file's result: the
// label and its probability in percent, most probable first. An embedding
// is summarised by its size.
func PrintPredictions(w io.Writer, file string, res *Result) error {
	if len(res.Predictions) == 0 {
		_, err := fmt.Fprintf(w, "%s: %d-value embedding from %s\n", file,
			len(res.Embedding), res.Model)
		return err
	}
	width := 0
	for _, p := range res.Predictions {
		width = max(width, len(p.Label))
	}
	for _, p := range res.Predictions {
		if _, err := fmt.Fprintf(w, "%s: %-*s %6.2f%%\n", file, width, p.Label,
			100*p.Probability); err != nil {
			return err
		}
	}
	return nil
}
