// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package events // import "github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

func severityName(n plog.SeverityNumber) string {
	switch {
	case n >= plog.SeverityNumberTrace && n <= plog.SeverityNumberTrace4:
		return "trace"
	case n >= plog.SeverityNumberDebug && n <= plog.SeverityNumberDebug4:
		return "debug"
	case n >= plog.SeverityNumberInfo && n <= plog.SeverityNumberInfo4:
		return "info"
	case n >= plog.SeverityNumberWarn && n <= plog.SeverityNumberWarn4:
		return "warn"
	case n >= plog.SeverityNumberError && n <= plog.SeverityNumberError4:
		return "error"
	case n >= plog.SeverityNumberFatal && n <= plog.SeverityNumberFatal4:
		return "fatal"
	default:
		return "unspecified"
	}
}

// Logs maps every log record to an event; its item index is the record's
// position in ld.
func (m *Mapper) Logs(ld plog.Logs) {
	item := int32(0)
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		m.setResource(rl.Resource(), rl.SchemaUrl())
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			m.setScope(sl.Scope(), sl.SchemaUrl())
			records := sl.LogRecords()
			for k := 0; k < records.Len(); k++ {
				m.log(records.At(k), item)
				item++
			}
		}
	}
}

func (m *Mapper) log(lr plog.LogRecord, item int32) {
	fields := m.ev.Fields[:0]
	fields = append(fields,
		strField("severity", severityName(lr.SeverityNumber()), true),
		intField("severity_code", int64(lr.SeverityNumber()), true),
		strField("meta.signal_type", "log", true),
		intField("flags", int64(lr.Flags()), true),
	)
	if tid := lr.TraceID(); !tid.IsEmpty() {
		fields = append(fields,
			traceIDField("trace.trace_id", [16]byte(tid)),
			strField("meta.annotation_type", "span_event", true),
		)
	}
	if sid := lr.SpanID(); !sid.IsEmpty() {
		fields = append(fields, spanIDField("trace.parent_id", [8]byte(sid)))
	}
	if t := lr.SeverityText(); t != "" {
		fields = append(fields, strField("severity_text", t, true))
	}
	if n := lr.EventName(); n != "" {
		fields = append(fields, strField("event.name", n, true))
	}
	body := lr.Body()
	flattened := false
	switch body.Type() {
	case pcommon.ValueTypeEmpty:
	case pcommon.ValueTypeMap:
		// Honeycomb flattens a map body into body.* fields and keeps the
		// whole body as a JSON string under "body".
		fields, flattened = appendValue(fields, "body", body, 0)
		if s, ok := jsonString(body); ok {
			fields = append(fields, strField("body", s, true))
		}
	default:
		n := len(fields)
		fields, _ = appendValue(fields, "body", body, 0)
		if len(fields) > n {
			fields[n].Fixed = true
		}
	}
	fields = m.appendItemAttrs(fields, lr.Attributes(), flattened)

	ts := lr.Timestamp()
	if ts == 0 {
		ts = lr.ObservedTimestamp()
	}
	fields, rate, _ := m.takeSampleRate(fields)
	m.ev.Fields = fields
	m.ev.TimeUnixNano = ts.AsTime().UnixNano()
	m.ev.SampleRate = rate
	m.batch.Add(m.dataset, &m.ev, item)
}
