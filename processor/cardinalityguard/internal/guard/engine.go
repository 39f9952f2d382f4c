// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"math"
	"sync"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
)

// Engine holds the state of one processor instance. It is safe for
// concurrent use; Process calls are serialised.
type Engine struct {
	mu  sync.Mutex
	set Settings
	now func() time.Time
	log *zap.Logger

	epoch      time.Time
	windowSec  uint32
	sweepEvery uint32
	// recheck is how long a known, unchanged series skips the per-label
	// checks: its values are refreshed at least that often, so values and
	// series are kept for window + recheck after their last refresh.
	recheck   uint32
	lastSweep uint32

	scopes map[uint64]*scopeState
	// total counts every tracked entry that max_series_total bounds: output
	// series and the source series kept for merged cumulative sums,
	// histograms and gauges.
	total       int
	limitedKeys int

	limitLog lineLimiter

	// per-call scratch, reused
	digest    *xxhash.Digest
	hashes    []uint64
	decisions []decision
	edits     []edit
	stats     Stats
	removeIdx int
}

type scopeState struct {
	metrics map[metricKey]*metricState
}

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
	aggs     map[uint64]*aggSeries
	// byPosition caches the label state of the key last seen at each
	// attribute position: points of one metric usually list their keys in
	// the same order, so one string compare replaces a map lookup.
	byPosition [maxCachedPositions]*labelState
}

const maxCachedPositions = 16

type seriesEntry struct {
	seen uint32 // tick of the last full check
	gen  uint32
}

type labelState struct {
	key        string
	values     map[uint64]uint32 // hash(key, value) -> last seen tick
	limited    bool
	logged     bool
	lastExcess uint32
	sketch     *hyperloglog.Sketch
}

type edit struct {
	key      string
	overflow bool // false: drop the key; true: set it to the overflow value
}

type decision struct {
	inHash, outHash uint64
	editLo, editHi  int32
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
	w := uint32(set.Window / time.Second)
	if w == 0 {
		w = 1
	}
	every := w / 8
	if every == 0 {
		every = 1
	}
	if every > 60 {
		every = 60
	}
	e := &Engine{
		set:        set,
		now:        now,
		log:        log,
		windowSec:  w,
		sweepEvery: every,
		recheck:    max(1, w/8),
		scopes:     map[uint64]*scopeState{},
		digest:     xxhash.New(),
		limitLog:   lineLimiter{perMinute: 20},
	}
	e.epoch = now()
	return e
}

// tick is seconds since the engine started, plus one, so that zero never
// means "seen".
func (e *Engine) tick() uint32 {
	d := e.now().Sub(e.epoch)
	if d < 0 {
		d = 0
	}
	s := d / time.Second
	if s > math.MaxUint32-1 {
		s = math.MaxUint32 - 1
	}
	return uint32(s) + 1
}

// SeriesTracked returns the number of entries bounded by max_series_total.
func (e *Engine) SeriesTracked() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.total
}

// LabelKeysLimited returns the (metric, label) pairs currently over their limit.
func (e *Engine) LabelKeysLimited() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.limitedKeys
}

// MaxValuesTracked returns the largest value set of any label, for tests.
func (e *Engine) MaxValuesTracked() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := 0
	for _, sc := range e.scopes {
		for _, ms := range sc.metrics {
			for _, ls := range ms.labels {
				m = max(m, len(ls.values))
			}
		}
	}
	return m
}

// Process applies the limits to md in place and returns what it did.
func (e *Engine) Process(md pmetric.Metrics) Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats = Stats{}
	tick := e.tick()
	if tick-e.lastSweep >= e.sweepEvery {
		e.sweep(tick)
		e.lastSweep = tick
	}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		sc := scopeRef{key: e.scopeKey(rm.Resource().Attributes())}
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			if e.set.Observe {
				// Read only: the data may be shared (MutatesData is false).
				for k := 0; k < ms.Len(); k++ {
					e.processMetric(&sc, ms.At(k), tick)
				}
				continue
			}
			ms.RemoveIf(func(m pmetric.Metric) bool {
				return e.processMetric(&sc, m, tick)
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

// scope returns the state of the scope with the given resource attributes,
// creating it; for tests.
func (e *Engine) scope(res pcommon.Map) *scopeState {
	key := e.scopeKey(res)
	sc := e.scopes[key]
	if sc == nil {
		sc = &scopeState{metrics: map[metricKey]*metricState{}}
		e.scopes[key] = sc
	}
	return sc
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
	if e.total >= e.set.MaxSeriesTotal {
		return nil
	}
	if ref.state == nil {
		ref.state = &scopeState{metrics: map[metricKey]*metricState{}}
		e.scopes[ref.key] = ref.state
	}
	sc := ref.state
	ms := &metricState{
		name:     key.name,
		lim:      e.set.limitsFor(key.name),
		labels:   map[string]*labelState{},
		series:   map[uint64]seriesEntry{},
		overflow: map[uint64]uint32{},
		aggs:     map[uint64]*aggSeries{},
	}
	sc.metrics[key] = ms
	return ms
}

// processMetric handles one metric; it returns true when the metric is left
// with no points and must be removed.
func (e *Engine) processMetric(sc *scopeRef, m pmetric.Metric, tick uint32) bool {
	n := pointCount(m)
	if n == 0 {
		return false
	}
	ms := e.metric(sc, m)
	if ms == nil {
		e.stats.Refused[ReasonTotalLimit] += int64(n)
		return !e.set.Observe
	}
	e.decisions = e.decisions[:0]
	e.edits = e.edits[:0]
	isSummary := m.Type() == pmetric.MetricTypeSummary
	for i := 0; i < n; i++ {
		d := e.decide(ms, pointAttributes(m, i), tick)
		if d.changed() && isSummary {
			e.stats.Unmergeable[ReasonSummary]++
		}
		e.decisions = append(e.decisions, d)
	}
	if e.set.Observe {
		for i := range e.decisions {
			d := &e.decisions[i]
			if d.refused {
				e.stats.Refused[ReasonTotalLimit]++
			} else if !isSummary {
				e.countChange(d)
			}
		}
		return false
	}
	if isSummary {
		return false
	}
	return e.rewrite(ms, m, tick)
}

func (e *Engine) countChange(d *decision) {
	for r := Reason(0); r < NumReasons; r++ {
		if d.dropReasons&(1<<r) != 0 {
			e.stats.LabelDropped[r]++
		}
		if d.overflowReasons&(1<<r) != 0 {
			e.stats.Overflowed[r]++
		}
	}
}

func (e *Engine) hashKStr(k, v string) uint64 {
	return mixKV(xxhash.Sum64String(k), xxhash.Sum64String(v))
}

// hashAttr hashes one attribute (key and typed value). Attribute-set hashes
// are sums of these, so they do not depend on attribute order.
func hashAttr(k string, v pcommon.Value) uint64 {
	hk := xxhash.Sum64String(k)
	if v.Type() == pcommon.ValueTypeStr {
		return mixKV(hk, xxhash.Sum64String(v.Str()))
	}
	return mixKV(hk, xxhash.Sum64String(v.AsString())+uint64(v.Type())*0x9E3779B97F4A7C15)
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

// decide runs the label and series limits for one point's attributes and
// updates the tracking state.
func (e *Engine) decide(ms *metricState, attrs pcommon.Map, tick uint32) decision {
	lim := ms.lim
	hs := e.hashes[:0]
	var in uint64
	for k, v := range attrs.All() {
		h := hashAttr(k, v)
		hs = append(hs, h)
		in += h
	}
	e.hashes = hs
	d := decision{inHash: in, editLo: int32(len(e.edits)), editHi: int32(len(e.edits))}
	// Fast path: a series that passed every check recently, with no label
	// of the metric limited, lifted or forgotten since.
	if se, ok := ms.series[in]; ok && se.gen == ms.gen && tick-se.seen < e.recheck {
		d.outHash = in
		return d
	}
	var protectedHash uint64
	pos := -1
	for k := range attrs.All() {
		pos++
		h := hs[pos]
		if len(lim.Protected) > 0 && lim.isProtected(k) {
			d.outHash += h
			protectedHash += h
			continue
		}
		if len(lim.AlwaysDrop) > 0 && lim.isAlwaysDrop(k) {
			d.dropReasons |= 1 << ReasonAlwaysDrop
			e.edits = append(e.edits, edit{key: k})
			continue
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
				ls = &labelState{key: k, values: map[uint64]uint32{}}
				ms.labels[k] = ls
			}
			if pos < maxCachedPositions {
				ms.byPosition[pos] = ls
			}
		}
		inSet := false
		if !ls.limited {
			if seen, ok := ls.values[h]; ok {
				if seen != tick {
					ls.values[h] = tick
				}
				d.outHash += h
				continue
			}
			if len(ls.values) < lim.MaxValuesPerLabel {
				ls.values[h] = tick
				d.outHash += h
				continue
			}
			e.startLimit(ms, k, ls, h, tick)
		} else {
			if seen, ok := ls.values[h]; ok {
				inSet = true
				if seen != tick {
					ls.values[h] = tick
				}
			} else {
				ls.lastExcess = tick
				ls.sketch.InsertHash(h)
			}
		}
		switch {
		case lim.Action == DropLabel:
			d.dropReasons |= 1 << ReasonValueLimit
			e.edits = append(e.edits, edit{key: k})
		case inSet:
			d.outHash += h
		default:
			d.overflowReasons |= 1 << ReasonValueLimit
			e.edits = append(e.edits, edit{key: k, overflow: true})
			d.outHash += e.hashKStr(k, lim.OverflowValue)
		}
	}
	d.editHi = int32(len(e.edits))

	// Series limit on the output attribute set.
	if _, ok := ms.series[d.outHash]; ok {
		ms.series[d.outHash] = seriesEntry{seen: tick, gen: ms.gen}
		return d
	}
	if len(ms.series) < lim.MaxSeriesPerMetric && e.total < e.set.MaxSeriesTotal {
		ms.series[d.outHash] = seriesEntry{seen: tick, gen: ms.gen}
		e.total++
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
		if seen != tick {
			ms.overflow[d.outHash] = tick
		}
		return d
	}
	if e.total >= e.set.MaxSeriesTotal {
		d.refused = true
		return d
	}
	ms.overflow[d.outHash] = tick
	e.total++
	return d
}

func (e *Engine) startLimit(ms *metricState, k string, ls *labelState, h uint64, tick uint32) {
	ls.limited = true
	ls.lastExcess = tick
	e.limitedKeys++
	ms.gen++
	sk, _ := hyperloglog.NewSketch(12, true)
	for vh := range ls.values {
		sk.InsertHash(vh)
	}
	sk.InsertHash(h)
	ls.sketch = sk
	if ls.logged {
		return
	}
	ls.logged = true
	if ok, suppressed := e.limitLog.allow(e.now()); ok {
		fields := []zap.Field{
			zap.String("metric", ms.name),
			zap.String("label", k),
			zap.Uint64("estimated_distinct_values", sk.Estimate()),
			zap.Int("max_values_per_label", ms.lim.MaxValuesPerLabel),
			zap.String("action", ms.lim.Action.String()),
			zap.Bool("observe", e.set.Observe),
		}
		if suppressed > 0 {
			fields = append(fields, zap.Int("similar_lines_suppressed", suppressed))
		}
		e.log.Info("Label key over its value limit", fields...)
	}
}

// EstimatedValues returns the HyperLogLog estimate of the distinct values of
// a limited label of a metric in any scope, or 0 when it is not limited.
func (e *Engine) EstimatedValues(metric, label string) uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var est uint64
	for _, sc := range e.scopes {
		for key, ms := range sc.metrics {
			if key.name != metric {
				continue
			}
			if ls := ms.labels[label]; ls != nil && ls.sketch != nil {
				est = max(est, ls.sketch.Estimate())
			}
		}
	}
	return est
}

// sweep forgets values, series and merge members unseen for the window and
// lifts the limit of labels that had no new value for the window.
func (e *Engine) sweep(tick uint32) {
	if tick <= e.windowSec {
		return
	}
	// Entries seen at or before cutoff expire. Values and plain series are
	// refreshed only every recheck ticks while active, so they get that much
	// longer: they are forgotten between window and window + recheck after
	// they were last seen.
	cutoff := tick - e.windowSec
	slowCutoff := uint32(0)
	if cutoff > e.recheck {
		slowCutoff = cutoff - e.recheck
	}
	for sk, sc := range e.scopes {
		for mk, ms := range sc.metrics {
			changed := false
			for k, ls := range ms.labels {
				for vh, seen := range ls.values {
					if seen <= slowCutoff {
						delete(ls.values, vh)
						changed = true
					}
				}
				if ls.limited && ls.lastExcess <= cutoff {
					if ok, suppressed := e.limitLog.allow(e.now()); ok {
						fields := []zap.Field{
							zap.String("metric", ms.name),
							zap.String("label", k),
							zap.Uint64("estimated_distinct_values", ls.sketch.Estimate()),
							zap.Duration("quiet_for", e.set.Window),
						}
						if suppressed > 0 {
							fields = append(fields, zap.Int("similar_lines_suppressed", suppressed))
						}
						e.log.Info("Label key limit lifted", fields...)
					}
					ls.limited = false
					ls.sketch = nil
					e.limitedKeys--
					changed = true
				}
				if !ls.limited && len(ls.values) == 0 {
					delete(ms.labels, k)
				}
			}
			if changed {
				ms.gen++
				ms.byPosition = [maxCachedPositions]*labelState{}
			}
			for h, se := range ms.series {
				if se.seen <= slowCutoff {
					delete(ms.series, h)
					e.total--
					e.dropAgg(ms, h)
				}
			}
			for h, seen := range ms.overflow {
				if seen <= cutoff {
					delete(ms.overflow, h)
					e.total--
					e.dropAgg(ms, h)
				}
			}
			for h, a := range ms.aggs {
				_, regular := ms.series[h]
				_, ovf := ms.overflow[h]
				if !regular && !ovf {
					e.dropAgg(ms, h)
					continue
				}
				e.total -= a.expireMembers(cutoff)
			}
			if len(ms.series) == 0 && len(ms.overflow) == 0 && len(ms.labels) == 0 && len(ms.aggs) == 0 {
				delete(sc.metrics, mk)
			}
		}
		if len(sc.metrics) == 0 {
			delete(e.scopes, sk)
		}
	}
}

func (e *Engine) dropAgg(ms *metricState, h uint64) {
	if a := ms.aggs[h]; a != nil {
		e.total -= a.memberCount()
		delete(ms.aggs, h)
	}
}

// lineLimiter allows a number of log lines per minute and counts the rest.
type lineLimiter struct {
	perMinute  int
	minute     int64
	lines      int
	suppressed int
}

func (l *lineLimiter) allow(now time.Time) (bool, int) {
	m := now.Unix() / 60
	if m != l.minute {
		l.minute, l.lines = m, 0
	}
	if l.lines >= l.perMinute {
		l.suppressed++
		return false, 0
	}
	l.lines++
	s := l.suppressed
	l.suppressed = 0
	return true, s
}
