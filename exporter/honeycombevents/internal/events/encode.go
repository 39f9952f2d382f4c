// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package events // import "github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Format is the wire encoding of a batch.
type Format uint8

const (
	// FormatJSON writes `[{"time":..,"samplerate":..,"data":{..}},..]`.
	FormatJSON Format = iota
	// FormatMsgpack writes the same structure in msgpack, the time as a
	// msgpack timestamp extension (as libhoney-go does).
	FormatMsgpack
)

// AppendEvent appends one encoded event (no separator) to dst.
func AppendEvent(dst []byte, f Format, ev *Event) []byte {
	if f == FormatMsgpack {
		return appendMsgpackEvent(dst, ev)
	}
	return appendJSONEvent(dst, ev)
}

func appendJSONEvent(dst []byte, ev *Event) []byte {
	dst = append(dst, '{')
	if ev.TimeUnixNano != 0 {
		dst = append(dst, `"time":"`...)
		dst = time.Unix(0, ev.TimeUnixNano).UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, `",`...)
	}
	if ev.SampleRate != 1 {
		dst = append(dst, `"samplerate":`...)
		dst = strconv.AppendInt(dst, ev.SampleRate, 10)
		dst = append(dst, ',')
	}
	dst = append(dst, `"data":{`...)
	for i := range ev.Fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		fl := &ev.Fields[i]
		dst = appendJSONString(dst, fl.Key)
		dst = append(dst, ':')
		switch fl.Kind {
		case KindString:
			dst = appendJSONString(dst, fl.Str)
		case KindInt:
			dst = strconv.AppendInt(dst, fl.Int(), 10)
		case KindFloat:
			dst = appendJSONFloat(dst, math.Float64frombits(fl.Num))
		case KindBool:
			if fl.Num == 1 {
				dst = append(dst, "true"...)
			} else {
				dst = append(dst, "false"...)
			}
		case KindID:
			dst = append(dst, '"')
			dst = appendHex(dst, fl.ID[:fl.IDLen])
			dst = append(dst, '"')
		}
	}
	return append(dst, "}}"...)
}

// appendJSONFloat formats like encoding/json; NaN and ±Inf, which JSON
// cannot carry, are written as null.
func appendJSONFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(dst, f, format, -1, 64)
}

// jsonSafe marks the bytes that go into a JSON string as they are.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendMsgpackEvent(dst []byte, ev *Event) []byte {
	n := 1
	if ev.TimeUnixNano != 0 {
		n++
	}
	if ev.SampleRate != 1 {
		n++
	}
	dst = append(dst, 0x80|byte(n))
	if ev.TimeUnixNano != 0 {
		dst = appendMsgpackStr(dst, "time")
		dst = appendMsgpackTime(dst, ev.TimeUnixNano)
	}
	if ev.SampleRate != 1 {
		dst = appendMsgpackStr(dst, "samplerate")
		dst = appendMsgpackInt(dst, ev.SampleRate)
	}
	dst = appendMsgpackStr(dst, "data")
	dst = appendMsgpackMapHeader(dst, len(ev.Fields))
	for i := range ev.Fields {
		fl := &ev.Fields[i]
		dst = appendMsgpackStr(dst, fl.Key)
		switch fl.Kind {
		case KindString:
			dst = appendMsgpackStr(dst, fl.Str)
		case KindInt:
			dst = appendMsgpackInt(dst, fl.Int())
		case KindFloat:
			dst = append(dst, 0xcb)
			dst = binary.BigEndian.AppendUint64(dst, fl.Num)
		case KindBool:
			if fl.Num == 1 {
				dst = append(dst, 0xc3)
			} else {
				dst = append(dst, 0xc2)
			}
		case KindID:
			dst = appendMsgpackStrHeader(dst, int(fl.IDLen)*2)
			dst = appendHex(dst, fl.ID[:fl.IDLen])
		}
	}
	return dst
}

// appendMsgpackMapHeader writes the header of a map of n >= 0 entries.
func appendMsgpackMapHeader(dst []byte, n int) []byte {
	switch {
	case n >= 0 && n < 16:
		return append(dst, 0x80|byte(n))
	case n >= 0 && n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xde), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(dst, 0xdf), u32(n))
	}
}

// appendMsgpackStrHeader writes the header of a string of n >= 0 bytes.
func appendMsgpackStrHeader(dst []byte, n int) []byte {
	switch {
	case n >= 0 && n < 32:
		return append(dst, 0xa0|byte(n))
	case n >= 0 && n <= math.MaxUint8:
		return append(dst, 0xd9, byte(n))
	case n >= 0 && n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(dst, 0xdb), u32(n))
	}
}

func appendMsgpackStr(dst []byte, s string) []byte {
	return append(appendMsgpackStrHeader(dst, len(s)), s...)
}

func appendMsgpackInt(dst []byte, v int64) []byte {
	switch {
	case v >= 0 && v < 128: // positive fixint
		return append(dst, byte(v))
	case v < 0 && v >= -32: // negative fixint: 0xe0 is -32, 0xff is -1
		return append(dst, 0xe0|byte(v+32))
	case v >= 0 && v <= math.MaxInt32: // int32, two's complement
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(v))
	case v < 0 && v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(v+1<<32))
	default: // int64
		return binary.BigEndian.AppendUint64(append(dst, 0xd3), intBits(v))
	}
}

// appendMsgpackTime writes the msgpack timestamp extension (type -1).
func appendMsgpackTime(dst []byte, unixNano int64) []byte {
	sec := unixNano / 1e9
	nsec := unixNano % 1e9
	if nsec < 0 {
		sec--
		nsec += 1e9
	}
	// 0 <= nsec < 1e9 from here on.
	if sec >= 0 && sec < 1<<34 && nsec >= 0 && nsec < 1e9 {
		if nsec == 0 && sec <= math.MaxUint32 {
			return binary.BigEndian.AppendUint32(append(dst, 0xd6, 0xff), uint32(sec))
		}
		return binary.BigEndian.AppendUint64(append(dst, 0xd7, 0xff), uint64(nsec)<<34|uint64(sec))
	}
	dst = append(dst, 0xc7, 12, 0xff)
	dst = binary.BigEndian.AppendUint32(dst, u32(int(nsec)))
	return binary.BigEndian.AppendUint64(dst, intBits(sec))
}
