// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package extract // import "github.com/prodscope/prodscope/processor/logtracejoin/internal/extract"

import "strings"

// String bodies are read in levels, and a level's own fields always win over
// what is nested inside them:
//
//  1. the line's own fields: the top-level fields of a JSON (or Python dict
//     repr) line, or the key=value / key: value fields of a text line;
//  2. JSON objects inside a text line (zap console's field object), then
//     nested objects (slog groups, zap namespaces, logrus DataKey), breadth
//     first, to MaxDepth;
//  3. in a text line, "key":value pairs outside any object;
//  4. string values and quoted values (a message, an upstream error body),
//     searched as text of their own, to MaxTextLevel;
//  5. a bare W3C traceparent or X-Ray Root= anywhere in the line.
//
// Each of these is one field set (see group): the first with a valid id
// gives the record's whole context. Everything is linear: every byte is
// visited a bounded number of times (once per level and nesting depth),
// quotes and separators are found with strings.IndexByte or 8 bytes at a
// time, keys are read back at most maxKeyLen bytes, unquoted values forward
// at most maxValueLen bytes, and failed attempts to read an embedded
// object share a budget proportional to the line.

const (
	// maxKeyLen bounds how far back from a separator a key is looked for.
	maxKeyLen = 128
	// maxValueLen bounds an unquoted scanned value.
	maxValueLen = 512
	// minNestedLen: shorter strings cannot hold a key and an id.
	minNestedLen = 16
)

// span is a part of the scanned string queued for a later step.
type span struct{ start, end, depth int }

// textScratch is the per-level queue of nested objects and strings.
type textScratch struct {
	objs       [MaxNested]span
	nobj       int
	strs       [MaxNested]span
	nstr       int
	quoteFail  [2]bool // no closing '"' / '\'' after an earlier failed search
	sawTPKey   bool
	jsonBudget int
	// skipped is the Result's count of what the bounds left unread
	skipped *[NumSkips]uint32
}

// reset empties the queues (without clearing the arrays) for a string of
// length n.
func (ts *textScratch) reset(n int) {
	ts.nobj, ts.nstr = 0, 0
	ts.quoteFail = [2]bool{}
	ts.sawTPKey = false
	ts.jsonBudget = 2*n + 256
}

// keyChar reports the bytes an unquoted key is made of.
var keyChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "_.-/@" {
		t[c] = true
	}
	return t
}()

// valueEnd reports the bytes that end an unquoted value; headerEnd those
// that end an unquoted trace header value (which holds ';' and '=').
var valueEnd, headerEnd = func() (t, h [256]bool) {
	for _, c := range " \t\r\n,;}]&\"')\\" {
		t[c] = true
	}
	for _, c := range " \t\r\n,}]\"'\\" {
		h[c] = true
	}
	return t, h
}()

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// stringEnd returns the index of the quote closing the string that opens
// at s[i] (a double or a single quote), or -1. A quote preceded by an odd number of
// backslashes is escaped.
func (ts *textScratch) stringEnd(s string, i int) int {
	q := s[i]
	qi := 0
	if q == '\'' {
		qi = 1
	}
	if ts.quoteFail[qi] {
		return -1
	}
	// keys and short values end within a few bytes: a plain loop is
	// cheaper there than a call to IndexByte
	j := min(i+17, len(s))
	for k := i + 1; k < j; k++ {
		if c := s[k]; c == q {
			return k
		} else if c == '\\' {
			j = k // the general loop below handles escapes
			break
		}
	}
	for {
		k := strings.IndexByte(s[j:], q)
		if k < 0 {
			// nothing closes it, nor any string opening further on
			ts.quoteFail[qi] = true
			return -1
		}
		k += j
		b := k
		for b > j && s[b-1] == '\\' {
			b--
		}
		if (k-b)%2 == 0 {
			return k
		}
		j = k + 1
	}
}

// tokenEnd returns the end of an unquoted JSON / Python token (number,
// true, None) at s[i].
func tokenEnd(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n', ':':
			return i
		}
		i++
	}
	return i
}

// skipValue returns the index after the object or array at s[i] (strings
// inside it honored, bracket kinds not checked), or -1 when it does not
// close; used counts the bytes visited.
func (ts *textScratch) skipValue(s string, i int) (end, used int) {
	depth := 0
	start := i
	for i < len(s) {
		switch s[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, i + 1 - start
			}
		case '"', '\'':
			e := ts.stringEnd(s, i)
			if e < 0 {
				return -1, len(s) - start
			}
			i = e
		}
		i++
	}
	return -1, len(s) - start
}

// readString reads the string at s[i] and queues it as nested text when it
// is long enough to hold an id; it returns the content and the index after
// the closing quote, or -1.
func (ts *textScratch) readString(s string, i, depth int, queue bool) (string, int) {
	e := ts.stringEnd(s, i)
	if e < 0 {
		return "", -1
	}
	if queue && e-i > minNestedLen { // the string between the quotes is at least minNestedLen long
		if ts.nstr < MaxNested {
			ts.strs[ts.nstr] = span{i + 1, e, depth}
			ts.nstr++
		} else {
			ts.skipped[SkipCount]++
		}
	}
	return s[i+1 : e], e + 1
}

func (ts *textScratch) queueObj(start, end, depth int) {
	switch {
	case depth > MaxDepth:
		ts.skipped[SkipDepth]++
	case ts.nobj >= MaxNested:
		ts.skipped[SkipCount]++
	default:
		ts.objs[ts.nobj] = span{start, end, depth}
		ts.nobj++
	}
}

// parseObject reads the JSON object (or Python dict repr) at s[i] == '{',
// offering its fields to g through ks (dotted keys through their nested
// objects) and queueing other nested objects and strings. It returns the
// index after the object, or -1 when s[i:] is not an object.
func (e *Extractor) parseObject(res *Result, g *group, ts *textScratch, s string, i int, ks *keySet, depth int, top bool) int {
	i++
	for {
		i = skipSpace(s, i)
		if i >= len(s) {
			return -1
		}
		switch s[i] {
		case '}':
			return i + 1
		case '"', '\'':
		default:
			return -1
		}
		ke := ts.stringEnd(s, i)
		if ke < 0 {
			return -1
		}
		key := s[i+1 : ke]
		i = skipSpace(s, ke+1)
		if i >= len(s) || s[i] != ':' {
			return -1
		}
		i = skipSpace(s, i+1)
		if i >= len(s) {
			return -1
		}
		info, matched := ks.lookup(key)
		switch s[i] {
		case '"', '\'':
			var val string
			val, i = ts.readString(s, i, depth, !matched)
			if i < 0 {
				return -1
			}
			if matched {
				v := value{typ: vtStr, s: val}
				g.offer(info, v, &res.Invalid)
				if top {
					res.offerCorr(info, v)
				}
				if info.kind == kindTraceparent {
					ts.sawTPKey = true
				}
			}
		case '{':
			if child := ks.child(key); child != nil {
				// {"trace":{"id":…}} is a field of this set; the object may
				// also be a field set of its own (zap Namespace("trace"))
				end := e.parseObject(res, g, ts, s, i, child, depth, top)
				if end < 0 {
					return -1
				}
				ts.queueObj(i, end, depth+1)
				i = end
				break
			}
			end, _ := ts.skipValue(s, i)
			if end < 0 {
				return -1
			}
			ts.queueObj(i, end, depth+1)
			i = end
		case '[':
			if i = ts.readArray(s, i, depth+1); i < 0 {
				return -1
			}
		default:
			end := tokenEnd(s, i)
			if end == i {
				return -1
			}
			if tok := s[i:end]; matched && tok != "null" && tok != "None" {
				v := value{typ: vtStr, s: tok}
				g.offer(info, v, &res.Invalid)
				if top {
					res.offerCorr(info, v)
				}
			}
			i = end
		}
		i = skipSpace(s, i)
		if i >= len(s) {
			return -1
		}
		switch s[i] {
		case ',':
			i++
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

// readArray reads the array at s[i] == '[': objects in it are queued as
// field sets of their own (.NET Scopes), strings as nested text.
func (ts *textScratch) readArray(s string, i, depth int) int {
	i++
	for {
		i = skipSpace(s, i)
		if i >= len(s) {
			return -1
		}
		switch s[i] {
		case ']':
			return i + 1
		case '{', '[':
			end, _ := ts.skipValue(s, i)
			if end < 0 {
				return -1
			}
			if s[i] == '{' {
				ts.queueObj(i, end, depth)
			}
			i = end
		case '"', '\'':
			if _, i = ts.readString(s, i, depth, true); i < 0 {
				return -1
			}
		default:
			end := tokenEnd(s, i)
			if end == i {
				return -1
			}
			i = end
		}
		i = skipSpace(s, i)
		if i >= len(s) {
			return -1
		}
		switch s[i] {
		case ',':
			i++
		case ']':
			return i + 1
		default:
			return -1
		}
	}
}

// keyBefore returns the key that ends just before the separator at p:
// "key" / 'key' (quoted: true) or an unquoted run of key characters.
func keyBefore(s string, p int, ks *keySet) (string, bool) {
	k := p
	for k > 0 && (s[k-1] == ' ' || s[k-1] == '\t') && p-k < 8 {
		k--
	}
	if k == 0 {
		return "", false
	}
	if q := s[k-1]; q == '"' || q == '\'' {
		end := k - 1
		if end < 2 || !ks.endsLike(s[end-2], s[end-1]) {
			return "", true
		}
		lo := max(end-maxKeyLen, 0)
		o := strings.LastIndexByte(s[lo:end], q)
		if o < 0 {
			return "", true
		}
		return s[lo+o+1 : end], true
	}
	if k >= 2 && !ks.endsLike(s[k-2], s[k-1]) {
		return "", false
	}
	start := k
	for start > 0 && keyChar[s[start-1]] && k-start < maxKeyLen {
		start--
	}
	return s[start:k], false
}

// unquotedValue returns the unquoted value at s[v:].
func unquotedValue(s string, v int, header bool) string {
	end := min(v+maxValueLen, len(s))
	t := &valueEnd
	if header {
		t = &headerEnd
	}
	i := v
	for i < end && !t[s[i]] {
		i++
	}
	return s[v:i]
}

// nextIndex returns the index of c in s[i:] (absolute), or -1.
func nextIndex(s string, i int, c byte) int {
	if j := strings.IndexByte(s[i:], c); j >= 0 {
		return i + j
	}
	return -1
}

// scanText reads a text line's own fields (key=value, key: value) into
// res.g, stray "key":value pairs into res.gb, and queues embedded objects
// and quoted values.
func (e *Extractor) scanText(res *Result, ts *textScratch, s string, top bool) {
	ks := e.ks
	// next ':', '=', '{' (each found with IndexByte, again only once passed)
	nc, ne, nb := nextIndex(s, 0, ':'), nextIndex(s, 0, '='), nextIndex(s, 0, '{')
	for i := 0; i < len(s); {
		if nc >= 0 && nc < i {
			nc = nextIndex(s, i, ':')
		}
		if ne >= 0 && ne < i {
			ne = nextIndex(s, i, '=')
		}
		if nb >= 0 && nb < i {
			nb = nextIndex(s, i, '{')
		}
		p := nc
		if ne >= 0 && (p < 0 || ne < p) {
			p = ne
		}
		if nb >= 0 && (p < 0 || nb < p) {
			p = nb
		}
		if p < 0 {
			return
		}
		if s[p] == '{' {
			i = p + 1
			// an object starts with a quoted key or closes at once; a brace
			// followed by anything else (Java's Map.toString
			// "{trace_id=…, span_id=…}") is read as text
			if q := skipSpace(s, i); q < len(s) && (s[q] == '"' || s[q] == '\'' || s[q] == '}') && ts.jsonBudget > 0 {
				end, used := ts.skipValue(s, p)
				if end > 0 {
					ts.queueObj(p, end, 0)
					i = end
				} else {
					ts.jsonBudget -= used
				}
			}
			continue
		}
		key, quoted := keyBefore(s, p, ks)
		var info keyInfo
		matched := false
		if key != "" {
			// keyBefore returns only names whose last two bytes end a key
			info, matched = ks.find(key)
		}
		g := &res.g
		if quoted {
			g = &res.gb
		} else if !matched && key != "" {
			// a group prefix written into the key (slog text "otel.trace_id")
			if info, matched = ks.lookupSuffix(key); matched {
				g = &res.gd
			}
		}
		v := p + 1
		for v < len(s) && (s[v] == ' ' || s[v] == '\t') && v-p < 8 {
			v++
		}
		if v < len(s) && (s[v] == '"' || s[v] == '\'') {
			if val, end := ts.readString(s, v, 0, !matched); end > 0 {
				if matched {
					e.offerText(res, g, ts, info, val, top)
				}
				i = end
				continue
			}
			v++ // a quote nothing closes (a cut line): the value runs as if unquoted
		}
		if matched {
			if val := unquotedValue(s, v, info.kind.header()); val != "" {
				e.offerText(res, g, ts, info, val, top)
			}
		}
		i = p + 1
	}
}

func (e *Extractor) offerText(res *Result, g *group, ts *textScratch, info keyInfo, val string, top bool) {
	v := value{typ: vtStr, s: val}
	g.offer(info, v, &res.Invalid)
	if top {
		res.offerCorr(info, v)
	}
	if info.kind == kindTraceparent {
		ts.sawTPKey = true
	}
}

// scanString searches a string body (or, at level > 0, a string nested in
// one) in the order described at the top of this file. A context found is
// written to res.Context (in place: it is not copied back through the
// levels).
func (e *Extractor) scanString(res *Result, s string, level int) bool {
	ts := &res.text[level]
	ts.reset(len(s))
	ts.skipped = &res.Skipped
	top := level == 0
	if top && e.patterns != 0 {
		if ctx, ok := scanPatterns(s, e.patterns); ok {
			res.Context = ctx
			return true
		}
	}
	res.g.reset()
	res.gb.reset()
	res.gd.reset()
	text := true
	if t := skipSpace(s, 0); t < len(s) && s[t] == '{' {
		inv, skipped := res.Invalid, res.Skipped
		if end := e.parseObject(res, &res.g, ts, s, t, e.ks, 0, top); end > 0 {
			text = false
		} else {
			// not an object after all: read it as text, counting nothing twice
			res.Invalid, res.Skipped = inv, skipped
			sawTP := ts.sawTPKey
			ts.reset(len(s))
			ts.sawTPKey = sawTP
			res.g.reset()
		}
	}
	if text {
		e.scanText(res, ts, s, top)
	}
	if _, ok := res.g.resolve(&res.Context); ok {
		return true
	}
	// a line carrying id fields of its own (valid or not) never takes ids
	// from text nested in its values, nor from stray "key":value pairs
	own := res.g.seen || res.gd.seen
	if _, ok := res.gd.resolve(&res.Context); ok {
		return true
	}
	// embedded and nested objects, breadth first (the queue grows while it is read)
	for i := 0; i < ts.nobj; i++ {
		o := ts.objs[i]
		res.g.reset()
		if e.parseObject(res, &res.g, ts, s[:o.end], o.start, e.ks, o.depth, top && text && o.depth == 0) < 0 {
			continue
		}
		if _, ok := res.g.resolve(&res.Context); ok {
			return true
		}
	}
	if own {
		return false
	}
	if _, ok := res.gb.resolve(&res.Context); ok {
		return true
	}
	if level < MaxTextLevel {
		for i := 0; i < ts.nstr; i++ {
			st := ts.strs[i]
			sub := s[st.start:st.end]
			if !mayHoldField(sub) {
				continue
			}
			if strings.IndexByte(sub, '\\') >= 0 {
				sub = unescape(sub)
			}
			if e.scanString(res, sub, level+1) {
				return true
			}
		}
	} else {
		for i := 0; i < ts.nstr; i++ {
			if st := ts.strs[i]; mayHoldField(s[st.start:st.end]) {
				res.Skipped[SkipTextLevel]++
			}
		}
	}
	// the shortest bare id is an X-Ray trace id (35 bytes)
	if level == 0 && len(s) >= 35 {
		inv := &res.Invalid
		var discard [NumReasons]uint32
		if ts.sawTPKey {
			// a keyed traceparent was found and refused: not counted twice
			inv = &discard
		}
		if ctx, ok := ScanTraceparent(s, inv); ok {
			ctx.Conv = ConvW3C
			res.Context = ctx
			return true
		}
		if ctx, ok := scanXRayRoot(s, &res.Invalid); ok {
			ctx.Conv = ConvXRay
			res.Context = ctx
			return true
		}
	}
	return false
}

// unescape undoes JSON / Go quoting (\" \\ \/ \n \t \r; \uXXXX is kept as
// written: ids and keys are ASCII).
func unescape(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b = append(b, c)
			continue
		}
		i++
		switch d := s[i]; d {
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		case 'r':
			b = append(b, '\r')
		case 'u':
			b = append(b, '\\', 'u')
		default:
			b = append(b, d)
		}
	}
	return string(b)
}

// scanXRayRoot finds an X-Ray trace header written without its key
// ("Root=1-…;Parent=…;Sampled=1") anywhere in s.
func scanXRayRoot(s string, inv *[NumReasons]uint32) (Context, bool) {
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], "Root=1-")
		if j < 0 {
			return Context{}, false
		}
		p := i + j
		i = p + 1
		if p > 0 && keyChar[s[p-1]] {
			continue
		}
		ctx, r := ParseXRay(unquotedValue(s, p, true))
		if r == ReasonNone {
			return ctx, true
		}
		inv[r]++
	}
	return Context{}, false
}

// mayHoldField reports whether s may hold a key=value, key: value or an
// object: it has a '=' or '{', or a ':' that is not between two digits
// (a time of day is not a field).
func mayHoldField(s string) bool {
	if strings.IndexByte(s, '=') >= 0 || strings.IndexByte(s, '{') >= 0 {
		return true
	}
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], ':')
		if j < 0 {
			return false
		}
		p := i + j
		if p == 0 || p+1 == len(s) || !isDigit(s[p-1]) || !isDigit(s[p+1]) {
			return true
		}
		i = p + 1
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
