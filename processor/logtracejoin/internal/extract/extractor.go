// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package extract // import "github.com/prodscope/prodscope/processor/logtracejoin/internal/extract"

import (
	"strconv"

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

// Bounds of the nested search.
const (
	// MaxDepth bounds how deep nested maps, JSON objects and arrays are
	// searched for a field set of their own (slog groups, logrus DataKey,
	// Serilog Properties, .NET Scopes).
	MaxDepth = 4
	// MaxNested bounds the nested field sets (maps, objects) and nested
	// strings searched per record and level; the ones over it are not read.
	MaxNested = 32
	// MaxTextLevel bounds how many times a string value is searched as text
	// nested in text (a JSON line inside a "log" field holding escaped JSON).
	MaxTextLevel = 2
)

// Skip says which bound of the nested search left a part of a record unread.
type Skip uint8

const (
	// SkipDepth: a nested map, object or array deeper than MaxDepth.
	SkipDepth Skip = iota
	// SkipCount: a nested field set or string over MaxNested on its level.
	SkipCount
	// SkipTextLevel: a string nested deeper in text than MaxTextLevel.
	SkipTextLevel
	// NumSkips is the number of Skip values.
	NumSkips
)

func (s Skip) String() string {
	switch s {
	case SkipDepth:
		return "depth"
	case SkipCount:
		return "count"
	case SkipTextLevel:
		return "text_level"
	}
	return "unknown"
}

// Result is the outcome of Extract for one record.
type Result struct {
	Source Source
	// Via says how the context was read (Source is Via.Source()).
	Via     Via
	Context Context
	// Invalid counts values that looked like ids but were refused, by reason.
	Invalid [NumReasons]uint32
	// Skipped counts, by bound, the nested field sets and strings that were
	// not searched because of the bounds above. It is meaningful only when
	// nothing was found (a search that finds an id stops there).
	Skipped [NumSkips]uint32
	// CorrelationKey is the first correlation key value found (attributes
	// before body, top-level fields only), set only when no trace context
	// was found.
	CorrelationKey string

	// scratch space reused across records (a Result is reused by its caller)
	g, gb, gd group
	maps      [MaxNested]nestedMap
	text      [MaxTextLevel + 1]textScratch
	corr      string
	cprio     int16
	// longStrings counts the top-level string values of the map just
	// scanned that are long enough to hold a key and an id.
	longStrings int
}

type nestedMap struct {
	m     pcommon.Map
	depth int
}

// Extractor finds trace contexts in log records. It is safe for concurrent
// use: it holds only read-only configuration.
type Extractor struct {
	ks           *keySet
	fromBody     bool
	removeSource bool
	patterns     Patterns
}

// New compiles an Extractor.
func New(k Keys, fromBody, removeSource bool) *Extractor {
	return &Extractor{ks: newKeySet(k), fromBody: fromBody, removeSource: removeSource}
}

// WithPatterns returns a copy of e that also reads the positional formats
// in p (off by default).
func (e *Extractor) WithPatterns(p Patterns) *Extractor {
	c := *e
	c.patterns = p
	return &c
}

func (res *Result) offerCorr(info keyInfo, v value) {
	if info.corrPrio < 0 || res.cprio == -2 || res.cprio >= 0 && info.corrPrio >= res.cprio {
		return
	}
	var s string
	switch v.typ {
	case vtStr:
		s = v.s
	case vtInt:
		s = strconv.FormatInt(v.n, 10)
	}
	if s != "" {
		res.corr, res.cprio = s, info.corrPrio
	}
}

// queueNested queues m, found at depth, to be searched as a field set of its
// own, or counts why it is skipped (too deep, too many nested maps).
func (res *Result) queueNested(m pcommon.Map, depth int, n *int) {
	switch {
	case depth >= MaxDepth:
		res.Skipped[SkipDepth]++
	case *n >= MaxNested:
		res.Skipped[SkipCount]++
	default:
		res.maps[*n] = nestedMap{m: m, depth: depth + 1}
		*n++
	}
}

// scanMapFields offers the fields of m (and, through dotted keys, of its
// nested maps) to one group; other nested maps, and maps in arrays, are
// queued as field sets of their own.
func (e *Extractor) scanMapFields(res *Result, m pcommon.Map, ks *keySet, depth int, n *int, top bool, parent pcommon.Map, parentKey string, hasParent bool) {
	g := &res.g
	m.Range(func(k string, v pcommon.Value) bool {
		t := v.Type()
		if info, ok := ks.lookup(k); ok {
			val := valueOf(v, t)
			if g.offer(info, val, &res.Invalid) && e.removeSource {
				g.loc[info.kind] = fieldLoc{m: m, key: k, parent: parent, parentKey: parentKey, hasParent: hasParent}
			}
			if top {
				res.offerCorr(info, val)
			}
		} else if info, ok := ks.lookupSuffix(k); ok {
			// a group prefix written into the key (slog text "otel.trace_id")
			if res.gd.offer(info, valueOf(v, t), &res.Invalid) && e.removeSource {
				res.gd.loc[info.kind] = fieldLoc{m: m, key: k}
			}
		} else if top && t == pcommon.ValueTypeStr && len(v.Str()) >= minNestedLen {
			res.longStrings++ // may hold text with ids (scanMapStrings)
		}
		switch t {
		case pcommon.ValueTypeMap:
			if child := ks.child(k); child != nil {
				// {"trace":{"id":…}} is a field of this set; the map may
				// also be a field set of its own (zap Namespace("trace"))
				e.scanMapFields(res, v.Map(), child, depth, n, top, m, k, true)
			}
			res.queueNested(v.Map(), depth, n)
		case pcommon.ValueTypeSlice:
			s := v.Slice()
			for i := 0; i < s.Len(); i++ {
				if e := s.At(i); e.Type() == pcommon.ValueTypeMap {
					res.queueNested(e.Map(), depth, n)
				}
			}
		}
		return true
	})
}

// scanMap searches a map: its own fields first, then each nested field set
// in breadth-first order; the first field set with a valid id wins.
func (e *Extractor) scanMap(res *Result, m pcommon.Map) (Context, bool) {
	n := 0
	res.g.reset()
	res.gd.reset()
	res.longStrings = 0
	if m.Len() == 0 {
		return Context{}, false
	}
	e.scanMapFields(res, m, e.ks, 0, &n, true, pcommon.Map{}, "", false)
	for i := 0; ; i++ {
		var ctx Context
		if used, ok := res.g.resolve(&ctx); ok {
			if e.removeSource {
				res.g.removeUsed(used)
			}
			return ctx, true
		}
		if i == 0 {
			if used, ok := res.gd.resolve(&ctx); ok {
				if e.removeSource {
					res.gd.removeUsed(used)
				}
				return ctx, true
			}
		}
		if i >= n {
			return Context{}, false
		}
		res.g.reset()
		res.gd.reset()
		e.scanMapFields(res, res.maps[i].m, e.ks, res.maps[i].depth, &n, false, pcommon.Map{}, "", false)
	}
}

// Extract looks for a trace context in the record: attributes, then a map
// body, then a string body (when from_body). It does not modify the record,
// except removing the used source fields when configured; the caller sets
// the ids.
func (e *Extractor) Extract(lr plog.LogRecord, res *Result) {
	res.Source, res.Via, res.CorrelationKey = SourceNone, ViaNone, ""
	res.Context = Context{}
	res.Invalid = [NumReasons]uint32{}
	res.Skipped = [NumSkips]uint32{}
	res.corr, res.cprio = "", -1
	if ctx, ok := e.scanMap(res, lr.Attributes()); ok {
		res.found(ViaAttribute, ctx)
		return
	}
	if res.corr != "" {
		res.cprio = -2 // a correlation key in the attributes wins over the body's
	}
	attrText := !res.g.seen && !res.gd.seen && res.longStrings > 0
	body := lr.Body()
	bodyMap := e.fromBody && body.Type() == pcommon.ValueTypeMap
	bodyText := false
	if e.fromBody {
		var ctx Context
		ok := false
		switch body.Type() {
		case pcommon.ValueTypeMap:
			ctx, ok = e.scanMap(res, body.Map())
			bodyText = !res.g.seen && !res.gd.seen && res.longStrings > 0
		case pcommon.ValueTypeStr:
			if e.scanString(res, body.Str(), 0) {
				// the context is in res.Context
				res.Source, res.Via = SourceBody, ViaBodyText
				return
			}
		}
		if ok {
			res.found(ViaBodyField, ctx)
			return
		}
	}
	// last, text nested in the string values of a map that has no id
	// fields of its own (a "log" field holding the app's JSON line)
	if attrText {
		if e.scanMapStrings(res, lr.Attributes()) {
			res.Source, res.Via = ViaAttributeText.Source(), ViaAttributeText
			return
		}
	}
	if bodyMap && bodyText {
		if e.scanMapStrings(res, body.Map()) {
			res.Source, res.Via = ViaBodyText.Source(), ViaBodyText
			return
		}
	}
	res.CorrelationKey = res.corr
}

func (res *Result) found(via Via, ctx Context) {
	res.Source, res.Via, res.Context = via.Source(), via, ctx
}

// scanMapStrings searches the top-level string values of m as text; a
// context found is in res.Context.
func (e *Extractor) scanMapStrings(res *Result, m pcommon.Map) bool {
	found, n := false, 0
	m.Range(func(_ string, v pcommon.Value) bool {
		if v.Type() != pcommon.ValueTypeStr {
			return true
		}
		s := v.Str()
		if len(s) < minNestedLen || !mayHoldField(s) {
			return true
		}
		n++
		if n > MaxNested {
			res.Skipped[SkipCount]++
			return true // counted, not read
		}
		found = e.scanString(res, s, 1)
		return !found
	})
	return found
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
