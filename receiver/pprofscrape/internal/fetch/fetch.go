// Copyright prodscope authors
// SPDX-License-Identifier: Apache-2.0

// Package fetch reads one pprof profile over HTTP with every limit applied: a
// per-request timeout, a cap on the body and on its decompressed size, and a
// classification of every failure into a small set of reasons.
package fetch // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/fetch"

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
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
	// ReasonSize: the body or its decompressed form exceeds max_body_bytes.
	ReasonSize Reason = "size"
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

// Result is one fetched, decompressed profile.
type Result struct {
	// Data is the uncompressed pprof protobuf.
	Data []byte
	// WireBytes is how many body bytes were read from the network.
	WireBytes int64
}

// Get fetches url with client and returns the decompressed body. The context carries the
// per-request timeout. maxBytes caps the body and, separately, its decompressed size.
func Get(ctx context.Context, client *http.Client, url string, maxBytes int64) (Result, error) {
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
	if resp.ContentLength > maxBytes {
		return Result{}, classified(ReasonSize, fmt.Errorf("Content-Length %d exceeds max_body_bytes %d", resp.ContentLength, maxBytes))
	}

	body, err := readCapped(resp.Body, maxBytes)
	res := Result{WireBytes: int64(len(body))}
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return res, classified(ReasonSize, fmt.Errorf("body exceeds max_body_bytes %d", maxBytes))
		}
		return res, classifyTransport(ctx, err)
	}
	data, err := Decompress(body, maxBytes)
	if err != nil {
		return res, err
	}
	res.Data = data
	return res, nil
}

var errTooLarge = errors.New("too large")

// readCapped reads r to the end, failing with errTooLarge past max bytes.
func readCapped(r io.Reader, maxBytes int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return buf.Bytes(), err
	}
	if n > maxBytes {
		return buf.Bytes()[:maxBytes], errTooLarge
	}
	return buf.Bytes(), nil
}

// Decompress returns data itself, or its gzip decompression when data starts with the gzip
// magic, refusing (ReasonSize) a decompressed size over maxBytes: the gzip bomb guard.
func Decompress(data []byte, maxBytes int64) ([]byte, error) {
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		return data, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, classified(ReasonParse, fmt.Errorf("gzip header: %w", err))
	}
	out, err := readCapped(zr, maxBytes)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return nil, classified(ReasonSize, fmt.Errorf("decompressed body exceeds max_body_bytes %d", maxBytes))
		}
		return nil, classified(ReasonParse, fmt.Errorf("gzip body: %w", err))
	}
	return out, nil
}

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
