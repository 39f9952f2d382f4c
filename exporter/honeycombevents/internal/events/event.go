// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package events maps pdata to Honeycomb events (as Honeycomb's own OTLP
// translation does), encodes them as JSON or msgpack straight from pdata
// memory, and packs them into Events API batches under the configured limits.
package events // import "github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"

import (
	"math"
	"unicode/utf8"
)

// Kind is the type of a field's value.
type Kind uint8

const (
	// KindString is a string value held in Field.Str.
	KindString Kind = iota
	// KindInt is an int64 held in Field.Num.
	KindInt
	// KindFloat is a float64 whose bits are held in Field.Num.
	KindFloat
	// KindBool is a bool held in Field.Num (0 or 1).
	KindBool
	// KindID is a trace or span id held in Field.ID[:Field.IDLen], written as lowercase hex.
	KindID
)

// Field is one key/value of an event. Strings point into pdata memory; a
// Field never owns a copy unless the mapping had to build one (flattened
// keys, JSON-encoded arrays).
type Field struct {
	Key   string
	Str   string
	Num   uint64
	ID    [16]byte
	Kind  Kind
	IDLen uint8
	// Fixed marks the fields the mapping always sets (ids, name, meta.*).
	// Trimming never drops or truncates them.
	Fixed bool
}

// Event is one Honeycomb event before encoding.
type Event struct {
	// TimeUnixNano is the event time; 0 leaves "time" out so the server stamps it.
	TimeUnixNano int64
	// SampleRate is sent as "samplerate" when it is not 1.
	SampleRate int64
	Fields     []Field
}

func strField(key, val string, fixed bool) Field {
	return Field{Key: key, Str: val, Kind: KindString, Fixed: fixed}
}

func intField(key string, v int64, fixed bool) Field {
	return Field{Key: key, Num: intBits(v), Kind: KindInt, Fixed: fixed}
}

// Int is the value of a KindInt field.
func (f *Field) Int() int64 { return bitsInt(f.Num) }

// intBits and bitsInt store an int64 in Field.Num and read it back: a
// two's complement bit cast, as math.Float64bits is for floats. No value is
// lost, so gosec's overflow check (G115) does not apply.
func intBits(v int64) uint64 { return uint64(v) } //nolint:gosec // G115: a bit cast, undone by bitsInt

func bitsInt(u uint64) int64 { return int64(u) } //nolint:gosec // G115: a bit cast, undoes intBits

// u32 converts a length or count to the 32 bits msgpack gives it. The limits
// keep every length far below 4 GiB (max_batch_bytes is at most 5 MB).
func u32(n int) uint32 {
	if n < 0 || n > math.MaxUint32 {
		panic("events: length out of the uint32 range")
	}
	return uint32(n)
}

// index32 converts the index of an item of a request: items are indexed
// with int32, and a request holds far fewer than 2^31 of them.
func index32(i int) int32 {
	if i < 0 || i > math.MaxInt32 {
		panic("events: item index out of the int32 range")
	}
	return int32(i)
}

func floatField(key string, v float64, fixed bool) Field {
	return Field{Key: key, Num: math.Float64bits(v), Kind: KindFloat, Fixed: fixed}
}

func boolField(key string, v bool, fixed bool) Field {
	f := Field{Key: key, Kind: KindBool, Fixed: fixed}
	if v {
		f.Num = 1
	}
	return f
}

// traceIDField follows Honeycomb: a 16-byte id whose first 8 bytes are zero
// is written as 16 hex digits.
func traceIDField(key string, id [16]byte) Field {
	f := Field{Key: key, Kind: KindID, Fixed: true}
	var zero [8]byte
	if [8]byte(id[:8]) == zero {
		copy(f.ID[:], id[8:])
		f.IDLen = 8
		return f
	}
	f.ID = id
	f.IDLen = 16
	return f
}

func spanIDField(key string, id [8]byte) Field {
	f := Field{Key: key, Kind: KindID, Fixed: true, IDLen: 8}
	copy(f.ID[:], id[:])
	return f
}

// Value returns the field's value as the Go type a JSON or msgpack decoder
// produces for it (string, int64, float64, bool); used by tests and tools.
func (f *Field) Value() any {
	switch f.Kind {
	case KindInt:
		return f.Int()
	case KindFloat:
		return math.Float64frombits(f.Num)
	case KindBool:
		return f.Num == 1
	case KindID:
		return string(appendHex(nil, f.ID[:f.IDLen]))
	default:
		return f.Str
	}
}

const hexDigits = "0123456789abcdef"

func appendHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
