// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package honeycombevents

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/hcsink"
	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/sender"
	"github.com/prodscope/prodscope/internal/statusregistry"
)

// snapshotOf returns the snapshot statusregistry.Default has for id.
func snapshotOf(t *testing.T, id component.ID, limit int) (statusregistry.Snapshot, bool) {
	t.Helper()
	found := statusregistry.Default.SnapshotsOf(id, limit)
	require.LessOrEqual(t, len(found), 1, "one registration per component ID")
	if len(found) == 0 {
		return statusregistry.Snapshot{}, false
	}
	return found[0], true
}

func settingsFor(id component.ID) exporter.Settings {
	set := exportertestSettings()
	set.ID = id
	return set
}

// TestStatusCountsWorkedOutByHand sends six requests to a sink on
// 127.0.0.1:
//
//  1. 6 spans of shop, answered 200 with per-event statuses: span-1 500 and
//     span-2 429 (retried), span-3 and span-4 400 (refused), span-0 and
//     span-5 202 (sent);
//  2. 4 spans of cart: span-1's name is over max_event_bytes (refused by
//     the exporter), span-2 carries a large attribute (trimmed, sent), the
//     others sent;
//  3. 4 spans of shop answered 429 as a whole (retried);
//  4. 3 spans of shop answered 403 administrative throttling (retried);
//  5. 3 spans of shop answered 413 until single: the batch splits into
//     span-0 and span-1+2; span-0 alone gets 413 (refused), span-1+2 413
//     and splits, span-1 alone 413 (refused), span-2 alone is sent;
//  6. 2 spans of shop answered 401 (refused).
//
// Events: 22 = sent 2+3+1 + retried 2+4+3 + refused 2+1+2+2.
func TestStatusCountsWorkedOutByHand(t *testing.T) {
	id := component.MustNewIDWithName("honeycombevents", "status-counts")
	sink := hcsink.New(testKey)
	defer sink.Close()
	srv := httptest.NewServer(sink)
	defer srv.Close()
	cfg := createDefaultConfig().(*Config)
	cfg.ClientConfig.Endpoint = srv.URL
	cfg.APIKey = testKey
	cfg.MaxEventBytes = 2048
	exp, err := newEventsExporter(cfg, settingsFor(id), signalTraces)
	require.NoError(t, err)
	_, registered := snapshotOf(t, id, 10)
	require.False(t, registered, "not before Start")
	require.NoError(t, exp.start(context.Background(), componenttest.NewNopHost()))

	sink.SetFaults(hcsink.Faults{EventStatus: func(ev hcsink.Event) int {
		if ev.Dataset != "shop" {
			return http.StatusAccepted
		}
		switch ev.Data["name"] {
		case "span-1":
			return http.StatusInternalServerError
		case "span-2":
			return http.StatusTooManyRequests
		case "span-3", "span-4":
			return http.StatusBadRequest
		}
		return http.StatusAccepted
	}})
	require.Error(t, exp.pushTraces(context.Background(), testTraces("shop", 6)))

	cart := testTraces("cart", 4)
	cartSpans := cart.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	cartSpans.At(1).SetName(strings.Repeat("n", 5000))
	cartSpans.At(2).Attributes().PutStr("blob", strings.Repeat("b", 5000))
	require.NoError(t, exp.pushTraces(context.Background(), cart))

	sink.SetFaults(hcsink.Faults{RequestStatuses: []int{http.StatusTooManyRequests}})
	require.Error(t, exp.pushTraces(context.Background(), testTraces("shop", 4)))
	sink.SetFaults(hcsink.Faults{RequestStatuses: []int{http.StatusForbidden}, RequestMessage: "event dropped due to administrative throttling"})
	require.Error(t, exp.pushTraces(context.Background(), testTraces("shop", 3)))
	sink.SetFaults(hcsink.Faults{RequestStatuses: []int{413, 413, 413, 413}})
	require.Error(t, exp.pushTraces(context.Background(), testTraces("shop", 3)))
	sink.SetFaults(hcsink.Faults{RequestStatuses: []int{http.StatusUnauthorized}})
	require.Error(t, exp.pushTraces(context.Background(), testTraces("shop", 2)))

	snap, ok := snapshotOf(t, id, 10)
	require.True(t, ok)
	assert.Equal(t, "honeycombevents", snap.Type)
	assert.Equal(t, "Exporter", snap.Kind)
	assert.False(t, snap.Started.IsZero())
	assert.Equal(t, int64(22), snap.ItemsIn)
	assert.Equal(t, int64(6), snap.ItemsOut)
	assert.Equal(t, "events", snap.Unit)
	assert.Equal(t, []statusregistry.Count{{What: "trimmed: event_too_large", N: 1}}, snap.Changed)
	assert.Equal(t, []statusregistry.Count{
		{What: "rejected (HTTP 400)", N: 2},
		{What: "request_rejected (HTTP 401)", N: 2},
		{What: "request_rejected (HTTP 413)", N: 2},
		{What: "event_too_large", N: 1},
	}, snap.Refused)
	assert.Empty(t, snap.Holding, "no sending queue: this instance was built without exporterhelper")

	he := snap.HoneycombEvents
	require.NotNil(t, he)
	assert.Equal(t, int64(6), he.Sent)
	assert.Equal(t, int64(9), he.Retried)
	assert.Equal(t, []statusregistry.DatasetRefusal{
		{Dataset: "shop", Reason: "rejected (HTTP 400)", N: 2},
		{Dataset: "shop", Reason: "request_rejected (HTTP 401)", N: 2},
		{Dataset: "shop", Reason: "request_rejected (HTTP 413)", N: 2},
		{Dataset: "cart", Reason: "event_too_large", N: 1},
	}, he.Refused)
	assert.Zero(t, he.RefusedOmitted)
	assert.Equal(t, `events API rejected the batch to dataset "shop": HTTP 401 (API key rejected: check api_key) injected failure`, he.LastError)
	assert.WithinDuration(t, time.Now(), he.LastErrorAt, time.Minute)
	assert.Zero(t, he.QueueCapacity)

	// Every list is bounded, and says how much it left out.
	snap, _ = snapshotOf(t, id, 2)
	assert.Len(t, snap.Refused, 2)
	assert.Equal(t, []statusregistry.DatasetRefusal{
		{Dataset: "shop", Reason: "rejected (HTTP 400)", N: 2},
		{Dataset: "shop", Reason: "request_rejected (HTTP 401)", N: 2},
	}, snap.HoneycombEvents.Refused)
	assert.Equal(t, 2, snap.HoneycombEvents.RefusedOmitted)

	require.NoError(t, exp.shutdown(context.Background()))
	_, registered = snapshotOf(t, id, 10)
	assert.False(t, registered, "unregistered on Shutdown")
}

func TestStatusRegisteredOncePerID(t *testing.T) {
	id := component.MustNewIDWithName("honeycombevents", "status-shared")
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.ClientConfig.Endpoint = "http://127.0.0.1:1"
	cfg.APIKey = testKey
	set := settingsFor(id)
	traces, err := f.CreateTraces(context.Background(), set, cfg)
	require.NoError(t, err)
	logs, err := f.CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	metrics, err := f.CreateMetrics(context.Background(), set, cfg)
	require.NoError(t, err)
	comps := []component.Component{traces, logs, metrics}
	for _, c := range comps {
		require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
	}
	snap, ok := snapshotOf(t, id, 10) // fails on more than one
	require.True(t, ok)
	// Three signals, three sending queues of 1000 requests each.
	assert.Equal(t, int64(3000), snap.HoneycombEvents.QueueCapacity)
	assert.Equal(t, []statusregistry.Gauge{{What: "sending queue (requests)", Now: 0, Limit: 3000}}, snap.Holding)

	require.NoError(t, traces.Shutdown(context.Background()))
	_, ok = snapshotOf(t, id, 10)
	assert.False(t, ok, "unregistered when the first instance shuts down")
	for _, c := range comps[1:] {
		require.NoError(t, c.Shutdown(context.Background()))
	}
}

// TestStatusShowsTheSendingQueue: a backend that holds every request keeps
// the requests in exporterhelper's queue (a request counts until it is
// done), so after 3 requests the queue holds 3 of its 10.
func TestStatusShowsTheSendingQueue(t *testing.T) {
	id := component.MustNewIDWithName("honeycombevents", "status-queue")
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		<-release
		w.WriteHeader(http.StatusOK) // an empty 200 acknowledges the batch
	}))
	defer srv.Close()
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.ClientConfig.Endpoint = srv.URL
	cfg.APIKey = testKey
	q := exporterhelper.NewDefaultQueueConfig()
	q.QueueSize = 10
	q.NumConsumers = 1
	q.Batch = configoptional.None[exporterhelper.BatchConfig]()
	cfg.QueueConfig = configoptional.Some(q)
	exp, err := f.CreateTraces(context.Background(), settingsFor(id), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	released := false
	defer func() {
		if !released {
			close(release)
		}
		require.NoError(t, exp.Shutdown(context.Background()))
	}()

	for range 3 {
		require.NoError(t, exp.ConsumeTraces(context.Background(), testTraces("svc", 2)))
	}
	snap, ok := snapshotOf(t, id, 10)
	require.True(t, ok)
	assert.Equal(t, int64(3), snap.HoneycombEvents.QueueSize)
	assert.Equal(t, int64(10), snap.HoneycombEvents.QueueCapacity)
	assert.Equal(t, []statusregistry.Gauge{{What: "sending queue (requests)", Now: 3, Limit: 10}}, snap.Holding)

	close(release)
	released = true
	require.Eventually(t, func() bool {
		now, _ := snapshotOf(t, id, 10)
		return now.HoneycombEvents.QueueSize == 0 && now.HoneycombEvents.Sent == 6
	}, 10*time.Second, 10*time.Millisecond)
	snap, _ = snapshotOf(t, id, 10)
	assert.Equal(t, int64(6), snap.ItemsIn)
	assert.Equal(t, int64(6), snap.ItemsOut)
}

func TestStatusNeverShowsTheKey(t *testing.T) {
	const tenant = "tenant-secret-value"
	for _, tc := range []struct {
		name  string
		write func(w http.ResponseWriter, headers string)
	}{
		{"request refused", func(w http.ResponseWriter, headers string) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(headers))
		}},
		{"per-event errors", func(w http.ResponseWriter, headers string) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprintf(w, `[{"status":400,"error":%q},{"status":500,"error":%q}]`, headers, headers)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := component.MustNewIDWithName("honeycombevents", "status-key")
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var b strings.Builder
				for k, v := range r.Header {
					fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(v, ","))
				}
				tc.write(w, b.String())
			}))
			defer srv.Close()
			cfg := createDefaultConfig().(*Config)
			cfg.ClientConfig.Endpoint = srv.URL
			cfg.ClientConfig.Headers.Set("X-Tenant", tenant)
			cfg.APIKey = testKey
			exp, err := newEventsExporter(cfg, settingsFor(id), signalTraces)
			require.NoError(t, err)
			require.NoError(t, exp.start(context.Background(), componenttest.NewNopHost()))
			defer func() { require.NoError(t, exp.shutdown(context.Background())) }()
			require.Error(t, exp.pushTraces(context.Background(), testTraces("svc", 2)))

			snap, ok := snapshotOf(t, id, 10)
			require.True(t, ok)
			require.NotEmpty(t, snap.HoneycombEvents.LastError)
			assert.Contains(t, snap.HoneycombEvents.LastError, "[redacted]", "the echoed headers are there, the secrets replaced")
			raw, err := json.Marshal(snap)
			require.NoError(t, err)
			for _, text := range []string{fmt.Sprintf("%+v %+v", snap, *snap.HoneycombEvents), string(raw)} {
				assert.NotContains(t, text, testKey)
				assert.NotContains(t, text, tenant)
			}
		})
	}
}

func TestStatusRefusalPairsAreBounded(t *testing.T) {
	s := newExporterStatus(component.MustNewID("honeycombevents"), createDefaultConfig().(*Config))
	for i := range maxRefusalPairs + 6 {
		s.record(&sender.Result{Events: 1, Refused: []sender.Outcome{{Dataset: fmt.Sprintf("ds-%04d", i), Reason: "event_too_large", Events: 1}}})
	}
	// A pair already known keeps counting under its own dataset.
	s.record(&sender.Result{Events: 2, Refused: []sender.Outcome{{Dataset: "ds-0000", Reason: "event_too_large", Events: 2}}})

	snap := s.StatusSnapshot(3)
	assert.Equal(t, []statusregistry.DatasetRefusal{
		{Dataset: otherDatasets, Reason: "event_too_large", N: 6},
		{Dataset: "ds-0000", Reason: "event_too_large", N: 3},
		{Dataset: "ds-0001", Reason: "event_too_large", N: 1},
	}, snap.HoneycombEvents.Refused)
	assert.Equal(t, maxRefusalPairs+1-3, snap.HoneycombEvents.RefusedOmitted, "the bound's pairs and the overflow pair, less the 3 shown")
	assert.Equal(t, []statusregistry.Count{{What: "event_too_large", N: maxRefusalPairs + 6 + 2}}, snap.Refused)
	assert.Equal(t, int64(maxRefusalPairs+6+2), snap.ItemsIn)
}
