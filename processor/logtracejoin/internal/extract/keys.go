// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package extract // import "github.com/prodscope/prodscope/processor/logtracejoin/internal/extract"

import "strings"

// kind is what a configured key holds.
type kind uint8

const (
	kindNone kind = iota
	kindTraceparent
	kindTraceID
	kindSpanID
	kindFlags
	kindGoogleTrace
	kindGoogleSpan
	kindGoogleSampled
	kindJaeger
	kindB3
	kindXRay
	kindCloudTrace
	kindCorrelation
	numKinds
)

// headerKind reports kinds whose value is a whole trace header
// ("Root=1-…;Parent=…;Sampled=1", "<trace>/<span>;o=1"): an unquoted value
// of such a key runs up to white space, not up to ';'.
func (k kind) header() bool { return k == kindXRay || k == kindCloudTrace || k == kindB3 }

// keyInfo describes one configured key.
type keyInfo struct {
	kind kind
	// prio is the key's position in its configured list: lower wins when
	// several keys of one kind are present.
	prio uint16
	// corrPrio is the position in correlation_keys, or -1.
	corrPrio int16
	// conv is the convention of a trace id key (Datadog, B3 multi-header,
	// plain trace id fields); every Datadog key ("dd." prefix) has
	// ConvDatadog, which says that its ids may be decimal (decimal). A
	// separate flag would make keyInfo six fields: passed in registers, as
	// keyInfo is on every key lookup and offer, it then pushed the offered
	// value onto the stack (extraction from attributes 1.5x slower).
	conv Convention
}

// decimal reports Datadog keys ("dd." prefix), whose ids may be decimal.
func (k keyInfo) decimal() bool { return k.conv == ConvDatadog }

// Keys configures which keys hold what.
type Keys struct {
	TraceID           []string
	SpanID            []string
	TraceFlags        []string
	Traceparent       []string
	GoogleTrace       []string
	Jaeger            []string
	B3                []string
	XRay              []string
	CloudTraceContext []string
	CorrelationKeys   []string
}

// keySet is the compiled lookup structure for Keys. Dotted keys are also
// compiled into a trie (children): ECS `trace.id` matches a flat
// "trace.id" field and {"trace":{"id":…}} alike, as one field of the level
// it is found at.
type keySet struct {
	byName   map[string]keyInfo
	children map[string]*keySet
	// table is a small hash table over (length, first byte, last byte):
	// cheaper than hashing the whole string, and most keys of a log line
	// land in an empty bucket. A bucket holds 1 + the index of its first
	// entry (0: empty), so that the table is 2 KiB and stays in L1 cache;
	// entries of one bucket are chained by next.
	table   [tableSize]uint32
	entries []keyEntry
	// last2 (a bit per pair of bytes) marks the two bytes configured keys
	// end with: the scanners reject most keys by their last two bytes
	// ("time", "level", "msg" are rejected; "user_id" is looked up).
	last2 [256 * 256 / 64]uint64
}

type keyEntry struct {
	name string
	info keyInfo
	next uint32 // 1 + index of the next entry of the bucket, 0: none
}

const tableSize = 512

func bucket(name string) int {
	return int((uint(len(name))*131 + uint(name[0])*31 + uint(name[len(name)-1])) % tableSize)
}

func newEmptyKeySet() *keySet {
	return &keySet{byName: map[string]keyInfo{}, children: map[string]*keySet{}}
}

func (ks *keySet) add(name string, info keyInfo) {
	if name == "" {
		return
	}
	if prev, ok := ks.byName[name]; ok {
		// a key in an id list and in correlation_keys keeps both roles; a
		// key repeated across id lists keeps its first role.
		if info.kind == kindCorrelation {
			prev.corrPrio = info.corrPrio
		} else if prev.kind == kindCorrelation {
			info.corrPrio = prev.corrPrio
			prev = info
		}
		ks.byName[name] = prev
	} else {
		ks.byName[name] = info
	}
	if i := strings.IndexByte(name, '.'); i > 0 && i < len(name)-1 {
		child := ks.children[name[:i]]
		if child == nil {
			child = newEmptyKeySet()
			ks.children[name[:i]] = child
		}
		child.add(name[i+1:], info)
	}
}

// googleSibling derives the sibling key of a Google trace key:
// "logging.googleapis.com/trace" → "logging.googleapis.com/spanId".
func googleSibling(key, leaf string) string {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return ""
	}
	return key[:i+1] + leaf
}

func newKeySet(k Keys) *keySet {
	ks := newEmptyKeySet()
	addList := func(names []string, kd kind) {
		for i, n := range names {
			info := keyInfo{kind: kd, prio: uint16(i), corrPrio: -1}
			if strings.HasPrefix(n, "dd.") {
				info.conv = ConvDatadog
			}
			ks.add(n, info)
		}
	}
	addList(k.Traceparent, kindTraceparent)
	for i, n := range k.TraceID {
		ks.add(n, keyInfo{kind: kindTraceID, prio: uint16(i), corrPrio: -1, conv: traceIDConvention(n)})
	}
	addList(k.SpanID, kindSpanID)
	addList(k.TraceFlags, kindFlags)
	addList(k.GoogleTrace, kindGoogleTrace)
	for i, n := range k.GoogleTrace {
		ks.add(googleSibling(n, "spanId"), keyInfo{kind: kindGoogleSpan, prio: uint16(i), corrPrio: -1})
		ks.add(googleSibling(n, "trace_sampled"), keyInfo{kind: kindGoogleSampled, prio: uint16(i), corrPrio: -1})
	}
	addList(k.Jaeger, kindJaeger)
	addList(k.B3, kindB3)
	addList(k.XRay, kindXRay)
	addList(k.CloudTraceContext, kindCloudTrace)
	for i, n := range k.CorrelationKeys {
		ks.add(n, keyInfo{kind: kindCorrelation, corrPrio: int16(i)})
	}
	ks.compile()
	return ks
}

func (ks *keySet) compile() {
	var n uint32 // entries so far: a bucket holds 1 + the index of its first entry
	for name, info := range ks.byName {
		b := bucket(name)
		// appended at the head of its bucket's chain
		ks.entries = append(ks.entries, keyEntry{name: name, info: info, next: ks.table[b]})
		n++ // len(ks.entries)
		ks.table[b] = n
		c := name[len(name)-1]
		if len(name) == 1 {
			for b := range 256 {
				ks.setLast2(byte(b), c)
			}
		} else {
			ks.setLast2(name[len(name)-2], c)
		}
	}
	for _, c := range ks.children {
		c.compile()
	}
}

func (ks *keySet) setLast2(b, c byte) {
	i := uint(b)<<8 | uint(c)
	ks.last2[i/64] |= 1 << (i % 64)
}

// endsLike reports whether a configured key ends with the bytes b, c.
func (ks *keySet) endsLike(b, c byte) bool {
	i := uint(b)<<8 | uint(c)
	return ks.last2[i/64]&(1<<(i%64)) != 0
}

// lookup returns the key's info.
func (ks *keySet) lookup(name string) (keyInfo, bool) {
	n := len(name)
	if n == 0 || n >= 2 && !ks.endsLike(name[n-2], name[n-1]) {
		return keyInfo{}, false
	}
	return ks.find(name)
}

// find is lookup for a name whose last two bytes are already known to end
// a configured key (keyBefore checked them).
func (ks *keySet) find(name string) (keyInfo, bool) {
	for i := ks.table[bucket(name)]; i != 0; {
		e := &ks.entries[i-1]
		if e.name == name {
			return e.info, true
		}
		i = e.next
	}
	return keyInfo{}, false
}

// child returns the trie node under a parent key ("trace" of "trace.id"),
// or nil.
func (ks *keySet) child(name string) *keySet {
	if len(ks.children) == 0 {
		return nil
	}
	return ks.children[name]
}

// lookupSuffix looks up the part of a dotted key after its last dot
// ("otel.trace_id" → "trace_id"): a group or namespace prefix written into
// the key by a text encoder.
func (ks *keySet) lookupSuffix(name string) (keyInfo, bool) {
	n := len(name)
	if n < 2 || !ks.endsLike(name[n-2], name[n-1]) {
		return keyInfo{}, false
	}
	i := strings.LastIndexByte(name, '.')
	if i < 0 || i == n-1 {
		return keyInfo{}, false
	}
	return ks.lookup(name[i+1:])
}

// DefaultKeys are the keys of the conventions real logging libraries write
// (the processor's default configuration). Within a list, the earlier key
// wins when several hold a valid id in one field set.
func DefaultKeys() Keys {
	return Keys{
		TraceID: []string{
			"trace_id", "traceId", "traceID", "TraceId", "TraceID", "trace.id", "otelTraceID",
			"dd.trace_id", "x-b3-traceid", "X-B3-TraceId", "@tr",
		},
		SpanID: []string{
			"span_id", "spanId", "spanID", "SpanId", "SpanID", "span.id", "otelSpanID",
			"dd.span_id", "x-b3-spanid", "X-B3-SpanId", "@sp", "transaction.id",
		},
		TraceFlags:        []string{"trace_flags", "traceFlags", "TraceFlags", "trace_sampled", "otelTraceSampled"},
		Traceparent:       []string{"traceparent"},
		GoogleTrace:       []string{"logging.googleapis.com/trace"},
		Jaeger:            []string{"uber-trace-id"},
		B3:                []string{"b3"},
		XRay:              []string{"X-Amzn-Trace-Id", "x-amzn-trace-id", "xray_trace_id", "AWS-XRAY-TRACE-ID"},
		CloudTraceContext: []string{"X-Cloud-Trace-Context", "x-cloud-trace-context"},
		CorrelationKeys:   []string{"http.request.header.x-request-id", "request_id", "requestID", "x_request_id"},
	}
}
