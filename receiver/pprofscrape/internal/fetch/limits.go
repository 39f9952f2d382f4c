// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package fetch // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/fetch"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	gzip "github.com/klauspost/compress/gzip"
)

// Limits bound what one profile may cost before it is handed to the pprof parser. They
// are checked while the body is inflated and scanned, before anything is allocated per
// sample, location or string.
type Limits struct {
	// MaxDecompressedBytes caps the uncompressed protobuf (config: max_decompressed_bytes).
	MaxDecompressedBytes int64
	// MaxSamples caps the samples of one profile (config: max_samples).
	MaxSamples int64
	// MaxLocations caps the locations, and separately the functions (config: max_locations).
	MaxLocations int64
	// MaxStrings caps the string table (config: max_strings).
	MaxStrings int64
}

// Field numbers of the perftools.profiles.Profile message that the limits count.
const (
	fieldSample      = 2
	fieldMapping     = 3
	fieldLocation    = 4
	fieldFunction    = 5
	fieldStringTable = 6
)

// scanner walks the top-level fields of a Profile message as its bytes arrive, counting
// samples, locations, functions and strings, and fails as soon as one is over its limit
// or the bytes cannot be a protobuf message. It never allocates per field.
type scanner struct {
	limits Limits
	counts [fieldStringTable + 1]int64

	state int    // what the next byte is part of
	v     uint64 // varint being read
	shift uint
	wire  uint64
	skip  uint64 // bytes of the current field value still to pass
	err   error
}

const (
	stTag = iota
	stVarintValue
	stLength
	stSkip
)

func (s *scanner) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	for i := 0; i < len(p); {
		if s.state == stSkip {
			if s.skip <= math.MaxInt && int(s.skip) <= len(p)-i {
				i += int(s.skip)
				s.skip = 0
				s.state = stTag
			} else {
				s.skip -= uint64(max(len(p)-i, 0))
				i = len(p)
			}
			continue
		}
		b := p[i]
		i++
		if s.shift >= 64 {
			return i, s.fail(ReasonParse, errors.New("varint overflows 64 bits"))
		}
		s.v |= uint64(b&0x7f) << s.shift
		s.shift += 7
		if b&0x80 != 0 {
			continue
		}
		v := s.v
		s.v, s.shift = 0, 0
		switch s.state {
		case stTag:
			if err := s.tag(v); err != nil {
				return i, err
			}
		case stVarintValue:
			s.state = stTag
		case stLength:
			s.skip = v
			s.state = stSkip
			if v == 0 {
				s.state = stTag
			}
		}
	}
	return len(p), nil
}

func (s *scanner) tag(v uint64) error {
	field, wire := v>>3, v&7
	if field == 0 {
		return s.fail(ReasonNotPprof, errors.New("field number 0"))
	}
	s.wire = wire
	switch wire {
	case 0:
		s.state = stVarintValue
	case 1:
		s.skip, s.state = 8, stSkip
	case 2:
		s.state = stLength
	case 5:
		s.skip, s.state = 4, stSkip
	default:
		return s.fail(ReasonNotPprof, fmt.Errorf("wire type %d of field %d", wire, field))
	}
	if field >= fieldSample && field <= fieldStringTable {
		if wire != 2 {
			return s.fail(ReasonNotPprof, fmt.Errorf("field %d has wire type %d, want a message", field, wire))
		}
		s.counts[field]++
		return s.check(field)
	}
	return nil
}

func (s *scanner) check(field uint64) error {
	n := s.counts[field]
	switch field {
	case fieldSample:
		if n > s.limits.MaxSamples {
			return s.fail(ReasonLimit, fmt.Errorf("more than max_samples %d samples", s.limits.MaxSamples))
		}
	case fieldLocation, fieldFunction, fieldMapping:
		if n > s.limits.MaxLocations {
			what := map[uint64]string{fieldLocation: "locations", fieldFunction: "functions", fieldMapping: "mappings"}[field]
			return s.fail(ReasonLimit, fmt.Errorf("more than max_locations %d %s", s.limits.MaxLocations, what))
		}
	case fieldStringTable:
		if n > s.limits.MaxStrings {
			return s.fail(ReasonLimit, fmt.Errorf("more than max_strings %d strings", s.limits.MaxStrings))
		}
	}
	return nil
}

func (s *scanner) fail(r Reason, err error) error {
	s.err = classified(r, err)
	return s.err
}

// close reports a message cut in the middle of a field.
func (s *scanner) close() error {
	if s.err != nil {
		return s.err
	}
	if s.state != stTag || s.shift != 0 {
		return s.fail(ReasonParse, errors.New("profile ends inside a field"))
	}
	return nil
}

// Counts is what the scan of a profile found.
type Counts struct {
	Samples, Locations, Functions, Strings int64
}

// chunk is how much is inflated between two checks of the context and the limits.
const chunk = 64 << 10

// Decode turns a fetched body into the uncompressed pprof protobuf: it inflates a gzip
// body and scans the protobuf as it goes, refusing it (ReasonSize, ReasonLimit,
// ReasonNotPprof) at the first byte over a limit, and stops when ctx ends. The result
// lives in a pooled buffer: call Release when done with it.
func Decode(ctx context.Context, res *Result, limits Limits) (Counts, error) {
	if looksLikeText(res.Data) {
		ct := res.ContentType
		if ct == "" {
			ct = "none"
		}
		return Counts{}, classified(ReasonNotPprof, fmt.Errorf("body is not a pprof profile (Content-Type %s, starts with %q)", ct, printable(res.Data, 16)))
	}
	sc := &scanner{limits: limits}
	if !isGzip(res.Data) {
		if int64(len(res.Data)) > limits.MaxDecompressedBytes {
			return Counts{}, classified(ReasonSize, fmt.Errorf("body of %d bytes exceeds max_decompressed_bytes %d", len(res.Data), limits.MaxDecompressedBytes))
		}
		for off := 0; off < len(res.Data); off += chunk {
			if err := ctx.Err(); err != nil {
				return Counts{}, classifyTransport(ctx, err)
			}
			if _, err := sc.Write(res.Data[off:min(off+chunk, len(res.Data))]); err != nil {
				return Counts{}, err
			}
		}
		return sc.result()
	}
	zr, _ := gzipPool.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(res.Data))
	} else {
		err = zr.Reset(bytes.NewReader(res.Data))
	}
	if err != nil {
		return Counts{}, classified(ReasonParse, fmt.Errorf("gzip header: %w", err))
	}
	defer gzipPool.Put(zr)
	// The inflater writes straight into the pooled output buffer (no copy through a
	// scratch buffer: a 64 KiB one escaped to the heap on every profile), and scanner
	// sees each piece as it arrives.
	out := getBuffer()
	if _, err = out.ReadFrom(&inflating{ctx: ctx, r: zr, sc: sc, limit: limits.MaxDecompressedBytes}); err != nil {
		putBuffer(out)
		return Counts{}, err
	}
	c, err := sc.result()
	if err != nil {
		putBuffer(out)
		return Counts{}, err
	}
	res.Release()
	res.Data, res.buf = out.Bytes(), out
	return c, nil
}

// inflating reads the inflated protobuf for bytes.Buffer.ReadFrom, at most chunk bytes a
// call: it checks ctx before each read, refuses the bytes past limit and passes every
// byte to the scanner, so a body is refused at the first chunk over a limit.
type inflating struct {
	ctx   context.Context
	r     io.Reader
	sc    *scanner
	limit int64
	n     int64
}

func (in *inflating) Read(p []byte) (int, error) {
	if err := in.ctx.Err(); err != nil {
		return 0, classifyTransport(in.ctx, err)
	}
	n, err := in.r.Read(p[:min(len(p), chunk)])
	if n > 0 {
		in.n += int64(n)
		if in.n > in.limit {
			return 0, classified(ReasonSize, fmt.Errorf("decompressed body exceeds max_decompressed_bytes %d", in.limit))
		}
		if _, werr := in.sc.Write(p[:n]); werr != nil {
			return 0, werr
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return n, classified(ReasonParse, fmt.Errorf("gzip body: %w", err))
	}
	return n, err
}

func (s *scanner) result() (Counts, error) {
	if err := s.close(); err != nil {
		return Counts{}, err
	}
	return Counts{Samples: s.counts[fieldSample], Locations: s.counts[fieldLocation], Functions: s.counts[fieldFunction], Strings: s.counts[fieldStringTable]}, nil
}

// looksLikeText reports a body that starts (after white space) like HTML, XML, JSON or
// plain text rather than a gzip stream or a protobuf message: what a web server answers
// on a path that is not a pprof endpoint.
func looksLikeText(data []byte) bool {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return false
	}
	switch trimmed[0] {
	case '<', '{', '[':
		return true
	}
	// "404 page not found", "Not Found", "OK": printable ASCII words.
	head := trimmed[:min(len(trimmed), 32)]
	for _, c := range head {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' || c > 0x7e {
			return false
		}
	}
	return len(head) >= 4
}
