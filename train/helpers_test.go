package train

import "math/rand/v2"

// randomBatch is n normalised-looking 32x32 images with labels, from seed.
func randomBatch(n int, seed uint64) Batch {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := Batch{Images: make([]float32, n*3*32*32), Labels: make([]int32, n), Size: 32}
	for i := range b.Images {
		b.Images[i] = float32(rng.NormFloat64())
	}
	for i := range b.Labels {
		b.Labels[i] = int32(rng.IntN(10))
	}
	return b
}
