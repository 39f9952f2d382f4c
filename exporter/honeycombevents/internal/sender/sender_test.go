// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package sender

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"
	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/hcsink"
)

const testKey = "hcaik_engine-test-key-0123456789"

var testLimits = events.Limits{MaxBatchBytes: 5_000_000, MaxEventBytes: 2048, MaxFields: 2000}

// newTestSender returns a Sender to a fresh sink accepting testKey, with a
// fixed clock.
func newTestSender(t *testing.T, endpointSuffix string) (*Sender, *hcsink.Sink) {
	t.Helper()
	sink := hcsink.New(testKey)
	srv := httptest.NewServer(sink)
	s, err := New(Config{
		Endpoint:    srv.URL + endpointSuffix,
		APIKey:      testKey,
		Format:      events.FormatJSON,
		Compression: "zstd",
		Mapping:     events.Config{UnknownDataset: "unknown"},
		Limits:      testLimits,
		UserAgent:   "test",
	}, srv.Client())
	require.NoError(t, err)
	s.now = func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }
	t.Cleanup(func() {
		s.Close()
		srv.Close()
		sink.Close()
	})
	return s, sink
}

// spans builds n spans named span-<i> for service (dataset) shop.
func spans(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "shop")
	ss := rs.ScopeSpans().AppendEmpty().Spans()
	for i := range n {
		s := ss.AppendEmpty()
		s.SetTraceID(pcommon.TraceID{1, byte(i)})
		s.SetSpanID(pcommon.SpanID{2, byte(i)})
		s.SetName(fmt.Sprintf("span-%d", i))
	}
	return td
}

func byName(statuses map[string]int) func(hcsink.Event) int {
	return func(ev hcsink.Event) int {
		if st, ok := statuses[ev.Data["name"].(string)]; ok {
			return st
		}
		return http.StatusAccepted
	}
}

func TestResultAllSent(t *testing.T) {
	s, sink := newTestSender(t, "/")
	res, err := s.Traces(context.Background(), spans(4))
	require.NoError(t, err)
	assert.Equal(t, 4, res.Events)
	assert.Equal(t, 4, res.Sent)
	assert.Empty(t, res.Retried)
	assert.Empty(t, res.Refused)
	assert.Equal(t, 1, res.Batches)
	assert.Greater(t, res.BytesUncompressed, int64(4*len(`"name":"span-0"`)))
	assert.Positive(t, res.BytesCompressed)
	assert.Empty(t, res.LastError)
	require.Len(t, sink.Requests(), 1)
	assert.Equal(t, "shop", sink.Requests()[0].Dataset, "the endpoint's trailing slash is dropped: /1/batch/shop")
}

// TestResultAccountsForEveryEvent: 6 spans; span-1 gets 500, span-2 429
// (both retried), span-3 and span-4 400 (refused), span-0 and span-5 202.
// Every event is counted once: 6 = 2 sent + 2 retried + 2 refused.
func TestResultAccountsForEveryEvent(t *testing.T) {
	s, sink := newTestSender(t, "")
	sink.SetFaults(hcsink.Faults{EventStatus: byName(map[string]int{"span-1": 500, "span-2": 429, "span-3": 400, "span-4": 400})})
	td := spans(6)
	res, err := s.Traces(context.Background(), td)
	require.Error(t, err)

	assert.Equal(t, 6, res.Events)
	assert.Equal(t, 2, res.Sent)
	assert.Equal(t, []Outcome{
		{Dataset: "shop", Reason: ReasonPerEventStatus, Status: 500, Events: 1, Message: "injected per-event failure"},
		{Dataset: "shop", Reason: ReasonPerEventStatus, Status: 429, Events: 1, Message: "injected per-event failure"},
	}, res.Retried)
	assert.Equal(t, []Outcome{
		{Dataset: "shop", Reason: ReasonRejected, Status: 400, Events: 2, Message: "injected per-event failure"},
	}, res.Refused)
	assert.Equal(t, res.Events, res.Sent+res.RetriedEvents()+res.RefusedEvents())
	assert.Equal(t, `events API rejected 2 events of dataset "shop": HTTP 400 injected per-event failure`, res.LastError)
	assert.Equal(t, time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), res.LastErrorAt)

	var partial consumererror.Traces
	require.ErrorAs(t, err, &partial)
	assert.Equal(t, 2, partial.Data().SpanCount(), "the retried events' spans go back")
}

func TestResultOfThrottledAndRefusedRequests(t *testing.T) {
	for _, tc := range []struct {
		name      string
		faults    hcsink.Faults
		retried   []Outcome
		refused   []Outcome
		lastError string
	}{
		{
			name:      "429",
			faults:    hcsink.Faults{RequestStatuses: []int{429}, RequestMessage: "slow down"},
			retried:   []Outcome{{Dataset: "shop", Reason: ReasonThrottled, Status: 429, Events: 3, Message: "slow down"}},
			lastError: `events API throttled the batch to dataset "shop": HTTP 429 slow down`,
		},
		{
			name:      "403 administrative throttling",
			faults:    hcsink.Faults{RequestStatuses: []int{403}, RequestMessage: "event dropped due to administrative throttling"},
			retried:   []Outcome{{Dataset: "shop", Reason: ReasonThrottled, Status: 403, Events: 3, Message: "event dropped due to administrative throttling"}},
			lastError: `events API throttled the batch to dataset "shop" (administrative throttling): HTTP 403 event dropped due to administrative throttling`,
		},
		{
			name:      "403 permission",
			faults:    hcsink.Faults{RequestStatuses: []int{403}, RequestMessage: "no permission"},
			refused:   []Outcome{{Dataset: "shop", Reason: ReasonRequestRejected, Status: 403, Events: 3, Message: "no permission"}},
			lastError: `events API rejected the batch to dataset "shop": HTTP 403 (API key lacks permission to send events to this dataset (not throttling)) no permission`,
		},
		{
			name: "413 down to single events",
			// 3 events: 413; halves 1 and 2: the single event 413 (refused),
			// the pair 413 and split: 413 (refused), then accepted.
			faults:    hcsink.Faults{RequestStatuses: []int{413, 413, 413, 413}},
			refused:   []Outcome{{Dataset: "shop", Reason: ReasonRequestRejected, Status: 413, Events: 2, Message: "injected failure"}},
			lastError: `events API rejected the batch to dataset "shop": HTTP 413 (event too large for the server even alone: lower max_event_bytes) injected failure`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, sink := newTestSender(t, "")
			sink.SetFaults(tc.faults)
			res, err := s.Traces(context.Background(), spans(3))
			require.Error(t, err)
			assert.Equal(t, 3, res.Events)
			assert.Equal(t, tc.retried, res.Retried)
			assert.Equal(t, tc.refused, res.Refused)
			assert.Equal(t, res.Events, res.Sent+res.RetriedEvents()+res.RefusedEvents())
			assert.Equal(t, tc.lastError, res.LastError)
		})
	}
}

func TestResultOfSplitCountsEveryResponse(t *testing.T) {
	s, sink := newTestSender(t, "")
	// At most 2 events per request: 5 -> 413; 2 sent; 3 -> 413; 1 and 2 sent.
	sink.SetFaults(hcsink.Faults{MaxEventsPerRequest: 2})
	res, err := s.Traces(context.Background(), spans(5))
	require.NoError(t, err)
	assert.Equal(t, 5, res.Sent)
	assert.Equal(t, 5, res.Batches)
	assert.Equal(t, 2, res.Splits)
	assert.Empty(t, res.LastError)
}

func TestResultCountsOwnLimitRefusalsByDataset(t *testing.T) {
	s, _ := newTestSender(t, "")
	td := spans(3)
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1).SetName(strings.Repeat("n", 5000)) // over max_event_bytes, name never cut
	res, err := s.Traces(context.Background(), td)
	require.NoError(t, err, "an event the exporter refuses itself is not an error to retry")
	assert.Equal(t, 3, res.Events)
	assert.Equal(t, 2, res.Sent)
	assert.Equal(t, []Outcome{{Dataset: "shop", Reason: "event_too_large", Events: 1}}, res.Refused)
	assert.Empty(t, res.LastError, "not a failure of the Events API")
}

func TestResultOfTransportFailure(t *testing.T) {
	s, _ := newTestSender(t, "")
	s.batchURL = "http://127.0.0.1:1/1/batch/"
	res, err := s.Traces(context.Background(), spans(2))
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err))
	require.Len(t, res.Retried, 1)
	assert.Equal(t, ReasonRequestFailed, res.Retried[0].Reason)
	assert.Equal(t, 2, res.Retried[0].Events)
	assert.Zero(t, res.Batches, "no response")
	assert.Contains(t, res.LastError, `sending batch to dataset "shop"`)
}

func TestResultOfShortStatusArray(t *testing.T) {
	s, sink := newTestSender(t, "")
	sink.SetFaults(hcsink.Faults{ShortBy: 2})
	res, err := s.Traces(context.Background(), spans(5))
	require.Error(t, err)
	assert.Equal(t, 3, res.Sent)
	assert.Equal(t, []Outcome{{Dataset: "shop", Reason: ReasonNoStatus, Events: 2}}, res.Retried)
	assert.Equal(t, `events API returned no status for 2 events of dataset "shop"`, res.LastError)
}

// echoServer answers every request with status and a body that repeats the
// request's headers, as a misconfigured proxy or a debugging endpoint might.
func echoServer(t *testing.T, status int, perEvent bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var headers strings.Builder
		for k, v := range r.Header {
			fmt.Fprintf(&headers, "%s=%s; ", k, strings.Join(v, ","))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if perEvent {
			_, _ = fmt.Fprintf(w, `[{"status":400,"error":%q},{"status":503,"error":%q}]`, "bad event, got "+headers.String(), "busy "+headers.String())
			return
		}
		_, _ = w.Write([]byte("request headers: " + headers.String()))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSecretsNeverLeaveInMessages(t *testing.T) {
	const extra = "tenant-token-abcdef"
	for _, tc := range []struct {
		name     string
		status   int
		perEvent bool
	}{
		{"request refused", http.StatusBadRequest, false},
		{"request throttled", http.StatusTooManyRequests, false},
		{"request failed", http.StatusBadGateway, false},
		{"per-event errors", http.StatusOK, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := echoServer(t, tc.status, tc.perEvent)
			// The engine sends the key itself; confighttp would add the
			// configured headers: this client adds one.
			client := srv.Client()
			client.Transport = headerAdder{next: client.Transport, name: "X-Tenant", value: extra}
			s, err := New(Config{
				Endpoint: srv.URL, APIKey: testKey, Secrets: []string{extra, ""},
				Format: events.FormatJSON, Mapping: events.Config{UnknownDataset: "u"}, Limits: testLimits,
			}, client)
			require.NoError(t, err)
			defer s.Close()
			res, pushErr := s.Traces(context.Background(), spans(2))
			require.Error(t, pushErr)

			seen := []string{res.LastError, pushErr.Error()}
			for _, o := range append(res.Retried, res.Refused...) {
				seen = append(seen, o.Message)
			}
			all := strings.Join(seen, "\n")
			assert.Contains(t, all, "X-Honeycomb-Team=[redacted]", "the echo is kept, the key replaced")
			assert.Contains(t, all, "X-Tenant=[redacted]")
			for _, m := range seen {
				assert.NotContains(t, m, testKey)
				assert.NotContains(t, m, testKey[:len(testKey)/2], "not even a part cut by truncation")
				assert.NotContains(t, m, extra)
			}
		})
	}
}

func TestRedactorReplacesLongestFirst(t *testing.T) {
	r := newRedactor([]string{"abc", "", "abcdef"})
	assert.Equal(t, "key [redacted], short [redacted]", r.Replace("key abcdef, short abc"))
	assert.Equal(t, "nothing", newRedactor(nil).Replace("nothing"))
}

type headerAdder struct {
	next        http.RoundTripper
	name, value string
}

func (h headerAdder) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.name, h.value)
	return h.next.RoundTrip(r)
}
