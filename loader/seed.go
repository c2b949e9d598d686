package loader

import "math/rand/v2"

// Streams of random numbers. Each is a PCG generator whose two seed words
// are hashes of the loader's seed and of what the stream is for, so that
// no two streams share a state and none depends on another's use.
const (
	streamPermutation = 0x7065726d // "perm"
	streamAugment     = 0x61756720 // "aug "
)

// mix is SplitMix64's finaliser: a bijection that scatters nearby inputs.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// permutationRNG draws the order of epoch's samples.
func permutationRNG(seed uint64, epoch int) *rand.Rand {
	return rand.New(rand.NewPCG(mix(seed^mix(streamPermutation)), mix(uint64(epoch))))
}

// augmentRNG draws the augmentation of view of sample index in epoch.
// The second seed word is a bijection of the index, so the samples of one
// epoch and view never share a generator state.
func augmentRNG(seed uint64, epoch, index, view int) *rand.Rand {
	hi := mix(seed ^ mix(streamAugment^mix(uint64(epoch))^mix(mix(uint64(view)))))
	return rand.New(rand.NewPCG(hi, mix(uint64(index))))
}

// order returns the sample indices of epoch in the order they are served.
func (l *Loader) order(epoch int) []int {
	n := len(l.ds.Samples)
	if l.cfg.Shuffle {
		return permutationRNG(l.cfg.Seed, epoch).Perm(n)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}
