// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package events // import "github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Config controls the mapping.
type Config struct {
	// Dataset, when set, is the dataset of every event.
	Dataset string
	// UnknownDataset is used when Dataset is empty and the resource has no
	// usable service.name.
	UnknownDataset string
	// SampleRateAttribute names the attribute carrying the sample rate; it
	// is removed from the fields.
	SampleRateAttribute string
}

// instrumentationLibraryPrefixes mark scopes that are OpenTelemetry
// instrumentation libraries (Honeycomb sets telemetry.instrumentation_library).
var instrumentationLibraryPrefixes = []string{
	"io.opentelemetry",
	"opentelemetry.instrumentation",
	"OpenTelemetry.Instrumentation",
	"OpenTelemetry::Instrumentation",
	"go.opentelemetry.io/contrib/instrumentation",
	"@opentelemetry/instrumentation",
}

// reservedKeys are the names of the fields the mapping sets itself; an
// attribute with one of these names overrides the mapped field.
var reservedKeys = []string{
	"trace.trace_id", "trace.span_id", "trace.parent_id", "trace.trace_state",
	"trace.link.trace_id", "trace.link.span_id",
	"name", "parent_name", "span.kind", "type", "duration_ms", "status_code",
	"status_message", "error", "span.num_events", "span.num_links",
	"meta.signal_type", "meta.annotation_type",
	"severity", "severity_code", "severity_text", "flags", "body", "event.name",
}

// Mapper turns pdata into events and hands them to its Batcher. It is not
// safe for concurrent use; it reuses its buffers across calls.
type Mapper struct {
	cfg Config
	// B receives the events.
	B *Batcher

	ev        Event
	res       []Field
	base      []Field
	baseKeys  map[string]struct{}
	collides  bool
	resRate   int64
	scopeRate int64
	dataset   string
	seen      map[string]int
	drop      []bool

	// Groups maps a metric event (its item index) to the global indexes
	// of the data points it carries; only set by Metrics.
	Groups [][]int32
	groups map[groupKey]int32
}

// NewMapper returns a mapper writing into b.
func NewMapper(cfg Config, b *Batcher) *Mapper {
	return &Mapper{
		cfg:      cfg,
		B:        b,
		baseKeys: map[string]struct{}{},
		seen:     map[string]int{},
		groups:   map[groupKey]int32{},
	}
}

// Reset prepares the mapper and its batcher for a new request.
func (m *Mapper) Reset() {
	m.B.Reset()
	// Drop the previous request's strings so a pooled mapper does not keep
	// that request's pdata alive.
	clear(m.ev.Fields[:cap(m.ev.Fields)])
	clear(m.res[:cap(m.res)])
	clear(m.base[:cap(m.base)])
	m.ev.Fields, m.res, m.base = m.ev.Fields[:0], m.res[:0], m.base[:0]
	m.dataset = ""
	for i := range m.Groups {
		m.Groups[i] = m.Groups[i][:0]
	}
	m.Groups = m.Groups[:0]
	clear(m.groups)
}

// setResource caches the flattened resource fields and picks the dataset.
func (m *Mapper) setResource(res pcommon.Resource) {
	attrs := res.Attributes()
	m.res, _ = appendAttrs(m.res[:0], attrs, m.cfg.SampleRateAttribute)
	m.resRate = 0
	if v, ok := attrs.Get(m.cfg.SampleRateAttribute); ok {
		m.resRate = sampleRateOf(v)
	}
	m.dataset = m.cfg.Dataset
	if m.dataset == "" {
		m.dataset = m.cfg.UnknownDataset
		if v, ok := attrs.Get("service.name"); ok && v.Type() == pcommon.ValueTypeStr {
			if name := strings.TrimSpace(v.Str()); name != "" && !strings.HasPrefix(name, "unknown_service") {
				m.dataset = name
			}
		}
	}
}

// setScope builds the resource+scope fields shared by every event of the
// scope; scope attributes override resource attributes.
func (m *Mapper) setScope(scope pcommon.InstrumentationScope, withLibrary bool) {
	base := append(m.base[:0], m.res...)
	m.scopeRate = 0
	if withLibrary {
		if name := scope.Name(); name != "" {
			base = append(base, strField("library.name", name, false))
			for _, p := range instrumentationLibraryPrefixes {
				if strings.HasPrefix(name, p) {
					base = append(base, boolField("telemetry.instrumentation_library", true, false))
					break
				}
			}
		}
		if v := scope.Version(); v != "" {
			base = append(base, strField("library.version", v, false))
		}
		base, _ = appendAttrs(base, scope.Attributes(), m.cfg.SampleRateAttribute)
		if v, ok := scope.Attributes().Get(m.cfg.SampleRateAttribute); ok {
			m.scopeRate = sampleRateOf(v)
		}
	}
	clear(m.baseKeys)
	m.collides = false
	for _, k := range reservedKeys {
		m.baseKeys[k] = struct{}{}
	}
	for i := range base {
		if _, dup := m.baseKeys[base[i].Key]; dup {
			m.collides = true
		}
		m.baseKeys[base[i].Key] = struct{}{}
	}
	if m.collides {
		base = m.dedupe(base)
	}
	m.base = base
}

// itemRate picks the sample rate of an item: its own attribute, then the
// scope's, then the resource's; 0 when none is set.
func (m *Mapper) itemRate(attrs pcommon.Map) int64 {
	if m.cfg.SampleRateAttribute != "" {
		if v, ok := attrs.Get(m.cfg.SampleRateAttribute); ok {
			if r := sampleRateOf(v); r > 0 {
				return r
			}
		}
	}
	if m.scopeRate > 0 {
		return m.scopeRate
	}
	return m.resRate
}

// appendItemAttrs appends the shared fields and then the item's attributes,
// resolving key collisions so that item > scope > resource > mapped field.
func (m *Mapper) appendItemAttrs(fields []Field, attrs pcommon.Map, forceDedupe bool) []Field {
	fields = append(fields, m.base...)
	n := len(fields)
	fields, flattened := appendAttrs(fields, attrs, m.cfg.SampleRateAttribute)
	collide := forceDedupe || m.collides || flattened
	if !collide {
		for i := n; i < len(fields); i++ {
			if _, ok := m.baseKeys[fields[i].Key]; ok {
				collide = true
				break
			}
		}
	}
	if collide {
		fields = m.dedupe(fields)
	}
	return fields
}

// dedupe keeps the last field of every key, in order.
func (m *Mapper) dedupe(fields []Field) []Field {
	clear(m.seen)
	if cap(m.drop) < len(fields) {
		m.drop = make([]bool, len(fields))
	}
	drop := m.drop[:len(fields)]
	clear(drop)
	dups := false
	for i := len(fields) - 1; i >= 0; i-- {
		if _, ok := m.seen[fields[i].Key]; ok {
			drop[i] = true
			dups = true
			continue
		}
		m.seen[fields[i].Key] = i
	}
	if !dups {
		return fields
	}
	out := fields[:0]
	for i := range fields {
		if !drop[i] {
			out = append(out, fields[i])
		}
	}
	return out
}

func rateOrOne(r int64) int64 {
	if r <= 0 {
		return 1
	}
	return r
}
