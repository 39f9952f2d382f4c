// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"math"
	"math/bits"
	"sync"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/prodscope/prodscope/internal/logthrottle"
)

// Engine holds the state of one processor instance. It is safe for
// concurrent use; Process calls are serialized.
type Engine struct {
	mu  sync.Mutex
	set Settings
	now func() time.Time
	// log writes the limit and lift lines, at most one of each kind per
	// logEvery (the suppressed ones are counted on the next line).
	log *logthrottle.Logger

	// Time is kept in milliseconds since epoch. State stores the low 32 bits
	// ("stamps") and ages are computed modulo 2^32, which is exact while an
	// age is below 2^31 ms (24.8 days): Validate caps the window at 7 days
	// and Process forgets everything after a longer silence.
	epoch    time.Time
	nowMs    int64
	stamp    uint32
	windowMs uint32
	// keepMs is how long a member of a merged monotonic series is kept
	// after its last point (2 × window), so that a member returning after
	// window is absorbed without counting its total twice.
	keepMs     uint32
	sweepEvery int64
	// recheck is how long a known, unchanged series skips the per-label
	// checks: its values are refreshed at least that often, so values and
	// series are kept for window + recheck after their last refresh.
	recheck   uint32
	lastSweep int64
	lastCall  int64

	scopes map[uint64]*scopeState
	// total counts every tracked entry that max_series_total bounds (see
	// budget.go): metrics, label keys, values, sketches, output series,
	// merged series and their members.
	total       int
	limitedKeys int

	// per-call scratch, reused
	digest    *xxhash.Digest
	hashes    []uint64
	hits      []dropHit
	keyHashes [maxCachedPositions]struct {
		key string
		h   uint64
		ok  bool
	}
	decisions []decision
	outs      outIndex
	edits     []edit
	stats     Stats
	removeIdx int
	// limitedDuring counts the keys limited while deciding one metric.
	limitedDuring int
}

type scopeState struct {
	// name is the scope's attribute values as the status page shows them
	// (service.name=shop), at most maxScopeName bytes.
	name    string
	metrics map[metricKey]*metricState
}

// streamRef identifies the metric stream a point belongs to, apart from its
// attributes: resource, instrumentation scope, unit and monotonicity (name,
// type and temporality are in metricKey). Merge state is keyed by it.
type streamRef uint64

type metricKey struct {
	name string
	typ  pmetric.MetricType
	temp pmetric.AggregationTemporality
}

type metricState struct {
	name   string
	lim    *Limits
	labels map[string]*labelState
	// series maps an output series (hash of its attribute set) to when its
	// labels were last checked.
	series map[uint64]seriesEntry
	// gen changes whenever a label of the metric is limited, lifted or
	// forgotten: series checked under an older gen are checked again.
	gen uint32
	// overflow holds the overflow series (otel.metric.overflow=true, plus the
	// protected labels), at most MaxSeriesPerMetric of them.
	overflow map[uint64]uint32
	// aggs holds the cross-batch state of merged series, keyed by the full
	// stream identity of the output series (streamRef and output hash).
	aggs map[uint64]aggState
	// byPosition caches the label state of the key last seen at each
	// attribute position: points of one metric usually list their keys in
	// the same order, so one string compare replaces a map lookup.
	byPosition [maxCachedPositions]*labelState
	// dropKeys caches the keys dropped from every point at generation
	// dropKeysGen (see dropFastPath).
	dropKeys    []dropKey
	dropKeysGen uint32
	dropKeysOK  bool
	// alwaysDropped counts, for each of lim.AlwaysDrop, the points that lost
	// the key (made on the first such point).
	alwaysDropped []limitCount
}

// limitCount is what the status page shows of a limited key: since when,
// and how many points lost it or had it overflowed.
type limitCount struct {
	since  uint32 // stamp
	points int64
}

const maxCachedPositions = 16

// dropKey is a key the metric drops from every point: always dropped, or
// limited with drop_label (ls then is its state).
type dropKey struct {
	key    string
	ls     *labelState
	always int // 1 + the index in lim.AlwaysDrop; 0 for a limited key
}

// dropKeysFor returns the keys ms drops from every point, rebuilt when the
// metric's generation changed.
func (ms *metricState) dropKeysFor() []dropKey {
	if ms.dropKeysOK && ms.dropKeysGen == ms.gen {
		return ms.dropKeys
	}
	ms.dropKeys = ms.dropKeys[:0]
	for i, k := range ms.lim.AlwaysDrop {
		ms.dropKeys = append(ms.dropKeys, dropKey{key: k, always: i + 1})
	}
	if ms.lim.Action == DropLabel {
		for k, ls := range ms.labels {
			if ls.limited {
				ms.dropKeys = append(ms.dropKeys, dropKey{key: k, ls: ls})
			}
		}
	}
	ms.dropKeysGen, ms.dropKeysOK = ms.gen, true
	return ms.dropKeys
}

// dropHit is an attribute of the current point that its metric drops:
// its position in the point and the index of its key in dropKeysFor.
type dropHit struct {
	pos, key int
}

// dropFastPath is the fast path of a point that only loses dropped keys
// (always dropped, or limited with drop_label; decide found them, e.hits)
// and whose output series passed every check recently: the remaining labels
// are the output series' own, checked with it. A limited key's value is
// still tracked (its sketch, and the time of its last excess value, which
// decides when the limit lifts).
func (e *Engine) dropFastPath(ms *metricState, keys []dropKey, d *decision) bool {
	out := d.inHash
	var reasons uint16
	for _, hit := range e.hits {
		dk := &keys[hit.key]
		h := e.hashes[hit.pos]
		out -= h
		e.edits = append(e.edits, edit{key: dk.key, ls: dk.ls, always: dk.always})
		if dk.ls == nil {
			reasons |= 1 << ReasonAlwaysDrop
			continue
		}
		reasons |= 1 << ReasonValueLimit
		if seen, ok := dk.ls.values[h]; ok {
			if e.stale(seen) {
				dk.ls.values[h] = e.stamp
			}
		} else {
			dk.ls.lastExcess = e.stamp
			if dk.ls.sketch != nil {
				dk.ls.sketch.InsertHash(h)
			}
		}
	}
	if se, ok := ms.series[out]; ok && se.gen == ms.gen && e.age(se.seen) < e.recheck {
		d.outHash = out
		d.dropReasons = reasons
		d.editHi = len(e.edits)
		return true
	}
	e.edits = e.edits[:d.editLo]
	return false
}

type seriesEntry struct {
	seen uint32 // stamp of the last full check
	gen  uint32
}

type labelState struct {
	key        string
	values     map[uint64]uint32 // hash(key, value) -> last seen stamp
	limited    bool
	logged     bool
	lastExcess uint32
	sketch     *hyperloglog.Sketch
	// limit is when the current limit started and the points it changed.
	limit limitCount
}

type edit struct {
	key      string
	overflow bool // false: drop the key; true: set it to the overflow value
	// What the edit is counted against on the status page: a key over its
	// value limit (ls), or 1 + the index of an always-dropped key.
	ls     *labelState
	always int
}

type decision struct {
	inHash, outHash uint64
	aggKey          uint64 // outHash within the point's stream
	editLo, editHi  int
	dropReasons     uint16 // bit per Reason
	overflowReasons uint16
	seriesOverflow  bool
	refused         bool
	merged          bool
}

func (d *decision) changed() bool { return d.editHi > d.editLo || d.seriesOverflow }

// New returns an engine. Settings must be valid (see the processor's Config.Validate).
func New(set Settings) *Engine {
	now := set.Now
	if now == nil {
		now = time.Now
	}
	log := set.Logger
	if log == nil {
		log = zap.NewNop()
	}
	w := min(max(set.Window.Milliseconds(), 1), maxWindowMs)
	windowMs := uint32(w)
	e := &Engine{
		set:        set,
		now:        now,
		log:        logthrottle.New(log, logEvery, 2).WithClock(now),
		windowMs:   windowMs,
		keepMs:     2 * windowMs,
		sweepEvery: min(max(w/8, 1), time.Minute.Milliseconds()),
		recheck:    max(windowMs/8, 1),
		scopes:     map[uint64]*scopeState{},
		digest:     xxhash.New(),
	}
	e.epoch = now()
	return e
}

// logEvery spaces the lines of one kind (a key limited, a limit lifted):
// at most 20 a minute, whatever the number of keys.
const logEvery = 3 * time.Second

// MaxWindow is the longest window: ages are kept in 32-bit milliseconds.
const MaxWindow = 7 * 24 * time.Hour

const maxWindowMs = int64(MaxWindow / time.Millisecond)

// clock reads the time once per call: milliseconds since the engine started.
func (e *Engine) clock() {
	d := e.now().Sub(e.epoch).Milliseconds()
	if d < e.nowMs {
		d = e.nowMs // the clock went back: time stands still
	}
	e.nowMs = d
	e.stamp = uint32(d & math.MaxUint32) // the low 32 bits
}

// age is how long ago stamp s was, in milliseconds.
func (e *Engine) age(s uint32) uint32 { return e.stamp - s }

// stale reports whether a value or series stamp is due for a refresh: they
// are refreshed at most every recheck (window/8), which saves a map write per
// label per point and is why they are forgotten between window and window +
// recheck after their last sighting.
func (e *Engine) stale(s uint32) bool { return e.age(s) >= e.recheck }

// Process applies the limits to md in place and returns what it did.
func (e *Engine) Process(md pmetric.Metrics) Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats = Stats{}
	e.clock()
	if e.nowMs-e.lastCall >= int64(e.keepMs)+e.sweepEvery {
		// Silent for longer than anything is kept: forget everything (this
		// also keeps every stored age below 2^31 ms).
		e.reset()
	}
	e.lastCall = e.nowMs
	if e.nowMs-e.lastSweep >= e.sweepEvery {
		e.sweep()
		e.lastSweep = e.nowMs
	}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		res := rm.Resource().Attributes()
		sc := scopeRef{key: e.scopeKey(res), res: res}
		resHash := attrsHash(res)
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			sm := sms.At(j)
			scopeHash := mixKV(resHash, instrumentationScopeHash(sm.Scope()))
			ms := sm.Metrics()
			if e.set.Observe {
				// Read only: the data may be shared (MutatesData is false).
				for k := 0; k < ms.Len(); k++ {
					e.processMetric(&sc, scopeHash, ms.At(k))
				}
				continue
			}
			ms.RemoveIf(func(m pmetric.Metric) bool {
				return e.processMetric(&sc, scopeHash, m)
			})
		}
	}
	e.stats.SeriesTracked = int64(e.total)
	e.stats.LabelKeysLimited = int64(e.limitedKeys)
	return e.stats
}

// scopeRef is a scope key and, once looked up or created, its state. A
// scope's state is created only with its first metric, so resource
// attribute values refused by max_series_total leave nothing behind.
type scopeRef struct {
	key   uint64
	res   pcommon.Map
	state *scopeState
}

func (e *Engine) scopeKey(res pcommon.Map) uint64 {
	if len(e.set.ScopeAttributes) == 0 {
		return 0
	}
	e.digest.Reset()
	for _, k := range e.set.ScopeAttributes {
		if v, ok := res.Get(k); ok {
			_, _ = e.digest.WriteString("\x01")
			_, _ = e.digest.WriteString(v.AsString())
		} else {
			_, _ = e.digest.WriteString("\x00")
		}
	}
	return e.digest.Sum64()
}

// reset forgets all state.
func (e *Engine) reset() {
	e.scopes = map[uint64]*scopeState{}
	e.total = 0
	e.limitedKeys = 0
}

// attrsHash hashes an attribute set independently of its order.
func attrsHash(m pcommon.Map) uint64 {
	var h uint64
	for k, v := range m.All() {
		h += hashAttr(k, v)
	}
	return h
}

// instrumentationScopeHash hashes an instrumentation scope's identity.
func instrumentationScopeHash(s pcommon.InstrumentationScope) uint64 {
	return mixKV(mixKV(xxhash.Sum64String(s.Name()), xxhash.Sum64String(s.Version())), attrsHash(s.Attributes()))
}

// streamOf is the identity of m's stream within a resource and scope, apart
// from point attributes.
func streamOf(scopeHash uint64, m pmetric.Metric) streamRef {
	h := mixKV(scopeHash, xxhash.Sum64String(m.Unit()))
	if m.Type() == pmetric.MetricTypeSum && m.Sum().IsMonotonic() {
		h = mixKV(h, 1)
	}
	return streamRef(h)
}

func temporalityOf(m pmetric.Metric) pmetric.AggregationTemporality {
	switch m.Type() {
	case pmetric.MetricTypeSum:
		return m.Sum().AggregationTemporality()
	case pmetric.MetricTypeHistogram:
		return m.Histogram().AggregationTemporality()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().AggregationTemporality()
	}
	return pmetric.AggregationTemporalityUnspecified
}

// metric returns the state of m in sc, or nil when max_series_total leaves
// no room for a new metric.
// metric returns the state of m in sc, or nil when max_series_total leaves
// no room for a new metric.
func (e *Engine) metric(ref *scopeRef, m pmetric.Metric) *metricState {
	key := metricKey{name: m.Name(), typ: m.Type(), temp: temporalityOf(m)}
	if ref.state == nil {
		ref.state = e.scopes[ref.key]
	}
	if ref.state != nil {
		if ms := ref.state.metrics[key]; ms != nil {
			return ms
		}
	}
	if !e.reserve(weightMetric) {
		return nil
	}
	if ref.state == nil {
		ref.state = &scopeState{name: e.scopeName(ref.res), metrics: map[metricKey]*metricState{}}
		e.scopes[ref.key] = ref.state
	}
	sc := ref.state
	ms := &metricState{
		name:     key.name,
		lim:      e.set.limitsFor(key.name),
		labels:   map[string]*labelState{},
		series:   map[uint64]seriesEntry{},
		overflow: map[uint64]uint32{},
		aggs:     map[uint64]aggState{},
	}
	if n := len(ms.lim.AlwaysDrop); n > 0 {
		ms.alwaysDropped = make([]limitCount, n)
	}
	sc.metrics[key] = ms
	return ms
}

// processMetric handles one metric; it returns true when the metric is left
// with no points and must be removed.
func (e *Engine) processMetric(sc *scopeRef, scopeHash uint64, m pmetric.Metric) bool {
	n := pointCount(m)
	if n == 0 {
		return false
	}
	e.stats.PointsIn += int64(n)
	ms := e.metric(sc, m)
	if ms == nil {
		// No room to track a new metric: its points pass through untouched.
		e.stats.Refused[ReasonTotalLimit] += int64(n)
		e.stats.PointsOut += int64(n)
		return false
	}
	e.decideAll(ms, m, n)
	if e.limitedDuring > 0 && ms.lim.Action == DropLabel {
		// A key was limited by a point of this metric: the points before it
		// were decided while it was not. Decide again, so that every point
		// of the batch loses the key (the state is already there: this
		// pass adds nothing new but the merged series). With overflow_value
		// the earlier points' values were admitted: nothing would change.
		e.decideAll(ms, m, n)
	}
	isSummary := m.Type() == pmetric.MetricTypeSummary
	if isSummary {
		for i := range e.decisions {
			if e.decisions[i].changed() {
				e.stats.Unmergeable[ReasonSummary]++
			}
		}
	}
	if e.set.Observe {
		for i := range e.decisions {
			d := &e.decisions[i]
			if d.refused {
				e.stats.Refused[ReasonTotalLimit]++
			} else if !isSummary {
				e.countChange(ms, d)
			}
		}
		e.stats.PointsOut += int64(n)
		return false
	}
	if isSummary {
		for i := range e.decisions {
			if e.decisions[i].refused {
				e.stats.Refused[ReasonTotalLimit]++
			}
		}
		e.stats.PointsOut += int64(n)
		return false
	}
	e.rewrite(ms, streamOf(scopeHash, m), m)
	out := pointCount(m)
	e.stats.PointsOut += int64(out)
	return out == 0
}

// decideAll decides every point of m into e.decisions.
func (e *Engine) decideAll(ms *metricState, m pmetric.Metric, n int) {
	e.decisions = e.decisions[:0]
	e.edits = e.edits[:0]
	e.limitedDuring = 0
	for i := 0; i < n; i++ {
		e.decisions = append(e.decisions, e.decide(ms, pointAttributes(m, i)))
	}
}

// countChange counts a changed point: in the call's stats by reason, and
// against each limited or always-dropped key it lost (the status page's
// points affected).
func (e *Engine) countChange(ms *metricState, d *decision) {
	// Only the reasons set (usually one): this runs for every merged point.
	for b := d.dropReasons; b != 0; b &= b - 1 {
		e.stats.LabelDropped[bits.TrailingZeros16(b)]++
	}
	for b := d.overflowReasons; b != 0; b &= b - 1 {
		e.stats.Overflowed[bits.TrailingZeros16(b)]++
	}
	for i := d.editLo; i < d.editHi; i++ {
		ed := &e.edits[i]
		switch {
		case ed.ls != nil:
			ed.ls.limit.points++
		case ed.always > 0:
			c := &ms.alwaysDropped[ed.always-1]
			if c.points == 0 {
				c.since = e.stamp
			}
			c.points++
		}
	}
}

func (e *Engine) hashKStr(k, v string) uint64 {
	return mixKV(xxhash.Sum64String(k), xxhash.Sum64String(v))
}

// hashAttr hashes one attribute (key and typed value). Attribute-set hashes
// are sums of these, so they do not depend on attribute order.
func hashAttr(k string, v pcommon.Value) uint64 {
	return hashValue(xxhash.Sum64String(k), v)
}

// hashValue is hashAttr with the key's hash already computed.
func hashValue(hk uint64, v pcommon.Value) uint64 {
	// Most values are strings, and a non-empty Str is one: one look at the
	// value's type instead of two.
	if s := v.Str(); s != "" || v.Type() == pcommon.ValueTypeStr {
		return mixKV(hk, xxhash.Sum64String(s))
	}
	// The type tells Int 1 from Double 1 and Str "1"; types are positive.
	var salt uint64
	if t := v.Type(); t > 0 {
		salt = uint64(t) * 0x9E3779B97F4A7C15
	}
	return mixKV(hk, xxhash.Sum64String(v.AsString())+salt)
}

// keyHash is xxhash of the key at attribute position pos: points list the
// same keys in the same order, so the hash of the key last seen there is
// kept (one string compare instead of hashing the key again).
func (e *Engine) keyHash(pos int, k string) uint64 {
	if pos >= maxCachedPositions {
		return xxhash.Sum64String(k)
	}
	c := &e.keyHashes[pos]
	if c.key != k || !c.ok {
		c.key, c.h, c.ok = k, xxhash.Sum64String(k), true
	}
	return c.h
}

// mixKV combines a key and a value hash (murmur3's 64-bit finalizer).
func mixKV(hk, hv uint64) uint64 {
	x := hk*0xff51afd7ed558ccd ^ hv
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// overflowHash is the hash of the overflow series attribute.
var overflowHash = hashAttr(OverflowAttribute, pcommon.NewValueBool(true))

// limitKey applies the action of a limited key to one point: drop it, or
// keep an admitted value (inSet), or give it the overflow value. ls is the
// key's state when it is over its value limit (the edit counts against it),
// nil when max_series_total left no room for the value (reason total_limit).
func (e *Engine) limitKey(d *decision, lim *Limits, k string, h uint64, inSet bool, r Reason, ls *labelState) {
	switch {
	case lim.Action == DropLabel:
		d.dropReasons |= 1 << r
		e.edits = append(e.edits, edit{key: k, ls: ls})
	case inSet:
		d.outHash += h
	default:
		d.overflowReasons |= 1 << r
		e.edits = append(e.edits, edit{key: k, overflow: true, ls: ls})
		d.outHash += e.hashKStr(k, lim.OverflowValue)
	}
}

// decide runs the label and series limits for one point's attributes and
// updates the tracking state.
func (e *Engine) decide(ms *metricState, attrs pcommon.Map) decision {
	lim := ms.lim
	now := e.stamp
	keys := ms.dropKeysFor()
	hs, hits := e.hashes[:0], e.hits[:0]
	var in uint64
	pos := 0
	for k, v := range attrs.All() {
		h := hashValue(e.keyHash(pos, k), v)
		hs = append(hs, h)
		in += h
		for j := range keys {
			if keys[j].key == k {
				hits = append(hits, dropHit{pos: pos, key: j})
				break
			}
		}
		pos++
	}
	e.hashes, e.hits = hs, hits
	d := decision{inHash: in, editLo: len(e.edits), editHi: len(e.edits)}
	if len(hits) == 0 {
		// Fast path: a series that passed every check recently, with no
		// label of the metric limited, lifted or forgotten since. (A point
		// with a dropped key never has a series of its own in this
		// generation: its series is the one without the key.)
		if se, ok := ms.series[in]; ok && se.gen == ms.gen && e.age(se.seen) < e.recheck {
			d.outHash = in
			return d
		}
	} else if e.dropFastPath(ms, keys, &d) {
		return d
	}
	var protectedHash uint64
	pos = -1
	for k := range attrs.All() {
		pos++
		h := hs[pos]
		if len(lim.Protected) > 0 && lim.isProtected(k) {
			d.outHash += h
			protectedHash += h
			continue
		}
		if len(lim.AlwaysDrop) > 0 {
			if i := lim.alwaysDropIndex(k); i >= 0 {
				d.dropReasons |= 1 << ReasonAlwaysDrop
				e.edits = append(e.edits, edit{key: k, always: i + 1})
				continue
			}
		}
		var ls *labelState
		if pos < maxCachedPositions && ms.byPosition[pos] != nil && ms.byPosition[pos].key == k {
			ls = ms.byPosition[pos]
		} else {
			ls = ms.labels[k]
			if ls == nil {
				if len(ms.labels) >= MaxLabelKeysPerMetric {
					d.dropReasons |= 1 << ReasonLabelKeysLimit
					e.edits = append(e.edits, edit{key: k})
					continue
				}
				if !e.reserve(weightLabel) {
					d.dropReasons |= 1 << ReasonTotalLimit
					e.edits = append(e.edits, edit{key: k})
					continue
				}
				ls = &labelState{key: k, values: map[uint64]uint32{}}
				ms.labels[k] = ls
			}
			if pos < maxCachedPositions {
				ms.byPosition[pos] = ls
			}
		}
		if !ls.limited {
			if seen, ok := ls.values[h]; ok {
				if e.stale(seen) {
					ls.values[h] = now
				}
				d.outHash += h
				continue
			}
			if len(ls.values) < lim.MaxValuesPerLabel {
				if !e.reserve(weightValue) {
					// No room to remember the value: this point is treated
					// as if the key were limited, and counted.
					e.limitKey(&d, lim, k, h, false, ReasonTotalLimit, nil)
					continue
				}
				ls.values[h] = now
				d.outHash += h
				continue
			}
			e.startLimit(ms, k, ls, h)
			e.limitKey(&d, lim, k, h, false, ReasonValueLimit, ls)
			continue
		}
		inSet := false
		if seen, ok := ls.values[h]; ok {
			inSet = true
			if e.stale(seen) {
				ls.values[h] = now
			}
		} else {
			ls.lastExcess = now
			if ls.sketch != nil {
				ls.sketch.InsertHash(h)
			}
		}
		e.limitKey(&d, lim, k, h, inSet, ReasonValueLimit, ls)
	}
	d.editHi = len(e.edits)

	// Series limit on the output attribute set.
	if se, ok := ms.series[d.outHash]; ok {
		if se.gen != ms.gen || e.stale(se.seen) {
			ms.series[d.outHash] = seriesEntry{seen: now, gen: ms.gen}
		}
		return d
	}
	if len(ms.series) < lim.MaxSeriesPerMetric && e.reserve(weightSeries) {
		ms.series[d.outHash] = seriesEntry{seen: now, gen: ms.gen}
		return d
	}
	// New series over a limit: the overflow series, which keeps the protected labels.
	d.seriesOverflow = true
	d.dropReasons |= 1 << ReasonSeriesLimit
	d.overflowReasons |= 1 << ReasonSeriesLimit
	d.outHash = overflowHash + protectedHash
	if protectedHash != 0 && len(ms.overflow) >= lim.MaxSeriesPerMetric {
		if _, ok := ms.overflow[d.outHash]; !ok {
			// Too many distinct overflow series: collapse the protected labels too.
			d.outHash = overflowHash
		}
	}
	if seen, ok := ms.overflow[d.outHash]; ok {
		if e.stale(seen) {
			ms.overflow[d.outHash] = now
		}
		return d
	}
	if !e.reserve(weightSeries) {
		// Not even room for the overflow series: the point passes through.
		d.refused = true
		return d
	}
	ms.overflow[d.outHash] = now
	return d
}

func (e *Engine) startLimit(ms *metricState, k string, ls *labelState, h uint64) {
	ls.limited = true
	ls.lastExcess = e.stamp
	ls.limit = limitCount{since: e.stamp}
	e.limitedKeys++
	e.limitedDuring++
	ms.gen++
	if e.reserve(weightSketch) {
		sk, _ := hyperloglog.NewSketch(12, true)
		for vh := range ls.values {
			sk.InsertHash(vh)
		}
		sk.InsertHash(h)
		ls.sketch = sk
	} else {
		e.stats.SketchesRefused++
	}
	if ms.lim.Action == DropLabel {
		// The per-value series of the key are gone from now on: forget
		// them, so that the merged series they become fit the series limit.
		// Series still in use are admitted again by their next point.
		e.total -= len(ms.series) * weightSeries
		clear(ms.series)
	}
	if ls.logged {
		return
	}
	ls.logged = true
	e.log.Info("limited", "Label key over its value limit",
		zap.String("metric", ms.name),
		zap.String("label", k),
		zap.Uint64("estimated_distinct_values", ls.estimate()),
		zap.Int("max_values_per_label", ms.lim.MaxValuesPerLabel),
		zap.String("action", ms.lim.Action.String()),
		zap.Bool("observe", e.set.Observe),
	)
}

// estimate is the estimated number of distinct values of a limited key: the
// sketch's, or (when max_series_total left no room for one) the admitted
// values plus the one that went over.
func (ls *labelState) estimate() uint64 {
	if ls.sketch != nil {
		return ls.sketch.Estimate()
	}
	return uint64(len(ls.values)) + 1
}

// sweep forgets values, series and merge members unseen for the window and
// lifts the limit of labels that had no new value for the window.
func (e *Engine) sweep() {
	// Values and plain series are refreshed only every recheck while
	// active, so they get that much longer: they are forgotten between
	// window and window + recheck after they were last seen.
	slow := e.windowMs + e.recheck
	for sk, sc := range e.scopes {
		for mk, ms := range sc.metrics {
			changed := false
			for k, ls := range ms.labels {
				for vh, seen := range ls.values {
					if e.age(seen) >= slow {
						delete(ls.values, vh)
						e.total -= weightValue
						changed = true
					}
				}
				if ls.limited && e.age(ls.lastExcess) >= e.windowMs {
					e.log.Info("lifted", "Label key limit lifted",
						zap.String("metric", ms.name),
						zap.String("label", k),
						zap.Uint64("estimated_distinct_values", ls.estimate()),
						zap.Duration("quiet_for", e.set.Window),
					)
					ls.limited = false
					if ls.sketch != nil {
						ls.sketch = nil
						e.total -= weightSketch
					}
					e.limitedKeys--
					changed = true
				}
				if !ls.limited && len(ls.values) == 0 {
					delete(ms.labels, k)
					e.total -= weightLabel
				}
			}
			if changed {
				ms.gen++
				ms.byPosition = [maxCachedPositions]*labelState{}
			}
			for h, se := range ms.series {
				if e.age(se.seen) >= slow {
					delete(ms.series, h)
					e.total -= weightSeries
				}
			}
			for h, seen := range ms.overflow {
				if e.age(seen) >= slow {
					delete(ms.overflow, h)
					e.total -= weightSeries
				}
			}
			for h, a := range ms.aggs {
				freed, empty := a.expire(e)
				e.total -= freed
				if empty {
					delete(ms.aggs, h)
				}
			}
			if len(ms.series) == 0 && len(ms.overflow) == 0 && len(ms.labels) == 0 && len(ms.aggs) == 0 {
				delete(sc.metrics, mk)
				e.total -= weightMetric
			}
		}
		if len(sc.metrics) == 0 {
			delete(e.scopes, sk)
		}
	}
}
