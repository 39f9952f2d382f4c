// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package honeycombevents

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/hcsink"
)

// memStorage is an in-memory storage extension standing in for file_storage:
// it outlives the exporters that use it, as a file on disk would.
type memStorage struct {
	mu   sync.Mutex
	data map[string][]byte
}

func (*memStorage) Start(context.Context, component.Host) error { return nil }
func (*memStorage) Shutdown(context.Context) error              { return nil }
func (m *memStorage) GetClient(context.Context, component.Kind, component.ID, string) (storage.Client, error) {
	return m, nil
}

func (m *memStorage) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.data[key]...), nil
}

func (m *memStorage) Set(_ context.Context, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[key] = append([]byte(nil), value...)
	return nil
}

func (m *memStorage) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, key)
	return nil
}

func (m *memStorage) Batch(ctx context.Context, ops ...*storage.Operation) error {
	for _, op := range ops {
		switch op.Type {
		case storage.Get:
			op.Value, _ = m.Get(ctx, op.Key)
			if len(op.Value) == 0 {
				op.Value = nil
			}
		case storage.Set:
			_ = m.Set(ctx, op.Key, op.Value)
		case storage.Delete:
			_ = m.Delete(ctx, op.Key)
		}
	}
	return nil
}

func (*memStorage) Close(context.Context) error { return nil }

type storageHost struct {
	exts map[component.ID]component.Component
}

func (h storageHost) GetExtensions() map[component.ID]component.Component { return h.exts }

// TestPersistentQueueSurvivesRestart: spans queued while the endpoint is
// down stay in the storage across a restart and are delivered by the next
// exporter instance.
func TestPersistentQueueSurvivesRestart(t *testing.T) {
	storeID := component.MustNewIDWithName("file_storage", "honeycomb")
	host := storageHost{exts: map[component.ID]component.Component{storeID: &memStorage{data: map[string][]byte{}}}}
	sink := hcsink.New(testKey)
	defer sink.Close()
	srv := httptest.NewServer(sink)
	defer srv.Close()

	newExporter := func(endpoint string) exporter.Traces {
		f := NewFactory()
		cfg := f.CreateDefaultConfig().(*Config)
		cfg.ClientConfig.Endpoint = endpoint
		cfg.APIKey = testKey
		q := cfg.QueueConfig.Get()
		q.StorageID = &storeID
		cfg.RetryConfig.InitialInterval = 10 * time.Millisecond
		exp, err := f.CreateTraces(context.Background(), exportertestSettings(), cfg)
		require.NoError(t, err)
		require.NoError(t, exp.Start(context.Background(), host))
		return exp
	}

	// First instance: the endpoint refuses connections.
	down := newExporter("http://" + freeLoopbackAddr(t))
	require.NoError(t, down.ConsumeTraces(context.Background(), testTraces("svc", 3)))
	require.NoError(t, down.Shutdown(context.Background()))
	require.Empty(t, sink.Events())

	// Second instance, same storage, endpoint up: the queued spans arrive.
	up := newExporter(srv.URL)
	defer func() { require.NoError(t, up.Shutdown(context.Background())) }()
	require.Eventually(t, func() bool { return len(sink.Events()) == 3 }, 10*time.Second, 10*time.Millisecond)
	require.ElementsMatch(t, []string{"span-0", "span-1", "span-2"}, namesOf(sink.Events()))
}
