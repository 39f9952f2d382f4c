// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

const serviceName = "shopdemo"

// telemetry holds the three OTel SDK providers of the service and the
// loggers built on them.
type telemetry struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	logger         *slog.Logger // slog through the otelslog bridge (+ stderr with -v)
	shipper        *lineShipper // JSON text lines as a log shipper would forward them
	shutdownFuncs  []func(context.Context) error
}

func (t *telemetry) shutdown(ctx context.Context) error {
	var err error
	for i := len(t.shutdownFuncs) - 1; i >= 0; i-- {
		err = errors.Join(err, t.shutdownFuncs[i](ctx))
	}
	return err
}

// setupTelemetry sends traces, metrics and logs over OTLP/gRPC (plaintext:
// the collector listens on loopback) to endpoint.
func setupTelemetry(ctx context.Context, endpoint string, interval time.Duration, verbose bool) (*telemetry, error) {
	res, err := resource.New(ctx, resource.WithAttributes(
		attribute.String("service.name", serviceName),
		attribute.String("service.version", "1.0.0"),
		attribute.String("deployment.environment.name", "local"),
	))
	if err != nil {
		return nil, err
	}
	te, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure())
	if err != nil {
		return nil, err
	}
	me, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(endpoint), otlpmetricgrpc.WithInsecure())
	if err != nil {
		return nil, err
	}
	le, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(endpoint), otlploggrpc.WithInsecure())
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(te, sdktrace.WithBatchTimeout(time.Second)))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(me, sdkmetric.WithInterval(interval))))
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res),
		sdklog.WithProcessor(sdklog.NewBatchProcessor(le, sdklog.WithExportInterval(time.Second))))
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return newTelemetry(tp, mp, lp, verbose, tp.Shutdown, mp.Shutdown, lp.Shutdown), nil
}

func newTelemetry(tp trace.TracerProvider, mp metric.MeterProvider, lp otellog.LoggerProvider, verbose bool, shutdown ...func(context.Context) error) *telemetry {
	var h slog.Handler = otelslog.NewHandler(serviceName, otelslog.WithLoggerProvider(lp))
	if verbose {
		h = fanout{h, slog.NewJSONHandler(os.Stderr, nil)}
	}
	logger := slog.New(h)
	slog.SetDefault(logger)
	return &telemetry{
		tracerProvider: tp,
		meterProvider:  mp,
		logger:         logger,
		shipper:        newLineShipper(lp.Logger(serviceName + "/shipper")),
		shutdownFuncs:  shutdown,
	}
}

// lineShipper renders a slog record as the JSON text line a file-tailing log
// shipper would read, and sends that line as the body of an OTLP log record
// with no trace context and no attributes: the shape most logs reach a
// collector in when they were never written with a context.
type lineShipper struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	h      slog.Handler
	logger otellog.Logger
}

func newLineShipper(l otellog.Logger) *lineShipper {
	s := &lineShipper{logger: l}
	s.h = slog.NewJSONHandler(&s.buf, nil)
	return s
}

// ship sends the line for the request ctx belongs to, the way a shipper
// would: the line is written without the request's span, so the record
// carries no trace context.
func (s *lineShipper) ship(ctx context.Context, level slog.Level, msg string, args ...any) {
	ctx = trace.ContextWithSpanContext(ctx, trace.SpanContext{})
	r := slog.NewRecord(time.Now(), level, msg, 0)
	r.Add(args...)
	s.mu.Lock()
	s.buf.Reset()
	_ = s.h.Handle(ctx, r)
	line := strings.TrimSuffix(s.buf.String(), "\n")
	s.mu.Unlock()

	var rec otellog.Record
	rec.SetTimestamp(r.Time)
	rec.SetObservedTimestamp(time.Now())
	rec.SetBody(attribute.StringValue(line))
	// A shipper that does not parse the line knows no severity.
	s.logger.Emit(ctx, rec)
}

// fanout sends every record to all handlers.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var err error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			err = errors.Join(err, h.Handle(ctx, r.Clone()))
		}
	}
	return err
}

func (f fanout) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}
