// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package join // import "github.com/prodscope/prodscope/processor/logtracejoin/internal/join"

import (
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var spansPool = sync.Pool{New: func() any { return new([]Span) }}

// IndexTraces indexes the spans of td whose attributes hold a correlation
// key (keyOf returns it, or ""): a SERVER or CONSUMER span ranks as the
// request's entry span, a span without parent as its root.
func (j *Joiner) IndexTraces(td ptrace.Traces, keyOf func(pcommon.Map) string, now time.Time) (added int, ev Evictions) {
	sp0 := spansPool.Get().(*[]Span)
	spans := (*sp0)[:0]
	defer func() {
		if cap(spans) <= maxPooled {
			*sp0 = spans[:0]
			spansPool.Put(sp0)
		}
	}()
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for k := 0; k < sss.Len(); k++ {
			ss := sss.At(k).Spans()
			for n := 0; n < ss.Len(); n++ {
				sp := ss.At(n)
				key := keyOf(sp.Attributes())
				if key == "" || sp.TraceID().IsEmpty() || sp.SpanID().IsEmpty() {
					continue
				}
				rank := RankOther
				switch {
				case sp.Kind() == ptrace.SpanKindServer || sp.Kind() == ptrace.SpanKindConsumer:
					rank = RankEntry
				case sp.ParentSpanID().IsEmpty():
					rank = RankRoot
				}
				spans = append(spans, Span{
					Hash:    Hash(key),
					Context: SpanContext{TraceID: sp.TraceID(), SpanID: sp.SpanID(), Flags: uint8(sp.Flags() & 0xff)},
					Rank:    rank,
				})
			}
		}
	}
	if len(spans) == 0 {
		return 0, Evictions{}
	}
	return j.IndexSpans(spans, now)
}
