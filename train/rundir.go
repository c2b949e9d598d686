package train

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/mocokit/mocokit/train/record"
)

// A run directory holds one checkpoint directory per kept epoch
// (epoch-0007), the links last and best to the newest and the best of
// them, record.json and curves.png.
const (
	lastLink   = "last"
	bestLink   = "best"
	epochGlob  = "epoch-*"
	RecordFile = "record.json"
	PlotFile   = "curves.png"
)

func epochDirName(epoch int) string { return fmt.Sprintf("epoch-%04d", epoch) }

// saveEpoch writes the checkpoint of a finished epoch, points last (and
// best, when isBest) at it, and removes the oldest epochs beyond keep,
// never the one best points at. Every link changes by an atomic rename, so
// a crash leaves last and best naming whole checkpoints.
func saveEpoch(out string, c *Checkpoint, isBest bool, keep int) error {
	name := epochDirName(c.State.Epoch)
	if err := os.RemoveAll(filepath.Join(out, name)); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := WriteCheckpoint(filepath.Join(out, name), c); err != nil {
		return err
	}
	if err := relink(out, lastLink, name); err != nil {
		return err
	}
	if isBest {
		if err := relink(out, bestLink, name); err != nil {
			return err
		}
	}
	return prune(out, keep)
}

func relink(dir, link, target string) error {
	tmp := filepath.Join(dir, ".tmp-"+link)
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("train: link %s: %w", link, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, link)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("train: link %s: %w", link, err)
	}
	return nil
}

func prune(dir string, keep int) error {
	if keep < 1 {
		return nil
	}
	epochs, err := filepath.Glob(filepath.Join(dir, epochGlob))
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	sort.Strings(epochs)
	best, _ := os.Readlink(filepath.Join(dir, bestLink))
	last, _ := os.Readlink(filepath.Join(dir, lastLink))
	for len(epochs) > keep {
		old := epochs[0]
		epochs = epochs[1:]
		if base := filepath.Base(old); base == best || base == last {
			continue
		}
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("train: removing old checkpoint: %w", err)
		}
	}
	return nil
}

// ResolveCheckpoint turns what a user passes to --resume or export (a run
// directory, whose last checkpoint is meant, or a checkpoint directory)
// into a checkpoint directory.
func ResolveCheckpoint(path string) (string, error) {
	if _, err := os.Stat(filepath.Join(path, stateFile)); err == nil {
		return path, nil
	}
	last := filepath.Join(path, lastLink)
	if _, err := os.Stat(filepath.Join(last, stateFile)); err == nil {
		return last, nil
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	return "", fmt.Errorf("train: %s is neither a checkpoint (no %s) nor a run "+
		"directory with a %q checkpoint", path, stateFile, lastLink)
}

// checkFreshRunDir refuses to start a run where one already is, which would
// mix the two runs' checkpoints and overwrite the first one's record.
func checkFreshRunDir(out string) error {
	for _, name := range []string{RecordFile, lastLink} {
		if _, err := os.Lstat(filepath.Join(out, name)); err == nil {
			return fmt.Errorf("train: %s already holds a run (%s); continue it with "+
				"--resume or choose another directory", out, name)
		}
	}
	return nil
}

// sameClasses checks a dataset's class names against a checkpoint's.
func sameClasses(c *Checkpoint, classes []string) error {
	want := c.State.Metadata.Classes
	if len(want) == 0 {
		want = make([]string, c.State.Config.NumClasses)
		for i := range want {
			want[i] = fmt.Sprint(i)
		}
		if len(classes) == len(want) {
			return nil // a checkpoint without names: only the count can be checked
		}
	}
	if !slices.Equal(want, classes) {
		return fmt.Errorf("the checkpoint's classes are %v, the dataset's %v", want, classes)
	}
	return nil
}

// openResume reads the checkpoint a resumed run continues from (a
// checkpoint directory, or a run directory's last), checks its kind,
// decodes the options the run started with into opts, and reads the run's
// record cut back to the checkpoint's epoch.
func openResume(dir, out, kind string, opts any, log *slog.Logger) (*Checkpoint,
	*record.Record, error) {
	dir, err := ResolveCheckpoint(dir)
	if err != nil {
		return nil, nil, err
	}
	c, err := ReadCheckpoint(dir)
	if err != nil {
		return nil, nil, err
	}
	if c.State.Kind != kind {
		return nil, nil, fmt.Errorf("train: %s is a %q checkpoint, not a %s one", dir,
			c.State.Kind, kind)
	}
	if err := json.Unmarshal(c.State.Options, opts); err != nil {
		return nil, nil, fmt.Errorf("train: options in %s: %w", dir, err)
	}
	rec, err := record.ReadJSON(filepath.Join(out, RecordFile))
	if err != nil {
		return nil, nil, fmt.Errorf("train: resuming needs the run's record: %w", err)
	}
	rec.Truncate(c.State.Epoch)
	log.Info("resuming", "checkpoint", dir, "epoch", c.State.Epoch, "step", c.State.Step)
	return c, rec, nil
}

// writeRecord writes a run's record and its curves after an epoch.
func writeRecord(out string, rec *record.Record) error {
	if err := rec.WriteJSON(filepath.Join(out, RecordFile)); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := rec.Plot(filepath.Join(out, PlotFile)); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}
