package dataset

import (
	"fmt"
	"sort"
)

// fileEntry is an image file found in a folder or archive, before decoding.
type fileEntry struct {
	class string
	name  string // path inside the folder or archive, for errors and Sample.Name
	data  []byte // nil when read lazily from name
}

// classList orders class names: CIFAR-10's label order when every name is a
// CIFAR-10 class (so that labels agree with CIFAR-10 models even when some
// classes are absent), sorted names otherwise.
func classList(names []string) []string {
	index := map[string]int{}
	for i, c := range CIFAR10Classes {
		index[c] = i
	}
	allCIFAR := len(names) > 0
	for _, n := range names {
		if _, ok := index[n]; !ok {
			allCIFAR = false
		}
	}
	if allCIFAR {
		return append([]string(nil), CIFAR10Classes...)
	}
	out := append([]string(nil), names...)
	sort.Strings(out)
	return out
}

// sortEntries orders entries by class (in classes' order) then name, and
// returns each entry's label.
func sortEntries(entries []fileEntry, classes []string) ([]int, error) {
	label := map[string]int{}
	for i, c := range classes {
		label[c] = i
	}
	for _, e := range entries {
		if _, ok := label[e.class]; !ok {
			return nil, fmt.Errorf("class %q not in %v", e.class, classes)
		}
	}
	sort.SliceStable(entries, func(a, b int) bool {
		la, lb := label[entries[a].class], label[entries[b].class]
		if la != lb {
			return la < lb
		}
		return entries[a].name < entries[b].name
	})
	labels := make([]int, len(entries))
	for i, e := range entries {
		labels[i] = label[e.class]
	}
	return labels, nil
}

// uniqueClasses lists the distinct classes of entries.
func uniqueClasses(entries []fileEntry) []string {
	seen := map[string]bool{}
	var names []string
	for _, e := range entries {
		if !seen[e.class] {
			seen[e.class] = true
			names = append(names, e.class)
		}
	}
	return names
}
