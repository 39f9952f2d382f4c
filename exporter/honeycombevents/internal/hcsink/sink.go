// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package hcsink is a Honeycomb Events API test double: it accepts
// POST /1/batch/{dataset} with JSON or msgpack bodies, uncompressed or
// gzip/zstd compressed, checks the headers, records or counts the events,
// answers with per-event statuses, and can inject failures. It backs the
// exporter's tests and the cmd/hcsink program used by end-to-end tests
// and the libhoney-go comparison benchmark.
package hcsink // import "github.com/prodscope/prodscope/exporter/honeycombevents/internal/hcsink"

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/vmihailenco/msgpack/v5"
)

// MaxBodyBytes caps a request body before and after decompression.
const MaxBodyBytes = 20 << 20

// Event is one decoded event.
type Event struct {
	Dataset    string
	Time       time.Time
	HasTime    bool
	SampleRate int64
	Data       map[string]any
}

// Request records the headers of one request.
type Request struct {
	Dataset         string
	ContentType     string
	ContentEncoding string
	Team            string
	Events          int
	Status          int
}

// Faults configures failure injection. Percentages are per event, drawn
// from a generator seeded with Seed, so a run is reproducible.
type Faults struct {
	// RequestStatuses are answered, in order, to the next requests instead
	// of processing them (e.g. 503, 503 then normal service).
	RequestStatuses []int
	// RetryAfter is sent with injected 429/503 request statuses when set.
	RetryAfter string
	// RequestMessage is the error message of injected request statuses
	// ("injected failure" when empty), e.g. Honeycomb's 403 for
	// administrative throttling.
	RequestMessage string
	// MaxEventsPerRequest, when set, answers 413 to a batch with more
	// events, as a server with a smaller body limit would.
	MaxEventsPerRequest int
	// Event500Pct, Event429Pct and Event400Pct are the percentages of
	// events answered with that per-event status.
	Event500Pct float64
	Event429Pct float64
	Event400Pct float64
	// ShortBy drops that many statuses from the end of each 200 response.
	ShortBy int
	Seed    uint64
	// EventStatus, when set, decides the per-event status of each decoded
	// event (tests use it to fail chosen events deterministically).
	EventStatus func(Event) int
}

// Sink is an http.Handler implementing the Events API batch endpoint.
type Sink struct {
	// APIKey, when set, is the only X-Honeycomb-Team accepted (401 otherwise).
	APIKey string
	// Discard counts events without keeping them.
	Discard bool

	mu        sync.Mutex
	faults    Faults
	rng       *rand.Rand
	events    []Event
	requests  []Request
	byDataset map[string]int64
	accepted  int64
	failed    int64
	zdec      *zstd.Decoder
}

// New returns a sink; apiKey may be empty to accept any non-empty key.
func New(apiKey string) *Sink {
	dec, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxBodyBytes))
	return &Sink{APIKey: apiKey, byDataset: map[string]int64{}, zdec: dec, rng: rand.New(rand.NewPCG(1, 2))}
}

// Close releases the decoder.
func (s *Sink) Close() { s.zdec.Close() }

// SetFaults replaces the failure injection.
func (s *Sink) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.rng = rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))
}

// Events returns a copy of the accepted events.
func (s *Sink) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Requests returns a copy of the requests seen.
func (s *Sink) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Stats are the counters served on /stats.
type Stats struct {
	Accepted  int64            `json:"accepted"`
	Failed    int64            `json:"failed"`
	Requests  int              `json:"requests"`
	ByDataset map[string]int64 `json:"by_dataset"`
}

// Stats returns the counters.
func (s *Sink) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	by := make(map[string]int64, len(s.byDataset))
	for k, v := range s.byDataset {
		by[k] = v
	}
	return Stats{Accepted: s.accepted, Failed: s.failed, Requests: len(s.requests), ByDataset: by}
}

// Reset forgets events, requests and counters.
func (s *Sink) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events, s.requests = nil, nil
	s.byDataset = map[string]int64{}
	s.accepted, s.failed = 0, 0
}

func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/stats" {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Stats())
		return
	}
	rawDataset, ok := strings.CutPrefix(r.URL.EscapedPath(), "/1/batch/")
	if !ok || r.Method != http.MethodPost {
		http.Error(w, `{"error":"unknown endpoint"}`, http.StatusNotFound)
		return
	}
	dataset, err := url.PathUnescape(rawDataset)
	// The Events API refuses a dataset name with a slash, even percent-encoded.
	if err != nil || dataset == "" || strings.Contains(dataset, "/") {
		http.Error(w, `{"error":"bad dataset"}`, http.StatusBadRequest)
		return
	}
	req := Request{
		Dataset:         dataset,
		ContentType:     r.Header.Get("Content-Type"),
		ContentEncoding: r.Header.Get("Content-Encoding"),
		Team:            r.Header.Get("X-Honeycomb-Team"),
	}
	status, body, respType := s.handle(r, &req)
	req.Status = status
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	w.Header().Set("Content-Type", respType)
	if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && s.retryAfter() != "" {
		w.Header().Set("Retry-After", s.retryAfter())
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Sink) retryAfter() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.RetryAfter
}

func errorBody(msg string) []byte {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return b
}

func (s *Sink) handle(r *http.Request, req *Request) (int, []byte, string) {
	if req.Team == "" || (s.APIKey != "" && req.Team != s.APIKey) {
		return http.StatusUnauthorized, errorBody("unknown API key - check your credentials"), "application/json"
	}
	s.mu.Lock()
	if len(s.faults.RequestStatuses) > 0 {
		st := s.faults.RequestStatuses[0]
		s.faults.RequestStatuses = s.faults.RequestStatuses[1:]
		msg := s.faults.RequestMessage
		s.mu.Unlock()
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, MaxBodyBytes))
		if msg == "" {
			msg = "injected failure"
		}
		return st, errorBody(msg), "application/json"
	}
	maxEvents := s.faults.MaxEventsPerRequest
	s.mu.Unlock()

	compressed, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil || len(compressed) > MaxBodyBytes {
		return http.StatusRequestEntityTooLarge, errorBody("request body too large"), "application/json"
	}
	raw, err := s.decompress(compressed, req.ContentEncoding)
	if err != nil {
		return http.StatusBadRequest, errorBody("cannot decompress: " + err.Error()), "application/json"
	}
	var evs []Event
	msgp := strings.HasPrefix(req.ContentType, "application/msgpack") || strings.HasPrefix(req.ContentType, "application/x-msgpack")
	switch {
	case msgp:
		evs, err = DecodeMsgpack(raw)
	case strings.HasPrefix(req.ContentType, "application/json"):
		evs, err = DecodeJSON(raw)
	default:
		return http.StatusUnsupportedMediaType, errorBody("unsupported content type"), "application/json"
	}
	if err != nil {
		return http.StatusBadRequest, errorBody("cannot decode batch: " + err.Error()), "application/json"
	}
	req.Events = len(evs)
	if maxEvents > 0 && len(evs) > maxEvents {
		return http.StatusRequestEntityTooLarge, errorBody("request body is too large"), "application/json"
	}

	statuses := make([]map[string]any, 0, len(evs))
	s.mu.Lock()
	for i := range evs {
		evs[i].Dataset = req.Dataset
		st := s.eventStatus(&evs[i])
		if st >= 200 && st < 300 {
			s.accepted++
			s.byDataset[req.Dataset]++
			if !s.Discard {
				s.events = append(s.events, evs[i])
			}
			statuses = append(statuses, map[string]any{"status": st})
		} else {
			s.failed++
			statuses = append(statuses, map[string]any{"status": st, "error": "injected per-event failure"})
		}
	}
	if n := s.faults.ShortBy; n > 0 {
		statuses = statuses[:max(len(statuses)-n, 0)]
	}
	s.mu.Unlock()
	if msgp {
		b, _ := msgpack.Marshal(statuses)
		return http.StatusOK, b, "application/msgpack"
	}
	b, _ := json.Marshal(statuses)
	return http.StatusOK, b, "application/json"
}

// eventStatus draws the per-event status; called with s.mu held.
func (s *Sink) eventStatus(ev *Event) int {
	f := &s.faults
	if f.EventStatus != nil {
		return f.EventStatus(*ev)
	}
	if f.Event500Pct == 0 && f.Event429Pct == 0 && f.Event400Pct == 0 {
		return http.StatusAccepted
	}
	p := s.rng.Float64() * 100
	switch {
	case p < f.Event500Pct:
		return http.StatusInternalServerError
	case p < f.Event500Pct+f.Event429Pct:
		return http.StatusTooManyRequests
	case p < f.Event500Pct+f.Event429Pct+f.Event400Pct:
		return http.StatusBadRequest
	}
	return http.StatusAccepted
}

func (s *Sink) decompress(b []byte, encoding string) ([]byte, error) {
	switch encoding {
	case "", "identity":
		return b, nil
	case "zstd":
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.zdec.DecodeAll(b, nil)
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		out, err := io.ReadAll(io.LimitReader(zr, MaxBodyBytes+1))
		if err != nil {
			return nil, err
		}
		if len(out) > MaxBodyBytes {
			return nil, errors.New("decompressed body too large")
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported content encoding %q", encoding)
}

type wireEvent struct {
	Time       any            `json:"time" msgpack:"time"`
	SampleRate *int64         `json:"samplerate" msgpack:"samplerate"`
	Data       map[string]any `json:"data" msgpack:"data"`
}

func (w *wireEvent) toEvent() (Event, error) {
	ev := Event{SampleRate: 1, Data: w.Data}
	if w.SampleRate != nil {
		ev.SampleRate = *w.SampleRate
	}
	switch t := w.Time.(type) {
	case nil:
	case string:
		parsed, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return ev, fmt.Errorf("bad time %q: %w", t, err)
		}
		ev.Time, ev.HasTime = parsed.UTC(), true
	case time.Time:
		ev.Time, ev.HasTime = t.UTC(), true
	default:
		return ev, fmt.Errorf("bad time of type %T", t)
	}
	if ev.Data == nil {
		return ev, errors.New("event without data")
	}
	for k, v := range ev.Data {
		ev.Data[k] = normalize(v)
	}
	return ev, nil
}

// normalize maps decoded numbers onto int64 and float64.
func normalize(v any) any {
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i
		}
		f, _ := n.Float64()
		return f
	case int8:
		return int64(n)
	case int16:
		return int64(n)
	case int32:
		return int64(n)
	case int:
		return int64(n)
	case uint8:
		return int64(n)
	case uint16:
		return int64(n)
	case uint32:
		return int64(n)
	case uint64:
		if n <= math.MaxInt64 {
			return int64(n)
		}
		return n // beyond int64: kept as decoded
	case float32:
		return float64(n)
	}
	return v
}

// DecodeJSON decodes a JSON batch body.
func DecodeJSON(raw []byte) ([]Event, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var wire []wireEvent
	if err := dec.Decode(&wire); err != nil {
		return nil, err
	}
	return toEvents(wire)
}

// DecodeMsgpack decodes a msgpack batch body.
func DecodeMsgpack(raw []byte) ([]Event, error) {
	// The decoder preallocates containers by their declared length: check
	// every length against the bytes left before decoding.
	if _, err := checkMsgpack(raw, 0); err != nil {
		return nil, err
	}
	var wire []wireEvent
	if err := msgpack.Unmarshal(raw, &wire); err != nil {
		return nil, err
	}
	return toEvents(wire)
}

func toEvents(wire []wireEvent) ([]Event, error) {
	out := make([]Event, 0, len(wire))
	for i := range wire {
		ev, err := wire[i].toEvent()
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// ParseStatusList parses "503,503,429" into statuses.
func ParseStatusList(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 100 || n > 599 {
			return nil, fmt.Errorf("bad status %q", p)
		}
		out = append(out, n)
	}
	return out, nil
}

var errMsgpackTruncated = errors.New("msgpack: truncated or oversized container")

// checkMsgpack walks one msgpack value and returns the bytes after it. It
// rejects containers declaring more elements than bytes remain and nesting
// deeper than 64.
func checkMsgpack(b []byte, depth int) ([]byte, error) {
	if depth > 64 {
		return nil, errors.New("msgpack: nested too deep")
	}
	if len(b) == 0 {
		return nil, errMsgpackTruncated
	}
	c := b[0]
	b = b[1:]
	need := func(n int) ([]byte, error) {
		if n < 0 || n > len(b) {
			return nil, errMsgpackTruncated
		}
		return b[n:], nil
	}
	be := func(n int) (int, error) {
		if len(b) < n {
			return 0, errMsgpackTruncated
		}
		v := 0
		for i := 0; i < n; i++ {
			v = v<<8 | int(b[i])
		}
		b = b[n:]
		return v, nil
	}
	container := func(elems int) ([]byte, error) {
		if elems > len(b) {
			return nil, errMsgpackTruncated
		}
		var err error
		for i := 0; i < elems; i++ {
			if b, err = checkMsgpack(b, depth+1); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return b, nil
	case c >= 0x80 && c <= 0x8f:
		return container(2 * int(c&0x0f))
	case c >= 0x90 && c <= 0x9f:
		return container(int(c & 0x0f))
	case c >= 0xa0 && c <= 0xbf:
		return need(int(c & 0x1f))
	}
	switch c {
	case 0xcc, 0xd0:
		return need(1)
	case 0xcd, 0xd1:
		return need(2)
	case 0xca, 0xce, 0xd2:
		return need(4)
	case 0xcb, 0xcf, 0xd3:
		return need(8)
	case 0xd4:
		return need(2)
	case 0xd5:
		return need(3)
	case 0xd6:
		return need(5)
	case 0xd7:
		return need(9)
	case 0xd8:
		return need(17)
	case 0xc4, 0xd9:
		n, err := be(1)
		if err != nil {
			return nil, err
		}
		return need(n)
	case 0xc5, 0xda:
		n, err := be(2)
		if err != nil {
			return nil, err
		}
		return need(n)
	case 0xc6, 0xdb:
		n, err := be(4)
		if err != nil {
			return nil, err
		}
		return need(n)
	case 0xc7, 0xc8, 0xc9:
		size := map[byte]int{0xc7: 1, 0xc8: 2, 0xc9: 4}[c]
		n, err := be(size)
		if err != nil {
			return nil, err
		}
		return need(n + 1)
	case 0xdc, 0xdd:
		n, err := be(map[byte]int{0xdc: 2, 0xdd: 4}[c])
		if err != nil {
			return nil, err
		}
		return container(n)
	case 0xde, 0xdf:
		n, err := be(map[byte]int{0xde: 2, 0xdf: 4}[c])
		if err != nil {
			return nil, err
		}
		return container(2 * n)
	}
	return nil, fmt.Errorf("msgpack: unknown type byte 0x%02x", c)
}
