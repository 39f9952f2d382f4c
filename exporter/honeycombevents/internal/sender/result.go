// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package sender // import "github.com/prodscope/prodscope/exporter/honeycombevents/internal/sender"

import (
	"time"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"
)

// Reasons an event was retried or refused (the reason attribute of the
// exporter's self-telemetry). Refusals by the exporter's own limits use the
// events.Reason names (event_too_large, too_many_fields).
const (
	// ReasonRejected: the Events API refused the event in its per-event status.
	ReasonRejected = "rejected"
	// ReasonRequestRejected: the Events API refused the whole request (4xx).
	ReasonRequestRejected = "request_rejected"
	// ReasonPerEventStatus: a retryable per-event status (429, 5xx).
	ReasonPerEventStatus = "per_event_status"
	// ReasonRequestFailed: the request failed (transport error, 5xx, 408).
	ReasonRequestFailed = "request_failed"
	// ReasonThrottled: the Events API throttled the request (429, 503, 403
	// administrative throttling).
	ReasonThrottled = "throttled"
	// ReasonNoStatus: a 200 response without a usable status for the event.
	ReasonNoStatus = "no_status"
)

// Outcome counts the events of one dataset that were retried or refused for
// one reason and HTTP status.
type Outcome struct {
	Dataset string
	Reason  string
	// Status is the HTTP status (of the request or of the event); 0 when
	// there was none (the exporter's own limits, transport errors).
	Status int
	Events int
	// Message is the first explanation seen: the server's message or the
	// error, cut to a bounded length and with the API key and the other
	// configured secrets replaced. Empty when there is nothing to add.
	Message string
}

// Result is what happened to the events of one push. Every event mapped is
// counted once: sent, retried (handed back to exporterhelper's retry) or
// refused, so Events == Sent + sum(Retried) + sum(Refused).
type Result struct {
	// Events is the number of events mapped from the request.
	Events int
	// Sent counts events the Events API accepted.
	Sent int
	// Retried and Refused hold one entry per (dataset, reason, status), in
	// the order first seen.
	Retried []Outcome
	Refused []Outcome
	// Trimmed counts events sent after trimming, by reason.
	Trimmed [events.NumReasons]int
	// PointsRefused counts metric data points in no event sent, by reason.
	PointsRefused [events.NumReasons]int

	// Batches counts requests that got an HTTP response; Splits the batches
	// split in two after a 413.
	Batches int
	Splits  int
	// BytesUncompressed and BytesCompressed are the body bytes of the
	// requests that got a response, before and after compression.
	BytesUncompressed int64
	BytesCompressed   int64

	// LastError is the last failure the Events API (or the transport to it)
	// reported during the push, without secrets; LastErrorAt is when.
	LastError   string
	LastErrorAt time.Time
}

// RetriedEvents is the number of events retried, over all reasons.
func (r *Result) RetriedEvents() int { return sumEvents(r.Retried) }

// RefusedEvents is the number of events refused, over all reasons.
func (r *Result) RefusedEvents() int { return sumEvents(r.Refused) }

func sumEvents(os []Outcome) int {
	n := 0
	for _, o := range os {
		n += o.Events
	}
	return n
}

// addOutcome counts n events in the entry of (dataset, reason, status).
func addOutcome(list []Outcome, dataset, reason string, status, n int, msg string) []Outcome {
	for i := range list {
		if o := &list[i]; o.Dataset == dataset && o.Reason == reason && o.Status == status {
			o.Events += n
			if o.Message == "" {
				o.Message = msg
			}
			return list
		}
	}
	return append(list, Outcome{Dataset: dataset, Reason: reason, Status: status, Events: n, Message: msg})
}

func (r *Result) retried(dataset, reason string, status, n int, msg string) {
	r.Retried = addOutcome(r.Retried, dataset, reason, status, n, msg)
}

func (r *Result) refused(dataset, reason string, status, n int, msg string) {
	r.Refused = addOutcome(r.Refused, dataset, reason, status, n, msg)
}

func (r *Result) failed(at time.Time, msg string) {
	r.LastError, r.LastErrorAt = msg, at
}

// addBatcherStats takes the batcher's counts (its refusals are copied: the
// batcher reuses its buffers).
func (r *Result) addBatcherStats(st *events.Stats) {
	r.Events += st.Events
	r.Trimmed = st.Trimmed
	r.PointsRefused = st.PointsRefused
	for _, rf := range st.Refused {
		r.refused(rf.Dataset, rf.Reason.String(), 0, rf.Events, "")
	}
}
