package serve

import (
	"bytes"
	"encoding/binary"
)

// maxJPEGScans is the most scans (SOS segments) an uploaded JPEG may have.
// image/jpeg goes over every block of the image once per scan, so a small
// progressive file with thousands of scans costs minutes of CPU, and no
// request timeout can interrupt a decoder. Encoders write one scan, or
// about ten for a progressive JPEG (libjpeg's default script has ten).
const maxJPEGScans = 100

// JPEG markers, as per ITU T.81 table B.1.
const (
	jpegEOI  = 0xd9 // End Of Image
	jpegSOS  = 0xda // Start Of Scan
	jpegRST0 = 0xd0 // RST0 to RST7: restart markers, with no segment
	jpegRST7 = 0xd7
)

// jpegScans counts the scans of a JPEG, stopping once past limit. It walks
// the marker segments as image/jpeg does, skipping each segment by its
// length, so that markers inside one (an EXIF thumbnail, say) are not
// counted, and entropy-coded data or junk byte by byte, where 0xFF is
// followed by 0x00 or a restart marker unless a marker starts. Where the
// data ends early it returns the scans so far: the decoder reports that.
func jpegScans(data []byte, limit int) int {
	scans := 0
	pos := 2 // past the Start Of Image marker
	for scans <= limit {
		marker, next := nextJPEGMarker(data, pos)
		if next < 0 || marker == jpegEOI || next+2 > len(data) {
			return scans
		}
		if marker == jpegSOS {
			scans++
		}
		n := int(binary.BigEndian.Uint16(data[next:])) // counts its own two bytes
		if n < 2 {
			return scans // image/jpeg refuses a short segment length
		}
		pos = next + n
	}
	return scans
}

// nextJPEGMarker finds the first marker that has a segment at or after
// pos, skipping other bytes, stuffed 0xFF00 pairs, fill bytes (0xFF) and
// restart markers as image/jpeg does. It returns the marker and the offset
// just past it, or -1 at the end of data.
func nextJPEGMarker(data []byte, pos int) (byte, int) {
	for pos < len(data) {
		i := bytes.IndexByte(data[pos:], 0xff)
		if i < 0 {
			return 0, -1
		}
		pos += i + 1
		for pos < len(data) && data[pos] == 0xff {
			pos++
		}
		if pos == len(data) {
			return 0, -1
		}
		marker := data[pos]
		pos++
		if marker != 0 && (marker < jpegRST0 || marker > jpegRST7) {
			return marker, pos
		}
	}
	return 0, -1
}
