package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// LoadFolder reads a directory whose subfolders are classes holding image
// files (JPEG, PNG, GIF, BMP, TIFF, WebP). Samples come in class order (see
// Load), then file name order; other files are ignored.
func LoadFolder(dir string) (*Dataset, error) {
	subdirs, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	var entries []fileEntry
	loose := 0
	for _, d := range subdirs {
		if strings.HasPrefix(d.Name(), ".") {
			continue
		}
		if !d.IsDir() {
			if isImageName(d.Name()) {
				loose++
			}
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, d.Name()))
		if err != nil {
			return nil, fmt.Errorf("dataset: %w", err)
		}
		for _, f := range files {
			if !f.IsDir() && isImageName(f.Name()) && !strings.HasPrefix(f.Name(), ".") {
				entries = append(entries, fileEntry{class: d.Name(),
					name: filepath.Join(d.Name(), f.Name())})
			}
		}
	}
	if len(entries) == 0 {
		if loose > 0 {
			return nil, fmt.Errorf("dataset: %s: unknown layout: %d images but no "+
				"class subfolders (want <class>/<image>)", dir, loose)
		}
		return nil, fmt.Errorf("dataset: %s: no images in class subfolders", dir)
	}
	read := func(e fileEntry) ([]byte, error) { return os.ReadFile(filepath.Join(dir, e.name)) }
	ds, err := build(entries, read)
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", dir, err)
	}
	return ds, nil
}

// build orders entries, decodes them on all cores and labels them. read
// fetches an entry's bytes; nil means the entries carry them.
func build(entries []fileEntry, read func(fileEntry) ([]byte, error)) (*Dataset, error) {
	classes := classList(uniqueClasses(entries))
	labels, err := sortEntries(entries, classes)
	if err != nil {
		return nil, err
	}
	samples := make([]Sample, len(entries))
	errs := make([]error, len(entries))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				samples[i], errs[i] = decodeEntry(entries[i], labels[i], read)
			}
		}()
	}
	for i := range entries {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err // the first in sample order, so errors are stable
		}
	}
	return &Dataset{Classes: classes, Samples: samples}, nil
}

func decodeEntry(e fileEntry, label int, read func(fileEntry) ([]byte, error)) (
	Sample, error) {
	data := e.data
	if read != nil {
		var err error
		if data, err = read(e); err != nil {
			return Sample{}, err
		}
	}
	img, err := decodeImage(e.name, data)
	if err != nil {
		return Sample{}, err
	}
	return Sample{Image: img, Label: label, Name: e.name}, nil
}
