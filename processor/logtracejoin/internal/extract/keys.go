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
	kindCorrelation
	numKinds
)

// keyInfo describes one configured key.
type keyInfo struct {
	kind kind
	// prio is the key's position in its configured list: lower wins when
	// several keys of one kind are present.
	prio uint16
	// decimal marks Datadog keys ("dd." prefix) whose ids may be decimal.
	decimal bool
	// corrPrio is the position in correlation_keys, or -1.
	corrPrio int16
}

// nestedKey is a dotted key looked up as a path through nested maps
// (ECS `trace.id` as {"trace":{"id":...}}, Datadog {"dd":{"trace_id":...}}).
type nestedKey struct {
	path []string
	full string
	info keyInfo
}

// Keys configures which keys hold what.
type Keys struct {
	TraceID         []string
	SpanID          []string
	TraceFlags      []string
	Traceparent     []string
	GoogleTrace     []string
	Jaeger          []string
	CorrelationKeys []string
}

// keySet is the compiled lookup structure for Keys.
type keySet struct {
	byName map[string]keyInfo
	nested map[string][]nestedKey
	// table is a small hash table over (length, first byte, last byte):
	// cheaper than hashing the whole string, and most keys of a log line
	// land in an empty bucket. A bucket holds 1 + the index of its first
	// entry (0: empty), so that the table is 2 KiB and stays in L1 cache;
	// entries of one bucket are chained by next.
	table   [tableSize]uint32
	entries []keyEntry
	// last marks the bytes configured keys end with, and last2 (a bit per
	// pair of bytes) the two bytes they end with: the scanner rejects most
	// separators by the two bytes before them, before reading the key
	// ("time", "level", "msg" are rejected; "user_id" is looked up).
	last  [256]bool
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
		return
	}
	ks.byName[name] = info
	if i := strings.IndexByte(name, '.'); i > 0 && i < len(name)-1 {
		path := strings.Split(name, ".")
		ks.nested[path[0]] = append(ks.nested[path[0]], nestedKey{path: path[1:], full: name, info: info})
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
	ks := &keySet{byName: map[string]keyInfo{}, nested: map[string][]nestedKey{}}
	addList := func(names []string, kd kind) {
		for i, n := range names {
			ks.add(n, keyInfo{kind: kd, prio: uint16(i), decimal: strings.HasPrefix(n, "dd."), corrPrio: -1})
		}
	}
	addList(k.Traceparent, kindTraceparent)
	addList(k.TraceID, kindTraceID)
	addList(k.SpanID, kindSpanID)
	addList(k.TraceFlags, kindFlags)
	addList(k.GoogleTrace, kindGoogleTrace)
	for i, n := range k.GoogleTrace {
		ks.add(googleSibling(n, "spanId"), keyInfo{kind: kindGoogleSpan, prio: uint16(i), corrPrio: -1})
		ks.add(googleSibling(n, "trace_sampled"), keyInfo{kind: kindGoogleSampled, prio: uint16(i), corrPrio: -1})
	}
	addList(k.Jaeger, kindJaeger)
	for i, n := range k.CorrelationKeys {
		ks.add(n, keyInfo{kind: kindCorrelation, corrPrio: int16(i)})
	}
	for name, info := range ks.byName {
		b := bucket(name)
		// appended at the head of its bucket's chain
		ks.entries = append(ks.entries, keyEntry{name: name, info: info, next: ks.table[b]})
		ks.table[b] = uint32(len(ks.entries))
		c := name[len(name)-1]
		ks.last[c] = true
		if len(name) == 1 {
			for b := range 256 {
				ks.setLast2(byte(b), c)
			}
		} else {
			ks.setLast2(name[len(name)-2], c)
		}
	}
	return ks
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
	if len(name) == 0 {
		return keyInfo{}, false
	}
	for i := ks.table[bucket(name)]; i != 0; {
		e := &ks.entries[i-1]
		if e.name == name {
			return e.info, true
		}
		i = e.next
	}
	return keyInfo{}, false
}
