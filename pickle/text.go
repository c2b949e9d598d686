package pickle

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeLong decodes a little-endian two's complement integer, as LONG1 and
// LONG4 carry it, into an int64 when it fits and a *big.Int otherwise.
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var u uint64
		for i := len(b) - 1; i >= 0; i-- {
			u = u<<8 | uint64(b[i])
		}
		shift := uint(64 - 8*len(b))
		return int64(u<<shift) >> shift
	}
	be := make([]byte, len(b))
	for i, c := range b {
		be[len(b)-1-i] = c
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if v.IsInt64() {
		return v.Int64()
	}
	return v
}

// parseTextNumber decodes the protocol 0 INT, LONG and FLOAT arguments.
func parseTextNumber(op byte, s string) (any, error) {
	switch op {
	case opFloat:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("bad FLOAT %q", s)
		}
		return f, nil
	case opInt:
		// Protocol 0 writes booleans as INT 00 and 01.
		if s == "00" {
			return false, nil
		}
		if s == "01" {
			return true, nil
		}
	}
	s = strings.TrimSuffix(s, "L")
	if len(s) > 2*DefaultMaxLongBytes+2 {
		return nil, fmt.Errorf("integer literal of %d digits is too long", len(s))
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, fmt.Errorf("bad integer %q", s)
	}
	return v, nil
}

func parseIndex(b []byte) (int, error) {
	v, err := strconv.ParseInt(string(b), 10, 32)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad memo index %q", b)
	}
	return int(v), nil
}

// unquotePy decodes the repr of a Python 2 str written by STRING.
func unquotePy(b []byte) ([]byte, error) {
	if len(b) < 2 || (b[0] != '\'' && b[0] != '"') || b[len(b)-1] != b[0] {
		return nil, fmt.Errorf("STRING argument %q is not quoted", truncate(b))
	}
	b = b[1 : len(b)-1]
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 >= len(b) {
			return nil, fmt.Errorf("STRING ends in a backslash")
		}
		i++
		switch e := b[i]; e {
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case '\\', '\'', '"':
			out = append(out, e)
		case 'x':
			if i+2 >= len(b) {
				return nil, fmt.Errorf("short \\x escape in STRING")
			}
			v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8)
			if err != nil {
				return nil, fmt.Errorf("bad \\x escape in STRING")
			}
			out = append(out, byte(v))
			i += 2
		default:
			n, v := octal(b[i:])
			if n == 0 {
				out = append(out, '\\', e)
				continue
			}
			out = append(out, byte(v))
			i += n - 1
		}
	}
	return out, nil
}

func octal(b []byte) (int, int) {
	n, v := 0, 0
	for n < 3 && n < len(b) && b[n] >= '0' && b[n] <= '7' {
		v = v*8 + int(b[n]-'0')
		n++
	}
	return n, v
}

// rawUnicodeEscape decodes Python's raw-unicode-escape codec: bytes are
// Latin-1 code points, except \uXXXX and \UXXXXXXXX.
func rawUnicodeEscape(b []byte) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\\' && i+1 < len(b) && (b[i+1] == 'u' || b[i+1] == 'U') {
			n := 4
			if b[i+1] == 'U' {
				n = 8
			}
			if i+2+n > len(b) {
				return "", fmt.Errorf("short \\u escape in UNICODE")
			}
			v, err := strconv.ParseUint(string(b[i+2:i+2+n]), 16, 32)
			if err != nil || v > utf8.MaxRune {
				return "", fmt.Errorf("bad \\u escape in UNICODE")
			}
			sb.WriteRune(rune(v))
			i += 1 + n
			continue
		}
		sb.WriteRune(rune(c))
	}
	return sb.String(), nil
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
