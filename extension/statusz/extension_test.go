// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package statusz

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pipeline"

	"github.com/prodscope/prodscope/internal/statusregistry"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, http.NoBody)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// The extension serves what the registered components publish, with the
// pipelines the collector reported for them, and stops promptly.
func TestExtensionServesRegisteredComponents(t *testing.T) {
	reg := statusregistry.New()
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = freeAddr(t)
	ext := newExtension(cfg, extensiontest.NewNopSettings(typ), reg)

	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	id := component.MustNewID("cardinalityguard")
	unregister := reg.Register(id, component.KindProcessor, statusregistry.SourceFunc(func(int) statusregistry.Snapshot {
		return statusregistry.Snapshot{ItemsIn: 3, ItemsOut: 2, Unit: "points"}
	}))
	ext.Changed(componentstatus.NewInstanceID(id, component.KindProcessor, pipeline.NewIDWithName(pipeline.SignalMetrics, "app")), componentstatus.NewEvent(componentstatus.StatusOK))

	base := "http://" + cfg.ServerConfig.NetAddr.Endpoint
	code, body := fetch(t, base+"/statusz/api/components")
	require.Equal(t, http.StatusOK, code, body)
	var resp struct {
		Components []statusregistry.Snapshot `json:"components"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &resp))
	require.Len(t, resp.Components, 1)
	assert.Equal(t, "cardinalityguard", resp.Components[0].ID)
	assert.Equal(t, []string{"metrics/app"}, resp.Components[0].Pipelines)
	assert.Equal(t, int64(3), resp.Components[0].ItemsIn)

	code, body = fetch(t, base+"/statusz")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "pipelines: metrics/app")

	unregister()
	_, body = fetch(t, base+"/statusz/api/components")
	assert.Contains(t, body, `"components": []`, "a component that shut down leaves the page")

	start := time.Now()
	require.NoError(t, ext.Shutdown(context.Background()))
	assert.Less(t, time.Since(start), 2*time.Second)
	_, err := http.Get(base + "/statusz") //nolint:noctx,bodyclose // expected to fail
	assert.Error(t, err, "nothing listens after Shutdown")
}

func TestExtensionStartFailsOnBusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = l.Addr().String()
	ext := newExtension(cfg, extensiontest.NewNopSettings(typ), statusregistry.New())
	require.Error(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	assert.NoError(t, ext.Shutdown(context.Background()))
}

func TestShutdownWithoutStart(t *testing.T) {
	ext := newExtension(createDefaultConfig().(*Config), extensiontest.NewNopSettings(typ), statusregistry.New())
	assert.NoError(t, ext.Shutdown(context.Background()))
}
