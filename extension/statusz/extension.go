// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package statusz // import "github.com/prodscope/prodscope/extension/statusz"

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensioncapabilities"
	"go.uber.org/zap"

	"github.com/prodscope/prodscope/extension/statusz/internal/pages"
	"github.com/prodscope/prodscope/internal/statusregistry"
)

// statuszExtension is the thin shell: it serves the pages on the configured
// HTTP server and learns each component's pipelines from the collector's
// component status events (extensioncapabilities.ComponentStatusWatcher).
type statuszExtension struct {
	cfg       *Config
	set       extension.Settings
	pipelines *pages.PipelineIndex
	handler   http.Handler

	server *http.Server
	done   chan struct{}
	mu     sync.Mutex // guards server and done against a Shutdown racing Start
}

var (
	_ extension.Extension                          = (*statuszExtension)(nil)
	_ extensioncapabilities.ComponentStatusWatcher = (*statuszExtension)(nil)
)

func newExtension(cfg *Config, set extension.Settings, reg *statusregistry.Registry) *statuszExtension {
	idx := pages.NewPipelineIndex(statusregistry.MaxInstances)
	return &statuszExtension{
		cfg:       cfg,
		set:       set,
		pipelines: idx,
		handler: pages.NewHandler(pages.Options{
			Snapshots: reg.Snapshots,
			Pipelines: idx,
			Refresh:   cfg.Refresh,
			MaxItems:  cfg.MaxItems,
		}),
	}
}

func (e *statuszExtension) Start(ctx context.Context, host component.Host) error {
	ln, err := e.cfg.ServerConfig.ToListener(ctx)
	if err != nil {
		return err
	}
	srv, err := e.cfg.ServerConfig.ToServer(ctx, host.GetExtensions(), e.set.TelemetrySettings, e.handler)
	if err != nil {
		_ = ln.Close()
		return err
	}
	e.mu.Lock()
	e.server, e.done = srv, make(chan struct{})
	done := e.done
	e.mu.Unlock()

	e.set.Logger.Info("statusz page", zap.String("url", "http://"+ln.Addr().String()+"/statusz"))
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	return nil
}

func (e *statuszExtension) Shutdown(context.Context) error {
	e.mu.Lock()
	srv, done := e.server, e.done
	e.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Close()
	<-done
	return err
}

// Changed records which pipelines each component instance runs in (the
// collector's service calls it for every component status event).
func (e *statuszExtension) Changed(source *componentstatus.InstanceID, _ *componentstatus.Event) {
	e.pipelines.Add(source)
}
