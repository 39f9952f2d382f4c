// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package convert turns parsed pprof profiles into OTLP profiles (pdata/pprofile) and back.
//
// A pprof profile carries several sample types per sample (heap: alloc_objects,
// alloc_space, inuse_objects, inuse_space); an OTLP Profile carries one. Each pprof
// profile therefore becomes one OTLP Profile per sample type, all sharing the
// message's dictionary (strings, mappings, locations, functions, stacks, attributes).
// Samples whose value for a sample type is zero are left out of that type's Profile.
package convert // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/convert"

import (
	"crypto/rand"
	"encoding/hex"
	"math"
	"path/filepath"
	"slices"
	"sync"

	"github.com/google/pprof/profile"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pprofile"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/delta"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/reuse"
)

// Attribute keys written by the converter.
const (
	// AttrProfileType is set on every Profile: the pprof endpoint it came from (cpu, heap...).
	AttrProfileType = "pprof.profile.type"
	// AttrDelta is true on Profiles whose values are the difference since the previous scrape.
	AttrDelta = "pprof.delta"
	// AttrBuildID is set on mappings with a build id.
	AttrBuildID = "pprof.mapping.build_id"
	// The symbolization flags of a pprof mapping, set (true) on mappings that have them:
	// without them `go tool pprof` re-symbolizes a rebuilt profile.
	AttrHasFunctions    = "pprof.mapping.has_functions"
	AttrHasFilenames    = "pprof.mapping.has_filenames"
	AttrHasLineNumbers  = "pprof.mapping.has_line_numbers"
	AttrHasInlineFrames = "pprof.mapping.has_inline_frames"
	// DefaultTraceIDLabel and DefaultSpanIDLabel are the pprof label keys that carry a
	// span's identity: span_id is what otel-profiling-go and Pyroscope's span profiles set.
	DefaultTraceIDLabel = "trace_id"
	DefaultSpanIDLabel  = "span_id"
	// OriginalPayloadFormat names the source format.
	OriginalPayloadFormat = "pprof"
)

// Builder appends converted profiles into one pprofile.Profiles message and owns its
// dictionary. A Builder is not safe for concurrent use.
type Builder struct {
	dict    pprofile.ProfilesDictionary
	strings map[string]int32
	attrs   map[attrKey]int32
	links   map[linkKey]int32
}

type linkKey struct {
	trace pcommon.TraceID
	span  pcommon.SpanID
}

type attrKey struct {
	key, str, unit string
	num            int64
	isNum, isBool  bool
}

// NewBuilder prepares the dictionary of pd: every table gets its zero entry at index 0.
func NewBuilder(pd pprofile.Profiles) *Builder {
	dict := pd.Dictionary()
	b := &Builder{dict: dict, strings: map[string]int32{}, attrs: map[attrKey]int32{}, links: map[linkKey]int32{}}
	if dict.StringTable().Len() == 0 {
		dict.StringTable().Append("")
	}
	for i := 0; i < dict.StringTable().Len(); i++ {
		if _, ok := b.strings[dict.StringTable().At(i)]; !ok {
			b.strings[dict.StringTable().At(i)] = int32(i)
		}
	}
	if dict.MappingTable().Len() == 0 {
		dict.MappingTable().AppendEmpty()
	}
	if dict.LocationTable().Len() == 0 {
		dict.LocationTable().AppendEmpty()
	}
	if dict.FunctionTable().Len() == 0 {
		dict.FunctionTable().AppendEmpty()
	}
	if dict.StackTable().Len() == 0 {
		dict.StackTable().AppendEmpty()
	}
	if dict.LinkTable().Len() == 0 {
		dict.LinkTable().AppendEmpty()
	}
	if dict.AttributeTable().Len() == 0 {
		dict.AttributeTable().AppendEmpty()
	}
	return b
}

func (b *Builder) str(s string) int32 {
	if i, ok := b.strings[s]; ok {
		return i
	}
	i := index(b.dict.StringTable().Len())
	b.dict.StringTable().Append(s)
	b.strings[s] = i
	return i
}

func (b *Builder) attr(k attrKey) int32 {
	if i, ok := b.attrs[k]; ok {
		return i
	}
	i := index(b.dict.AttributeTable().Len())
	a := b.dict.AttributeTable().AppendEmpty()
	a.SetKeyStrindex(b.str(k.key))
	if k.unit != "" {
		a.SetUnitStrindex(b.str(k.unit))
	}
	switch {
	case k.isNum:
		a.Value().SetInt(k.num)
	case k.isBool:
		a.Value().SetBool(k.num != 0)
	default:
		a.Value().SetStr(k.str)
	}
	b.attrs[k] = i
	return i
}

// Input is one parsed pprof profile to convert.
type Input struct {
	Profile *profile.Profile
	// Type is the pprof endpoint type (cpu, heap...), written as pprof.profile.type.
	Type string
	// Cumulative lists the value indices that are cumulative counters.
	Cumulative []int
	// Delta is the delta of the cumulative indices; nil means they are left out (no delta
	// available yet). Non-cumulative indices are always sent as scraped.
	Delta *delta.Result
	// Time is used when the profile has no time of its own.
	Time pcommon.Timestamp
	// Links names the labels that carry a span's trace id and span id (empty: no links).
	Links LinkLabels
}

// LinkLabels are the pprof label keys whose values (hex, as the OTel API prints them)
// become an entry of the OTLP link table. A sample with both labels, valid and not all
// zero, points at that link and keeps neither as an attribute; a sample with only one of
// them (otel-profiling-go sets span_id alone) keeps it as an attribute.
type LinkLabels struct {
	TraceID, SpanID string
}

// Append converts in into Profiles of sp (one per emitted sample type) and returns the
// number of samples written.
func (b *Builder) Append(sp pprofile.ScopeProfiles, in Input) int {
	p := in.Profile
	conv := profileConv{b: b, p: p, linkKeys: in.Links}
	conv.mapIDs()
	defer conv.release()

	isCum := make([]int, len(p.SampleType)) // -1: raw, else column in the delta
	for i := range isCum {
		isCum[i] = -1
	}
	for col, vi := range in.Cumulative {
		isCum[vi] = col
	}

	start := p.TimeNanos
	if start == 0 {
		start = int64(min(uint64(in.Time), math.MaxInt64))
	}
	written := 0
	for vi, st := range p.SampleType {
		col := isCum[vi]
		if col >= 0 && in.Delta == nil {
			continue
		}
		pr := sp.Profiles().AppendEmpty()
		pr.SampleType().SetTypeStrindex(b.str(st.Type))
		pr.SampleType().SetUnitStrindex(b.str(st.Unit))
		if p.PeriodType != nil {
			pr.PeriodType().SetTypeStrindex(b.str(p.PeriodType.Type))
			pr.PeriodType().SetUnitStrindex(b.str(p.PeriodType.Unit))
		}
		pr.SetPeriod(p.Period)
		pr.SetProfileID(newProfileID())
		pr.SetOriginalPayloadFormat(OriginalPayloadFormat)
		pr.AttributeIndices().Append(b.attr(attrKey{key: AttrProfileType, str: in.Type}))
		samples := pr.Samples()
		if col >= 0 {
			d := in.Delta
			pr.AttributeIndices().Append(b.attr(attrKey{key: AttrDelta, num: 1, isBool: true}))
			begin := d.PrevTimeNanos
			if begin == 0 || begin > start {
				begin = start
			}
			pr.SetTime(nanos(begin))
			pr.SetDurationNano(uint64(nanos(start - begin)))
			samples.EnsureCapacity(len(d.Samples))
			for r, si := range d.Samples {
				v := d.Row(r)[col]
				if v == 0 {
					continue
				}
				conv.appendSample(samples, int(si), v)
				written++
			}
			continue
		}
		pr.SetTime(nanos(start))
		pr.SetDurationNano(uint64(max(p.DurationNanos, 0)))
		samples.EnsureCapacity(len(p.Sample))
		for si, s := range p.Sample {
			v := s.Value[vi]
			if v == 0 {
				continue
			}
			conv.appendSample(samples, si, v)
			written++
		}
	}
	return written
}

// profileConv holds the per-source-profile index maps.
type profileConv struct {
	b          *Builder
	p          *profile.Profile
	locs       idIndex
	funcs      idIndex
	maps       idIndex
	*perSample // per sample of p

	linkKeys LinkLabels
}

// idIndex maps pprof IDs to dictionary indices, densely when the IDs allow it.
type idIndex struct {
	dense  []int32
	sparse map[uint64]int32
}

func newIDIndex(maxID uint64, n int) idIndex {
	if maxID <= uint64(max(4*n+64, 0)) {
		return idIndex{dense: make([]int32, maxID+1)}
	}
	return idIndex{sparse: make(map[uint64]int32, n)}
}

func (x *idIndex) get(id uint64) int32 {
	if x.dense != nil {
		return x.dense[id]
	}
	return x.sparse[id]
}

func (x *idIndex) set(id uint64, v int32) {
	if x.dense != nil {
		x.dense[id] = v
		return
	}
	x.sparse[id] = v
}

func maxID[T any](items []*T, id func(*T) uint64) uint64 {
	var m uint64
	for _, it := range items {
		m = max(m, id(it))
	}
	return m
}

// mapIDs prepares the per-profile index maps. Mappings, functions and locations are added
// to the dictionary lazily, when a sample that is actually sent references them: most
// samples of a heap profile have a zero value for most sample types (and a delta leaves
// out every unchanged stack), so most locations never need to be sent.
func (c *profileConv) mapIDs() {
	p := c.p
	c.maps = newIDIndex(maxID(p.Mapping, func(m *profile.Mapping) uint64 { return m.ID }), len(p.Mapping))
	c.funcs = newIDIndex(maxID(p.Function, func(f *profile.Function) uint64 { return f.ID }), len(p.Function))
	c.locs = newIDIndex(maxID(p.Location, func(l *profile.Location) uint64 { return l.ID }), len(p.Location))
	c.perSample = perSamplePool.Get().(*perSample)
	c.reset(len(p.Sample))
}

// release returns the per-sample slices to their pool.
func (c *profileConv) release() {
	ps := c.perSample
	c.perSample = nil
	if ps == nil || cap(ps.stacks) > reuse.MaxPooled {
		return
	}
	clear(ps.attrIdx) // the attribute slices are the Builder's: drop them
	perSamplePool.Put(ps)
}

// perSample is what the conversion keeps per sample of the source profile. It is
// pooled: it is sized by the samples of every profile of every target scrape.
type perSample struct {
	stacks  []int32   // stack index, 0 = not yet built
	attrIdx [][]int32 // label attribute indices, nil = not yet built
	links   []int32   // link index, 0 = none
	built   []bool
}

var perSamplePool = sync.Pool{New: func() any { return new(perSample) }}

// reset sizes every slice to n zero entries.
func (ps *perSample) reset(n int) {
	ps.stacks = reuse.Zeroed(ps.stacks, n)
	ps.attrIdx = reuse.Zeroed(ps.attrIdx, n)
	ps.links = reuse.Zeroed(ps.links, n)
	ps.built = reuse.Zeroed(ps.built, n)
}

// mapping returns the dictionary index of m, adding it on first use (index 0 is the
// table's zero entry, so 0 in the index means "not added yet").
func (c *profileConv) mapping(m *profile.Mapping) int32 {
	if i := c.maps.get(m.ID); i != 0 {
		return i
	}
	b := c.b
	mt := b.dict.MappingTable()
	i := index(mt.Len())
	dm := mt.AppendEmpty()
	dm.SetMemoryStart(m.Start)
	dm.SetMemoryLimit(m.Limit)
	dm.SetFileOffset(m.Offset)
	dm.SetFilenameStrindex(b.str(m.File))
	if m.BuildID != "" {
		dm.AttributeIndices().Append(b.attr(attrKey{key: AttrBuildID, str: m.BuildID}))
	}
	for _, f := range []struct {
		key string
		set bool
	}{
		{AttrHasFunctions, m.HasFunctions},
		{AttrHasFilenames, m.HasFilenames},
		{AttrHasLineNumbers, m.HasLineNumbers},
		{AttrHasInlineFrames, m.HasInlineFrames},
	} {
		if f.set {
			dm.AttributeIndices().Append(b.attr(attrKey{key: f.key, num: 1, isBool: true}))
		}
	}
	c.maps.set(m.ID, i)
	return i
}

func (c *profileConv) function(f *profile.Function) int32 {
	if i := c.funcs.get(f.ID); i != 0 {
		return i
	}
	b := c.b
	ft := b.dict.FunctionTable()
	i := index(ft.Len())
	df := ft.AppendEmpty()
	df.SetNameStrindex(b.str(f.Name))
	df.SetSystemNameStrindex(b.str(f.SystemName))
	df.SetFilenameStrindex(b.str(f.Filename))
	df.SetStartLine(f.StartLine)
	c.funcs.set(f.ID, i)
	return i
}

func (c *profileConv) location(l *profile.Location) int32 {
	if i := c.locs.get(l.ID); i != 0 {
		return i
	}
	var mi int32
	if l.Mapping != nil {
		mi = c.mapping(l.Mapping)
	}
	lt := c.b.dict.LocationTable()
	i := index(lt.Len())
	dl := lt.AppendEmpty()
	dl.SetMappingIndex(mi)
	dl.SetAddress(l.Address)
	if len(l.Line) > 0 {
		lines := dl.Lines()
		lines.EnsureCapacity(len(l.Line))
		for _, ln := range l.Line {
			dln := lines.AppendEmpty()
			if ln.Function != nil {
				dln.SetFunctionIndex(c.function(ln.Function))
			}
			dln.SetLine(ln.Line)
			dln.SetColumn(ln.Column)
		}
	}
	c.locs.set(l.ID, i)
	return i
}

func (c *profileConv) appendSample(samples pprofile.SampleSlice, si int, v int64) {
	if !c.built[si] {
		c.build(si)
	}
	s := samples.AppendEmpty()
	s.SetStackIndex(c.stacks[si])
	s.SetLinkIndex(c.links[si])
	s.Values().Append(v)
	if a := c.attrIdx[si]; len(a) > 0 {
		s.AttributeIndices().Append(a...)
	}
}

// build adds the stack and label attributes of sample si (shared by every sample type).
func (c *profileConv) build(si int) {
	b, s := c.b, c.p.Sample[si]
	st := b.dict.StackTable()
	c.stacks[si] = index(st.Len())
	stack := st.AppendEmpty()
	li := stack.LocationIndices()
	li.EnsureCapacity(len(s.Location))
	for _, l := range s.Location {
		li.Append(c.location(l))
	}
	var attrs []int32
	linked := c.link(si)
	for _, k := range sortedKeys(s.Label) {
		if linked && (k == c.linkKeys.TraceID || k == c.linkKeys.SpanID) {
			continue
		}
		for _, v := range s.Label[k] {
			attrs = append(attrs, b.attr(attrKey{key: k, str: v}))
		}
	}
	for _, k := range sortedKeys(s.NumLabel) {
		units := s.NumUnit[k]
		for i, v := range s.NumLabel[k] {
			var u string
			if i < len(units) {
				u = units[i]
			}
			attrs = append(attrs, b.attr(attrKey{key: k, num: v, unit: u, isNum: true}))
		}
	}
	c.attrIdx[si] = attrs
	c.built[si] = true
}

// link sets the link of sample si from its trace and span labels, and reports whether it did.
func (c *profileConv) link(si int) bool {
	if c.linkKeys.TraceID == "" || c.linkKeys.SpanID == "" {
		return false
	}
	labels := c.p.Sample[si].Label
	tv, sv := labels[c.linkKeys.TraceID], labels[c.linkKeys.SpanID]
	if len(tv) != 1 || len(sv) != 1 {
		return false
	}
	var k linkKey
	if !decodeID(k.trace[:], tv[0]) || !decodeID(k.span[:], sv[0]) || k.trace.IsEmpty() || k.span.IsEmpty() {
		return false
	}
	i, ok := c.b.links[k]
	if !ok {
		lt := c.b.dict.LinkTable()
		i = index(lt.Len())
		l := lt.AppendEmpty()
		l.SetTraceID(k.trace)
		l.SetSpanID(k.span)
		c.b.links[k] = i
	}
	c.links[si] = i
	return true
}

// decodeID fills dst from exactly 2*len(dst) hex digits.
func decodeID(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	_, err := hex.Decode(dst, []byte(s))
	return err == nil
}

func newProfileID() pprofile.ProfileID {
	var id pprofile.ProfileID
	_, _ = rand.Read(id[:])
	return id
}

// MappingName is how a location without function information is named (as pprof does).
func MappingName(file string) string {
	if file == "" {
		return "<unknown>"
	}
	return "[" + filepath.Base(file) + "]"
}

// sortedKeys returns the keys of m in order (labels are few: usually zero or one).
func sortedKeys[V any](m map[string]V) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// index is the index of the next entry of a dictionary table holding n entries. OTLP
// indexes its tables with int32; the profile limits keep every table far below that,
// so a table past it is an internal error (the scrape is dropped), never a wrong index.
func index(n int) int32 {
	if n < 0 || n > math.MaxInt32 {
		panic("pprofscrape: OTLP dictionary table over 2^31 entries")
	}
	return int32(n)
}

// nanos is a pprof time or duration in nanoseconds as an OTLP one; a hostile profile's
// negative value becomes 0 rather than a time in the year 2554.
func nanos(n int64) pcommon.Timestamp {
	if n < 0 {
		return 0
	}
	return pcommon.Timestamp(n)
}
