// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package fetch reads one pprof profile over HTTP with every limit applied: a
// per-request timeout, a cap on the body and on its decompressed size, and a
// classification of every failure into a small set of reasons.
package fetch // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/fetch"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
)

// Reason classifies why a fetch failed.
type Reason string

const (
	// ReasonBusy: the target's CPU profiler is already in use (HTTP 500 "cpu profiling already in use").
	ReasonBusy Reason = "busy"
	// ReasonTimeout: the request did not complete within the timeout.
	ReasonTimeout Reason = "timeout"
	// ReasonHTTP: connection failures and non-200 answers.
	ReasonHTTP Reason = "http"
	// ReasonParse: the body is not a pprof profile.
	ReasonParse Reason = "parse"
	// ReasonSize: the body exceeds max_body_bytes or its decompressed form max_decompressed_bytes.
	ReasonSize Reason = "size"
	// ReasonLimit: the profile has more samples, locations, functions or strings than allowed.
	ReasonLimit Reason = "limit"
	// ReasonNotPprof: a 200 answer whose body is not a pprof profile (HTML, JSON, text...).
	ReasonNotPprof Reason = "not_pprof"
)

// Error is a classified fetch failure.
type Error struct {
	Reason Reason
	Err    error
}

func (e *Error) Error() string { return string(e.Reason) + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the reason of a classified error, or ReasonHTTP for anything else.
func ReasonOf(err error) Reason {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return ReasonHTTP
}

func classified(r Reason, err error) error { return &Error{Reason: r, Err: err} }

// errorBodyCap bounds what is read of a non-200 answer (to find the busy message).
const errorBodyCap = 4096

// busyMessage is what net/http/pprof answers (HTTP 500) when a CPU profile is already running.
const busyMessage = "cpu profiling already in use"

// Result is one fetched profile.
type Result struct {
	// Data is the body as received (gzip or not); after Decode, the uncompressed pprof
	// protobuf. It lives in a pooled buffer: it is valid until Release.
	Data []byte
	// ContentType is the answer's Content-Type header.
	ContentType string
	// WireBytes is how many body bytes were read from the network.
	WireBytes int64

	buf *bytes.Buffer
}

// Release returns Data's buffer to the pool; Data must not be used afterwards.
func (r *Result) Release() {
	putBuffer(r.buf)
	r.buf, r.Data = nil, nil
}

// Buffers and gzip readers are pooled: at 1,000 targets the allocation of a fresh body
// buffer, inflated buffer and inflater per fetch dominated the garbage collector's work.
// Buffers that grew past maxPooledBuffer are dropped rather than kept alive by the pool.
const maxPooledBuffer = 4 << 20

var (
	bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	gzipPool   sync.Pool
)

func getBuffer() *bytes.Buffer {
	b := bufferPool.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func putBuffer(b *bytes.Buffer) {
	if b == nil || b.Cap() > maxPooledBuffer {
		return
	}
	bufferPool.Put(b)
}

// ErrNoSlot is returned when beforeBody refused to let the body be read.
var ErrNoSlot = errors.New("no concurrency slot before the next scrape was due")

// Get fetches url with client and returns the body as received, at most maxBytes of it
// (Decode inflates and checks it). The context carries the scrape's deadline. When not
// nil, beforeBody is called once the answer's headers say 200, before the body is read;
// if it returns false the body is not read and Get returns ErrNoSlot.
func Get(ctx context.Context, client *http.Client, url string, maxBytes int64, beforeBody func() bool) (Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return Result{}, classified(ReasonHTTP, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Result{}, classifyTransport(ctx, err)
	}
	defer func() {
		// Drain a little so the connection can be reused, never the whole body.
		_, _ = io.CopyN(io.Discard, resp.Body, errorBodyCap)
		_ = resp.Body.Close()
	}()

	if resp.StatusCode != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyCap))
		if resp.StatusCode == http.StatusInternalServerError && bytes.Contains(snippet, []byte(busyMessage)) {
			return Result{WireBytes: int64(len(snippet))}, classified(ReasonBusy, errors.New(busyMessage))
		}
		return Result{WireBytes: int64(len(snippet))}, classified(ReasonHTTP,
			fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(printable(snippet, 200)))))
	}
	if beforeBody != nil && !beforeBody() {
		return Result{}, ErrNoSlot
	}
	if resp.ContentLength > maxBytes {
		return Result{}, classified(ReasonSize, fmt.Errorf("Content-Length %d exceeds max_body_bytes %d", resp.ContentLength, maxBytes))
	}
	body := getBuffer()
	if resp.ContentLength > 0 {
		body.Grow(int(resp.ContentLength) + bytes.MinRead)
	}
	n, err := readCapped(body, resp.Body, maxBytes)
	res := Result{WireBytes: n, ContentType: resp.Header.Get("Content-Type")}
	if err != nil {
		putBuffer(body)
		if errors.Is(err, errTooLarge) {
			return res, classified(ReasonSize, fmt.Errorf("body exceeds max_body_bytes %d", maxBytes))
		}
		return res, classifyTransport(ctx, err)
	}
	res.Data, res.buf = body.Bytes(), body
	return res, nil
}

var errTooLarge = errors.New("too large")

// readCapped appends r to buf until EOF, failing with errTooLarge past maxBytes.
func readCapped(buf *bytes.Buffer, r io.Reader, maxBytes int64) (int64, error) {
	n, err := buf.ReadFrom(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return n, err
	}
	if n > maxBytes {
		buf.Truncate(int(maxBytes))
		return maxBytes, errTooLarge
	}
	return n, nil
}

func isGzip(data []byte) bool { return len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b }

func classifyTransport(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return classified(ReasonTimeout, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return classified(ReasonTimeout, err)
	}
	return classified(ReasonHTTP, err)
}

// printable returns at most n bytes of b with control bytes replaced, for error messages.
func printable(b []byte, n int) []byte {
	if len(b) > n {
		b = b[:n]
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		out[i] = c
	}
	return out
}
