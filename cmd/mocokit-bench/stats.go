package main

import (
	"bytes"
	"mime/multipart"
	"runtime"
	"sort"
	"time"
)

// serveThreads is the server's default intra-op thread count.
var serveThreads = runtime.NumCPU()

func summarise(lat []time.Duration, images int, elapsed time.Duration) cell {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond)
	}
	return cell{ImagesPerS: float64(images) / elapsed.Seconds(), P50ms: pct(0.5),
		P99ms: pct(0.99)}
}

func multipartImage(data []byte) ([]byte, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	fw, _ := w.CreateFormFile("img", "image.png")
	fw.Write(data)
	w.Close()
	return b.Bytes(), w.FormDataContentType()
}
