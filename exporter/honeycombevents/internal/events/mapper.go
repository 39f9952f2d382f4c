// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package events // import "github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"

import (
	"math/rand/v2"
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
	// SampleRateAttribute names the one attribute that carries the sample
	// rate. Empty: Honeycomb's rule, `sampleRate` and then `SampleRate`.
	// The attribute used is removed from the fields.
	SampleRateAttribute string
	// HistogramPercentiles adds <name>.p50/.p90/.p95/.p99 fields estimated
	// from the buckets of histograms and exponential histograms.
	HistogramPercentiles bool
}

// instrumentationLibraryPrefixes mark scopes that are OpenTelemetry
// instrumentation libraries (Honeycomb sets telemetry.instrumentation_library);
// the list of Honeycomb's ingest.
var instrumentationLibraryPrefixes = []string{
	"io.opentelemetry",
	"opentelemetry.instrumentation",
	"OpenTelemetry.Instrumentation",
	"OpenTelemetry::Instrumentation",
	"go.opentelemetry.io/contrib/instrumentation",
	"@opentelemetry/instrumentation",
	"io.opentelemetry.contrib.php",
	"github.com/open-telemetry/opentelemetry-collector",
	"@honeycombio/",
}

// reservedKeys are the names of the fields the mapping sets itself; an
// attribute with one of these names overrides the mapped field.
var reservedKeys = []string{
	"trace.trace_id", "trace.span_id", "trace.parent_id", "trace.trace_state",
	"trace.link.trace_id", "trace.link.span_id",
	"name", "parent_name", "span.kind", "type", "duration_ms", "status_code",
	"status_message", "error", "span.num_events", "span.num_links",
	"meta.signal_type", "meta.annotation_type", "meta.invalid_duration",
	"meta.time_since_span_start_ms", "meta.invalid_time_since_span_start",
	"severity", "severity_code", "severity_text", "flags", "body", "event.name",
}

const (
	attrResourceSchemaURL = "resource.schema_url"
	attrScopeSchemaURL    = "scope.schema_url"
	// MaxDatasetLen is the longest dataset name Honeycomb accepts.
	MaxDatasetLen = 255
)

// Mapper turns pdata into events and hands them to its Batcher. It is not
// safe for concurrent use; it reuses its buffers across calls.
type Mapper struct {
	cfg   Config
	batch *Batcher
	rnd   *rand.Rand

	ev       Event
	res      []Field
	base     []Field
	baseKeys map[string]struct{}
	collides bool
	dataset  string
	seen     map[string]int
	drop     []bool

	metrics metricState
}

// NewMapper returns a mapper writing into b.
func NewMapper(cfg Config, b *Batcher) *Mapper {
	return &Mapper{
		cfg:      cfg,
		batch:    b,
		rnd:      rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		baseKeys: map[string]struct{}{},
		seen:     map[string]int{},
	}
}

// Reset prepares the mapper and its batcher for a new request.
func (m *Mapper) Reset() {
	m.batch.Reset()
	// Drop the previous request's strings so a pooled mapper does not keep
	// that request's pdata alive.
	clear(m.ev.Fields[:cap(m.ev.Fields)])
	clear(m.res[:cap(m.res)])
	clear(m.base[:cap(m.base)])
	m.ev.Fields, m.res, m.base = m.ev.Fields[:0], m.res[:0], m.base[:0]
	m.dataset = ""
	m.metrics.reset()
}

// DatasetName makes a service.name usable as a dataset the way Honeycomb
// derives dataset slugs: surrounding white space trimmed, each "/" (which
// the Events API refuses in a dataset name, even percent-encoded) replaced
// by "-" (the character Honeycomb's slugs use for it), cut to
// MaxDatasetLen bytes on a rune boundary.
func DatasetName(s string) string {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		s = strings.ReplaceAll(s, "/", "-")
	}
	return strings.TrimSpace(truncateUTF8(s, MaxDatasetLen))
}

// setResource caches the flattened resource fields and picks the dataset.
func (m *Mapper) setResource(res pcommon.Resource, schemaURL string) {
	attrs := res.Attributes()
	m.res, _ = appendAttrs(m.res[:0], attrs)
	if schemaURL != "" {
		m.res = append(m.res, strField(attrResourceSchemaURL, schemaURL, false))
	}
	m.dataset = m.cfg.Dataset
	if m.dataset == "" {
		m.dataset = m.cfg.UnknownDataset
		if v, ok := attrs.Get("service.name"); ok && v.Type() == pcommon.ValueTypeStr {
			if name := DatasetName(v.Str()); name != "" && !strings.HasPrefix(name, "unknown_service") {
				m.dataset = name
			}
		}
	}
}

// setScope builds the resource+scope fields shared by every event of the
// scope; scope attributes override resource attributes.
func (m *Mapper) setScope(scope pcommon.InstrumentationScope, schemaURL string) {
	base := m.base[:0]
	base = append(base, m.res...)
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
	base, _ = appendAttrs(base, scope.Attributes())
	if schemaURL != "" {
		base = append(base, strField(attrScopeSchemaURL, schemaURL, false))
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

// takeSampleRate finds the sample-rate attribute among the event's fields
// (after precedence is resolved, so an item's value beats the scope's and the
// resource's), removes it and returns its rate; found is false when there is
// none. Honeycomb's rule: `sampleRate`, else `SampleRate`.
func (m *Mapper) takeSampleRate(fields []Field) (out []Field, rate int64, found bool) {
	var i int
	if m.cfg.SampleRateAttribute != "" {
		i = fieldIndex(fields, m.cfg.SampleRateAttribute)
	} else if i = fieldIndex(fields, "sampleRate"); i < 0 {
		i = fieldIndex(fields, "SampleRate")
	}
	if i < 0 {
		return fields, 1, false
	}
	rate = sampleRateOfField(&fields[i])
	return append(fields[:i], fields[i+1:]...), rate, true
}

// dropSampleRate removes the sample-rate attributes from the fields of span
// events and links, which carry their span's rate.
func (m *Mapper) dropSampleRate(fields []Field) []Field {
	if m.cfg.SampleRateAttribute != "" {
		return removeField(fields, m.cfg.SampleRateAttribute)
	}
	return removeField(removeField(fields, "sampleRate"), "SampleRate")
}

func fieldIndex(fields []Field, key string) int {
	for i := range fields {
		if len(fields[i].Key) == len(key) && fields[i].Key == key {
			return i
		}
	}
	return -1
}

func removeField(fields []Field, key string) []Field {
	if i := fieldIndex(fields, key); i >= 0 {
		return append(fields[:i], fields[i+1:]...)
	}
	return fields
}

// setField replaces the field of f's key, or appends f.
func setField(fields []Field, f Field) []Field {
	if i := fieldIndex(fields, f.Key); i >= 0 {
		fields[i] = f
		return fields
	}
	return append(fields, f)
}

// appendItemAttrs appends the shared fields and then the item's attributes,
// resolving key collisions so that item > scope > resource > mapped field.
func (m *Mapper) appendItemAttrs(fields []Field, attrs pcommon.Map, forceDedupe bool) []Field {
	fields = append(fields, m.base...)
	n := len(fields)
	fields, flattened := appendAttrs(fields, attrs)
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
