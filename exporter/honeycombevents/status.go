// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package honeycombevents // import "github.com/prodscope/prodscope/exporter/honeycombevents"

import (
	"cmp"
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"
	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/queuegauge"
	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/sender"
	"github.com/prodscope/prodscope/internal/sharedcomponent"
	"github.com/prodscope/prodscope/internal/statusregistry"
)

const (
	// maxRefusalPairs bounds the (dataset, reason) pairs the status keeps
	// (datasets come from the data's service.name); refusals of datasets
	// past it are counted under otherDatasets.
	maxRefusalPairs = 1024
	otherDatasets   = "(other datasets)"
)

// statuses holds the status of each honeycombevents ID: its signal
// instances (traces, logs, metrics) share one, so the status page has one
// entry per ID, as it has one list of pipelines per ID.
var statuses = sharedcomponent.NewMap[sharedcomponent.Key, *exporterStatus]()

// exporterStatus is what the status page shows of one honeycombevents ID.
// It registers with statusregistry.Default when the first of the ID's
// instances starts and unregisters when the first shuts down (the
// collector shuts them down together). Its counts are cumulative, kept by
// the exporter from the Results the engine returns: a few atomic adds per
// request, and the lock only for a request with refusals or an error.
type exporterStatus struct {
	id component.ID
	// queue sees the sending queues of the ID's instances.
	queue     *queuegauge.Probe
	queueUnit string

	mapped, sent, retried atomic.Int64
	trimmed               [events.NumReasons]atomic.Int64

	mu          sync.Mutex
	started     time.Time
	unregister  func()
	refused     map[refusalKey]int64
	lastError   string
	lastErrorAt time.Time
}

type refusalKey struct{ dataset, reason string }

func newExporterStatus(id component.ID, cfg *Config) *exporterStatus {
	s := &exporterStatus{id: id, queue: queuegauge.New(), refused: map[refusalKey]int64{}}
	if q := cfg.QueueConfig.Get(); q != nil {
		s.queueUnit = q.Sizer.String()
	}
	return s
}

// Start registers the status.
func (s *exporterStatus) Start(context.Context, component.Host) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = time.Now()
	s.unregister = statusregistry.Default.Register(s.id, component.KindExporter, s)
	return nil
}

// Shutdown unregisters the status.
func (s *exporterStatus) Shutdown(context.Context) error {
	s.mu.Lock()
	unregister := s.unregister
	s.unregister = nil
	s.mu.Unlock()
	if unregister != nil {
		unregister()
	}
	return nil
}

// refusalReason is the reason a refusal is shown under: the telemetry's
// reason, with the HTTP status when the Events API gave one.
func refusalReason(o *sender.Outcome) string {
	if o.Status == 0 {
		return o.Reason
	}
	return o.Reason + " (HTTP " + strconv.Itoa(o.Status) + ")"
}

// record adds what happened to one request.
func (s *exporterStatus) record(r *sender.Result) {
	s.mapped.Add(int64(r.Events))
	if r.Sent > 0 {
		s.sent.Add(int64(r.Sent))
	}
	if n := r.RetriedEvents(); n > 0 {
		s.retried.Add(int64(n))
	}
	for reason, n := range r.Trimmed {
		if n > 0 {
			s.trimmed[reason].Add(int64(n))
		}
	}
	if len(r.Refused) == 0 && r.LastError == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range r.Refused {
		k := refusalKey{dataset: r.Refused[i].Dataset, reason: refusalReason(&r.Refused[i])}
		if _, ok := s.refused[k]; !ok && len(s.refused) >= maxRefusalPairs {
			k.dataset = otherDatasets
		}
		s.refused[k] += int64(r.Refused[i].Events)
	}
	// Requests run concurrently: keep the latest error.
	if r.LastError != "" && !r.LastErrorAt.Before(s.lastErrorAt) {
		s.lastError, s.lastErrorAt = r.LastError, r.LastErrorAt
	}
}

// StatusSnapshot is the status page's view: every list at most limit long,
// the largest counts first.
func (s *exporterStatus) StatusSnapshot(limit int) statusregistry.Snapshot {
	s.mu.Lock()
	started, lastError, lastErrorAt := s.started, s.lastError, s.lastErrorAt
	pairs := make([]statusregistry.DatasetRefusal, 0, len(s.refused))
	for k, n := range s.refused {
		pairs = append(pairs, statusregistry.DatasetRefusal{Dataset: k.dataset, Reason: k.reason, N: n})
	}
	s.mu.Unlock()

	// Events refused, by reason over all datasets.
	var byReason []statusregistry.Count
	for _, p := range pairs {
		found := false
		for i := range byReason {
			if byReason[i].What == p.Reason {
				byReason[i].N += p.N
				found = true
				break
			}
		}
		if !found {
			byReason = append(byReason, statusregistry.Count{What: p.Reason, N: p.N})
		}
	}
	byReason = statusregistry.TopCounts(byReason, limit)
	pairs, pairsOmitted := statusregistry.Top(pairs, limit, func(a, b statusregistry.DatasetRefusal) int {
		return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Dataset, b.Dataset), cmp.Compare(a.Reason, b.Reason))
	})

	var changed []statusregistry.Count
	for reason := range events.NumReasons {
		if n := s.trimmed[reason].Load(); n > 0 {
			changed = append(changed, statusregistry.Count{What: "trimmed: " + reason.String(), N: n})
		}
	}
	changed = statusregistry.TopCounts(changed, limit)

	he := &statusregistry.HoneycombEvents{
		Sent:           s.sent.Load(),
		Retried:        s.retried.Load(),
		Refused:        pairs,
		RefusedOmitted: pairsOmitted,
		LastError:      lastError,
		LastErrorAt:    lastErrorAt,
	}
	var holding []statusregistry.Gauge
	if size, capacity, ok := s.queue.Read(context.Background()); ok {
		he.QueueSize, he.QueueCapacity = size, capacity
		holding = []statusregistry.Gauge{{What: "sending queue (" + s.queueUnit + ")", Now: size, Limit: capacity}}
	}
	return statusregistry.Snapshot{
		Started:         started,
		ItemsIn:         s.mapped.Load(),
		ItemsOut:        he.Sent,
		Unit:            "events",
		Changed:         changed,
		Refused:         byReason,
		Holding:         holding,
		HoneycombEvents: he,
	}
}
