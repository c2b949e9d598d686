// Package inference runs exported mocokit models with onnxruntime (through
// github.com/yalue/onnxruntime_go): it finds and loads the shared library,
// opens a model once, reads its mocokit metadata (models.Metadata from the
// ONNX metadata_props) and runs batches of preprocessed images, from any
// number of goroutines at once.
//
// It also holds the preprocessing that turns an image.Image into the
// network's input exactly as torchvision's ToTensor and Normalize do, and the
// softmax and top-k that turn logits into predictions.
package inference
