// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package extract // import "github.com/prodscope/prodscope/processor/logtracejoin/internal/extract"

import (
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Source says where a trace context was found.
type Source uint8

const (
	// SourceNone: nothing valid was found.
	SourceNone Source = iota
	// SourceAttribute: the record's attributes.
	SourceAttribute
	// SourceBody: the record's body (map or string).
	SourceBody
)

// Result is the outcome of Extract for one record.
type Result struct {
	Source  Source
	Context Context
	// Invalid counts values that looked like ids but were refused, by reason.
	Invalid [NumReasons]uint32
	// CorrelationKey is the first correlation key value found (attributes
	// before body), set only when no trace context was found.
	CorrelationKey string

	// scratch space reused across records (a Result is reused by its caller)
	fa, fb found
}

// Extractor finds trace contexts in log records. It is safe for concurrent
// use: it holds only read-only configuration.
type Extractor struct {
	ks           *keySet
	fromBody     bool
	removeSource bool
}

// New compiles an Extractor.
func New(k Keys, fromBody, removeSource bool) *Extractor {
	return &Extractor{ks: newKeySet(k), fromBody: fromBody, removeSource: removeSource}
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

// candidate is the value of one configured key found in a record.
type candidate struct {
	set    bool
	nested bool
	typ    valType
	info   keyInfo
	s      string
	n      int64
	key    string
}

// found gathers, per kind, the highest-priority candidate of one source.
// Only the candidates whose bit is set in mask are valid, so that a found
// is reused across records by resetting two fields, not zeroing the array.
type found struct {
	mask uint32
	c    [numKinds]candidate
	corr candidate
}

func (f *found) reset() {
	f.mask = 0
	f.corr.set = false
}

func (f *found) has(k kind) bool { return f.mask&(1<<k) != 0 }

func (f *found) offer(info keyInfo, key string, nested bool, typ valType, s string, n int64) {
	if info.kind != kindCorrelation {
		c := &f.c[info.kind]
		if !f.has(info.kind) || info.prio < c.info.prio {
			*c = candidate{nested: nested, typ: typ, info: info, s: s, n: n, key: key}
			f.mask |= 1 << info.kind
		}
	}
	if info.corrPrio >= 0 && (typ == vtStr && s != "" || typ == vtInt) {
		if !f.corr.set || info.corrPrio < f.corr.info.corrPrio {
			f.corr = candidate{set: true, nested: nested, typ: typ, info: info, s: s, n: n, key: key}
		}
	}
}

func (f *found) offerValue(info keyInfo, key string, nested bool, v pcommon.Value) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		f.offer(info, key, nested, vtStr, v.Str(), 0)
	case pcommon.ValueTypeInt:
		f.offer(info, key, nested, vtInt, "", v.Int())
	case pcommon.ValueTypeBool:
		var n int64
		if v.Bool() {
			n = 1
		}
		f.offer(info, key, nested, vtBool, "", n)
	case pcommon.ValueTypeBytes:
		f.offer(info, key, nested, vtBytes, string(v.Bytes().AsRaw()), 0)
	case pcommon.ValueTypeSlice:
		// a header captured as a string slice (http.request.header.*): take the first element
		if v.Slice().Len() > 0 {
			e := v.Slice().At(0)
			switch e.Type() {
			case pcommon.ValueTypeStr:
				f.offer(info, key, nested, vtStr, e.Str(), 0)
			case pcommon.ValueTypeInt:
				f.offer(info, key, nested, vtInt, "", e.Int())
			default:
				f.offer(info, key, nested, vtOther, "", 0)
			}
		}
	default:
		f.offer(info, key, nested, vtOther, "", 0)
	}
}

func (e *Extractor) scanMap(m pcommon.Map, f *found) {
	ks := e.ks
	m.Range(func(k string, v pcommon.Value) bool {
		if info, ok := ks.lookup(k); ok {
			f.offerValue(info, k, false, v)
		}
		if v.Type() == pcommon.ValueTypeMap {
			if nks, ok := ks.nested[k]; ok {
				for i := range nks {
					if leaf, ok := getPath(v.Map(), nks[i].path); ok {
						f.offerValue(nks[i].info, nks[i].full, true, leaf)
					}
				}
			}
		}
		return true
	})
}

func getPath(m pcommon.Map, path []string) (pcommon.Value, bool) {
	for i, p := range path {
		v, ok := m.Get(p)
		if !ok {
			return pcommon.Value{}, false
		}
		if i == len(path)-1 {
			return v, true
		}
		if v.Type() != pcommon.ValueTypeMap {
			return pcommon.Value{}, false
		}
		m = v.Map()
	}
	return pcommon.Value{}, false
}

func removeKey(m pcommon.Map, c *candidate) {
	if !c.nested {
		m.Remove(c.key)
		return
	}
	path := strings.Split(c.key, ".")
	maps := []pcommon.Map{m}
	for _, p := range path[:len(path)-1] {
		v, ok := m.Get(p)
		if !ok || v.Type() != pcommon.ValueTypeMap {
			return
		}
		m = v.Map()
		maps = append(maps, m)
	}
	m.Remove(path[len(path)-1])
	// remove the parents the removal left empty ({"trace":{}} → gone)
	for i := len(maps) - 1; i > 0 && maps[i].Len() == 0; i-- {
		maps[i-1].Remove(path[i-1])
	}
}

func (f *found) removeUsed(m pcommon.Map, used uint32) {
	for k := kindNone; k < numKinds; k++ {
		if used&(1<<k) != 0 && f.has(k) {
			removeKey(m, &f.c[k])
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

func traceIDOf(c *candidate) ([16]byte, Reason) {
	switch c.typ {
	case vtStr:
		if c.info.decimal && isDigits(c.s) {
			v, r := ParseUint64Decimal(c.s)
			if r != ReasonNone {
				return [16]byte{}, r
			}
			return TraceIDFromUint64(v), ReasonNone
		}
		return ParseTraceIDHex(c.s)
	case vtInt:
		if c.n == 0 {
			return [16]byte{}, ReasonAllZero
		}
		return TraceIDFromUint64(uint64(c.n)), ReasonNone
	case vtBytes:
		var id [16]byte
		if len(c.s) != 16 {
			return id, ReasonLength
		}
		copy(id[:], c.s)
		if allZero(id[:]) {
			return id, ReasonAllZero
		}
		return id, ReasonNone
	}
	return [16]byte{}, ReasonFormat
}

func spanIDOf(c *candidate) ([8]byte, Reason) {
	switch c.typ {
	case vtStr:
		if c.info.decimal && isDigits(c.s) {
			v, r := ParseUint64Decimal(c.s)
			if r != ReasonNone {
				return [8]byte{}, r
			}
			return SpanIDFromUint64(v), ReasonNone
		}
		return ParseSpanIDHex(c.s)
	case vtInt:
		if c.n == 0 {
			return [8]byte{}, ReasonAllZero
		}
		return SpanIDFromUint64(uint64(c.n)), ReasonNone
	case vtBytes:
		var id [8]byte
		if len(c.s) != 8 {
			return id, ReasonLength
		}
		copy(id[:], c.s)
		if allZero(id[:]) {
			return id, ReasonAllZero
		}
		return id, ReasonNone
	}
	return [8]byte{}, ReasonFormat
}

func flagsOf(c *candidate) (uint32, bool) {
	switch c.typ {
	case vtStr:
		return ParseFlagsString(c.s)
	case vtInt:
		if c.n < 0 || c.n > 0xff {
			return 0, false
		}
		return uint32(c.n), true
	case vtBool:
		return uint32(c.n) & sampledFlag, true
	}
	return 0, false
}

// resolve picks the context from the gathered candidates, conventions in
// this order: traceparent, trace_id (+span_id, flags), Google, Jaeger. It
// returns the bit set of kinds whose keys were used.
func (f *found) resolve(inv *[NumReasons]uint32) (Context, uint32, bool) {
	var ctx Context
	if c := &f.c[kindTraceparent]; f.has(kindTraceparent) {
		if c.typ != vtStr {
			inv[ReasonFormat]++
		} else if tc, r := ParseTraceparent(c.s); r == ReasonNone {
			return tc, 1 << kindTraceparent, true
		} else {
			inv[r]++
		}
	}
	if c := &f.c[kindTraceID]; f.has(kindTraceID) {
		tid, r := traceIDOf(c)
		if r == ReasonNone {
			ctx.TraceID = tid
			used := uint32(1 << kindTraceID)
			if s := &f.c[kindSpanID]; f.has(kindSpanID) {
				if sid, r := spanIDOf(s); r == ReasonNone {
					ctx.SpanID, ctx.HasSpan = sid, true
					used |= 1 << kindSpanID
				} else {
					inv[r]++
				}
			}
			if fl := &f.c[kindFlags]; f.has(kindFlags) {
				if v, ok := flagsOf(fl); ok {
					ctx.Flags, ctx.HasFlags = v, true
					used |= 1 << kindFlags
				} else {
					inv[ReasonFormat]++
				}
			}
			return ctx, used, true
		}
		inv[r]++
	}
	if c := &f.c[kindGoogleTrace]; f.has(kindGoogleTrace) {
		if c.typ != vtStr {
			inv[ReasonFormat]++
		} else if tid, r := ParseGoogleTrace(c.s); r == ReasonNone {
			ctx.TraceID = tid
			used := uint32(1 << kindGoogleTrace)
			if s := &f.c[kindGoogleSpan]; f.has(kindGoogleSpan) {
				var sid [8]byte
				r := ReasonFormat
				switch s.typ {
				case vtStr:
					sid, r = ParseGoogleSpanID(s.s)
				case vtInt:
					sid, r = spanIDOf(s)
				}
				if r == ReasonNone {
					ctx.SpanID, ctx.HasSpan = sid, true
					used |= 1 << kindGoogleSpan
				} else {
					inv[r]++
				}
			}
			if fl := &f.c[kindGoogleSampled]; f.has(kindGoogleSampled) {
				if v, ok := flagsOf(fl); ok {
					ctx.Flags, ctx.HasFlags = v&sampledFlag, true
					used |= 1 << kindGoogleSampled
				} else {
					inv[ReasonFormat]++
				}
			}
			return ctx, used, true
		} else {
			inv[r]++
		}
	}
	if c := &f.c[kindJaeger]; f.has(kindJaeger) {
		if c.typ != vtStr {
			inv[ReasonFormat]++
		} else if tc, r := ParseJaeger(c.s); r == ReasonNone {
			return tc, 1 << kindJaeger, true
		} else {
			inv[r]++
		}
	}
	return Context{}, 0, false
}

func (c *candidate) corrString() string {
	if !c.set {
		return ""
	}
	if c.typ == vtInt {
		return strconv.FormatInt(c.n, 10)
	}
	return c.s
}

// Extract looks for a trace context in the record: attributes, then a map
// body, then a string body (when from_body). It does not modify the record,
// except removing the used source fields when configured; the caller sets
// the ids.
func (e *Extractor) Extract(lr plog.LogRecord, res *Result) {
	res.Source, res.Context, res.Invalid, res.CorrelationKey = SourceNone, Context{}, [NumReasons]uint32{}, ""
	f, fb := &res.fa, &res.fb
	f.reset()
	fb.reset()
	attrs := lr.Attributes()
	e.scanMap(attrs, f)
	if ctx, used, ok := f.resolve(&res.Invalid); ok {
		res.Source, res.Context = SourceAttribute, ctx
		if e.removeSource {
			f.removeUsed(attrs, used)
		}
		return
	}
	corr := f.corr
	if e.fromBody {
		body := lr.Body()
		switch body.Type() {
		case pcommon.ValueTypeMap:
			e.scanMap(body.Map(), fb)
			if ctx, used, ok := fb.resolve(&res.Invalid); ok {
				res.Source, res.Context = SourceBody, ctx
				if e.removeSource {
					fb.removeUsed(body.Map(), used)
				}
				return
			}
		case pcommon.ValueTypeStr:
			s := body.Str()
			e.scanText(s, fb)
			if ctx, _, ok := fb.resolve(&res.Invalid); ok {
				res.Source, res.Context = SourceBody, ctx
				return
			}
			if fb.has(kindTraceparent) {
				// a keyed traceparent was found (and refused): do not
				// count the same value again in the free-text scan
			} else if ctx, ok := ScanTraceparent(s, &res.Invalid); ok {
				res.Source, res.Context = SourceBody, ctx
				return
			}
		}
		if !corr.set {
			corr = fb.corr
		}
	}
	res.CorrelationKey = corr.corrString()
}

// CorrelationKey returns the value of the first configured correlation key
// present in m (a span's attributes), or "": a string, an integer, or the
// first element of a string slice (a captured HTTP header).
func (e *Extractor) CorrelationKey(m pcommon.Map) string {
	ks := e.ks
	best, bestPrio := "", int16(-1)
	m.Range(func(k string, v pcommon.Value) bool {
		info, ok := ks.lookup(k)
		if !ok || info.corrPrio < 0 || (bestPrio >= 0 && info.corrPrio >= bestPrio) {
			return true
		}
		if v.Type() == pcommon.ValueTypeSlice {
			if v.Slice().Len() == 0 {
				return true
			}
			v = v.Slice().At(0)
		}
		var val string
		switch v.Type() {
		case pcommon.ValueTypeStr:
			val = v.Str()
		case pcommon.ValueTypeInt:
			val = strconv.FormatInt(v.Int(), 10)
		}
		if val != "" {
			best, bestPrio = val, info.corrPrio
		}
		return true
	})
	return best
}
