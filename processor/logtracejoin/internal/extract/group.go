// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package extract // import "github.com/prodscope/prodscope/processor/logtracejoin/internal/extract"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// A group is one field set: the fields of one map or JSON object (dotted
// keys matched through nested objects included), or the key=value fields of
// one line of text. A record's trace id, span id and flags always come from
// one group, never mixed across groups: a span id is never paired with a
// trace id it was not written beside.
//
// Values are parsed when they are offered: an invalid value is counted and
// forgotten, and per kind the valid value of the highest-priority key is
// kept, so that every candidate is tried and a group needs no list.
type group struct {
	mask uint32
	// seen: a value of an id kind was offered, valid or not: the field set
	// carries ids of its own, and text nested in its values is not read.
	seen bool
	prio [numKinds]uint16
	ctx  [numKinds]Context
	// tidConv is the convention of the kept trace id's key.
	tidConv Convention
	// loc is where the kept value of each kind was found (maps only), for
	// remove_source_fields.
	loc [numKinds]fieldLoc
}

// fieldLoc locates a field in a map; parent is set when the field was
// matched through a dotted key's parent ({"trace":{"id":…}}), so that a
// parent left empty is removed too.
type fieldLoc struct {
	m         pcommon.Map
	key       string
	parent    pcommon.Map
	parentKey string
	hasParent bool
}

func (g *group) reset()          { g.mask, g.seen = 0, false }
func (g *group) has(k kind) bool { return g.mask&(1<<k) != 0 }

// value is an offered value in the form it was found.
type value struct {
	typ valType
	s   string
	n   int64
}

type valType uint8

const (
	vtNone valType = iota
	vtStr
	vtInt
	vtBool
	vtBytes
	vtOther
)

// offer parses v as a value of info's kind and keeps it when it is valid
// and its key ranks above the kept one. It reports whether it was kept.
func (g *group) offer(info keyInfo, v value, inv *[NumReasons]uint32) bool {
	k := info.kind
	if k == kindCorrelation || k == kindNone {
		return false
	}
	g.seen = true
	if g.has(k) && info.prio >= g.prio[k] {
		return false
	}
	// the common kinds are written in place, without a Context on the side
	switch k {
	case kindTraceID:
		id, r := traceIDOf(info, v)
		if r != ReasonNone {
			inv[r]++
			return false
		}
		g.ctx[k].TraceID = id
		g.tidConv = info.conv
		g.keep(k, info.prio)
		return true
	case kindSpanID:
		id, r := spanIDOf(info, v)
		if r != ReasonNone {
			inv[r]++
			return false
		}
		g.ctx[k].SpanID = id
		g.keep(k, info.prio)
		return true
	}
	var c Context
	r := ReasonNone
	switch k {
	case kindTraceparent:
		r = ReasonFormat
		if v.typ == vtStr {
			c, r = ParseTraceparent(v.s)
		}
	case kindFlags, kindGoogleSampled:
		var ok bool
		if c.Flags, ok = flagsOf(v); !ok {
			r = ReasonFormat
		}
		if k == kindGoogleSampled {
			c.Flags &= sampledFlag
		}
	case kindGoogleTrace:
		r = ReasonFormat
		if v.typ == vtStr {
			c.TraceID, r = ParseGoogleTrace(v.s)
		}
	case kindGoogleSpan:
		switch v.typ {
		case vtStr:
			c.SpanID, r = ParseGoogleSpanID(v.s)
		case vtInt:
			c.SpanID, r = spanIDOf(info, v)
		default:
			r = ReasonFormat
		}
	case kindJaeger, kindB3, kindXRay, kindCloudTrace:
		if v.typ != vtStr {
			r = ReasonFormat
			break
		}
		switch k {
		case kindJaeger:
			c, r = ParseJaeger(v.s)
		case kindB3:
			if len(v.s) == 1 {
				return false // "0": a sampling decision without ids
			}
			c, r = ParseB3Single(v.s)
		case kindXRay:
			c, r = ParseXRay(v.s)
		case kindCloudTrace:
			c, r = ParseCloudTraceContext(v.s)
		}
	}
	if r != ReasonNone {
		inv[r]++
		return false
	}
	g.ctx[k] = c
	g.keep(k, info.prio)
	return true
}

func (g *group) keep(k kind, prio uint16) {
	g.prio[k] = prio
	g.mask |= 1 << k
}

// resolve picks the context of the group, conventions in this order:
// traceparent, trace_id (with span_id and flags of the same group), Google,
// Jaeger, B3, X-Ray, X-Cloud-Trace-Context. It returns the kinds used.
func (g *group) resolve(dst *Context) (used uint32, ok bool) {
	if g.mask != 0 {
		used, ok = g.pick(dst)
	}
	return
}

func (g *group) pick(dst *Context) (uint32, bool) {
	if g.has(kindTraceparent) {
		*dst = g.ctx[kindTraceparent]
		dst.Conv = ConvW3C
		return 1 << kindTraceparent, true
	}
	if g.has(kindTraceID) {
		return g.withSiblings(dst, kindTraceID, kindSpanID, kindFlags, g.tidConv)
	}
	if g.has(kindGoogleTrace) {
		return g.withSiblings(dst, kindGoogleTrace, kindGoogleSpan, kindGoogleSampled, ConvGoogle)
	}
	for _, k := range [...]struct {
		k    kind
		conv Convention
	}{{kindJaeger, ConvJaeger}, {kindB3, ConvB3}, {kindXRay, ConvXRay}, {kindCloudTrace, ConvCloudTrace}} {
		if g.has(k.k) {
			*dst = g.ctx[k.k]
			dst.Conv = k.conv
			return 1 << k.k, true
		}
	}
	return 0, false
}

func (g *group) withSiblings(dst *Context, t, s, f kind, conv Convention) (uint32, bool) {
	*dst = Context{TraceID: g.ctx[t].TraceID, Conv: conv}
	used := uint32(1) << t
	if g.has(s) {
		dst.SpanID, dst.HasSpan = g.ctx[s].SpanID, true
		used |= 1 << s
	}
	if g.has(f) {
		dst.Flags, dst.HasFlags = g.ctx[f].Flags, true
		used |= 1 << f
	}
	return used, true
}

// removeUsed removes the map fields the context was taken from.
func (g *group) removeUsed(used uint32) {
	for k := kindNone; k < numKinds; k++ {
		if used&(1<<k) == 0 || !g.has(k) {
			continue
		}
		l := &g.loc[k]
		l.m.Remove(l.key)
		if l.hasParent && l.m.Len() == 0 {
			// {"trace":{}} left by the removal goes too
			l.parent.Remove(l.parentKey)
		}
	}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func traceIDOf(info keyInfo, v value) ([16]byte, Reason) {
	switch v.typ {
	case vtStr:
		if info.decimal() && isDigits(v.s) {
			// Datadog: a decimal 64-bit id (the low half) or a decimal
			// 128-bit id (up to 39 digits)
			return ParseUint128Decimal(v.s)
		}
		return ParseTraceIDHex(v.s)
	case vtInt:
		if v.n == 0 {
			return [16]byte{}, ReasonAllZero
		}
		return TraceIDFromUint64(idBits(v.n)), ReasonNone
	case vtBytes:
		var id [16]byte
		if len(v.s) != 16 {
			return id, ReasonLength
		}
		copy(id[:], v.s)
		if allZero(id[:]) {
			return id, ReasonAllZero
		}
		return id, ReasonNone
	}
	return [16]byte{}, ReasonFormat
}

func spanIDOf(info keyInfo, v value) ([8]byte, Reason) {
	switch v.typ {
	case vtStr:
		if info.decimal() && isDigits(v.s) {
			n, r := ParseUint64Decimal(v.s)
			if r != ReasonNone {
				return [8]byte{}, r
			}
			return SpanIDFromUint64(n), ReasonNone
		}
		return ParseSpanIDHex(v.s)
	case vtInt:
		if v.n == 0 {
			return [8]byte{}, ReasonAllZero
		}
		return SpanIDFromUint64(idBits(v.n)), ReasonNone
	case vtBytes:
		var id [8]byte
		if len(v.s) != 8 {
			return id, ReasonLength
		}
		copy(id[:], v.s)
		if allZero(id[:]) {
			return id, ReasonAllZero
		}
		return id, ReasonNone
	}
	return [8]byte{}, ReasonFormat
}

// idBits is the 64-bit id an integer value holds. OTLP integers are signed:
// a uint64 id above MaxInt64 arrives negative, and its bits are the id.
func idBits(n int64) uint64 {
	return uint64(n) //nolint:gosec // G115: the conversion keeps the bits, which is the point (see above)
}

func flagsOf(v value) (uint32, bool) {
	switch v.typ {
	case vtStr:
		return ParseFlagsString(v.s)
	case vtInt:
		if v.n < 0 || v.n > 0xff {
			return 0, false
		}
		return uint32(v.n), true
	case vtBool:
		if v.n != 0 {
			return sampledFlag, true
		}
		return 0, true
	}
	return 0, false
}

// valueOf converts a pcommon value (a captured header slice: its first
// element).
func valueOf(v pcommon.Value, t pcommon.ValueType) value {
	switch t {
	case pcommon.ValueTypeStr:
		return value{typ: vtStr, s: v.Str()}
	case pcommon.ValueTypeInt:
		return value{typ: vtInt, n: v.Int()}
	case pcommon.ValueTypeBool:
		if v.Bool() {
			return value{typ: vtBool, n: 1}
		}
		return value{typ: vtBool}
	case pcommon.ValueTypeBytes:
		return value{typ: vtBytes, s: string(v.Bytes().AsRaw())}
	case pcommon.ValueTypeSlice:
		if v.Slice().Len() > 0 {
			e := v.Slice().At(0)
			switch e.Type() {
			case pcommon.ValueTypeStr:
				return value{typ: vtStr, s: e.Str()}
			case pcommon.ValueTypeInt:
				return value{typ: vtInt, n: e.Int()}
			}
		}
	}
	return value{typ: vtOther}
}
