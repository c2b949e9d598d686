// Package dataset reads labelled image datasets: CIFAR-10 in its original
// python pickle and binary layouts, and folders (or tar archives) of class
// subfolders of image files.
package dataset

import "image"

// CIFAR10Classes are CIFAR-10's class names in label order.
var CIFAR10Classes = []string{"airplane", "automobile", "bird", "cat", "deer",
	"dog", "frog", "horse", "ship", "truck"}

// Split selects the training or the test part of a dataset.
type Split string

const (
	Train Split = "train"
	Test  Split = "test"
)

// Sample is one labelled image.
type Sample struct {
	Image image.Image
	Label int    // index into Dataset.Classes
	Name  string // file name, or batch file and row
}

// Dataset is a list of labelled images with the names of their classes.
type Dataset struct {
	Classes []string
	Samples []Sample
}
