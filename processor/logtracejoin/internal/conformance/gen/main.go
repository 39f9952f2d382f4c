// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Command gen writes the Go part of the logtracejoin conformance corpus: it
// runs real logging libraries inside real OpenTelemetry SDK spans and writes
// every line they print together with the ids of the span it was written in
// (taken from the span, not from the line). Run it from this directory:
//
//	GOWORK=off go run . > ../../../testdata/conformance/go_libraries.jsonl
//
// The Datadog lines come from the real dd-trace-go v2 tracer, started with
// its agent address on a closed local port: it needs no network, its spans
// are created and logged normally, and what it fails to send is dropped.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"

	ddslog "github.com/DataDog/dd-trace-go/contrib/log/slog/v2"
	"github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"
	"github.com/rs/zerolog"
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutlog"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// entry is one corpus line: the line as the library printed it and the
// context of the span it was printed in.
type entry struct {
	Source  string `json:"source"`
	Line    string `json:"line"`
	TraceID string `json:"trace_id"`
	SpanID  string `json:"span_id"`
	// Flags is the span's trace flags when the line carries them, else "".
	Flags string `json:"flags,omitempty"`
}

var out = json.NewEncoder(os.Stdout)

func emit(source string, sc trace.SpanContext, withFlags bool, buf *bytes.Buffer) {
	for _, line := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		e := entry{Source: source, Line: line, TraceID: sc.TraceID().String(), SpanID: sc.SpanID().String()}
		if withFlags {
			e.Flags = sc.TraceFlags().String()
		}
		if err := out.Encode(e); err != nil {
			panic(err)
		}
	}
	buf.Reset()
}

func main() {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tp.Tracer("conformance")
	var buf bytes.Buffer

	// each case runs in a span of its own: every line has ids of its own
	run := func(name string, f func(ctx context.Context, sc trace.SpanContext)) {
		ctx, span := tracer.Start(context.Background(), name)
		f(ctx, span.SpanContext())
		span.End()
	}
	noTime := func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.String(slog.TimeKey, "2026-01-02T03:04:05.006Z")
		}
		return a
	}

	run("slog-json", func(ctx context.Context, sc trace.SpanContext) {
		l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: noTime}))
		l.InfoContext(ctx, "order placed", "trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String(), "order", 42)
		emit("go log/slog JSONHandler, trace_id/span_id attributes", sc, false, &buf)
	})
	run("slog-json-group", func(ctx context.Context, sc trace.SpanContext) {
		l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: noTime}))
		l.WithGroup("otel").InfoContext(ctx, "order placed", "trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String())
		emit("go log/slog JSONHandler, WithGroup(\"otel\")", sc, false, &buf)
	})
	run("slog-json-decoy", func(ctx context.Context, sc trace.SpanContext) {
		l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: noTime}))
		l.ErrorContext(ctx, "no trace_id: upstream failed", "upstream_body", `{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331"}`,
			"trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String())
		emit("go log/slog JSONHandler, upstream JSON error body in an attribute before the ids", sc, false, &buf)
	})
	run("slog-text", func(ctx context.Context, sc trace.SpanContext) {
		l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: noTime}))
		l.InfoContext(ctx, "header trace_id=unknown", "trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String())
		emit("go log/slog TextHandler, key=value in the message", sc, false, &buf)
	})
	run("slog-text-decoy", func(ctx context.Context, sc trace.SpanContext) {
		l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: noTime}))
		l.ErrorContext(ctx, "upstream failed", "upstream_body", `{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331"}`,
			"trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String())
		emit("go log/slog TextHandler, upstream JSON error body in an attribute before the ids", sc, false, &buf)
	})
	run("slog-text-group", func(ctx context.Context, sc trace.SpanContext) {
		l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: noTime}))
		l.InfoContext(ctx, "order placed", slog.Group("otel", "trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String()))
		emit("go log/slog TextHandler, slog.Group(\"otel\") (keys otel.trace_id)", sc, false, &buf)
	})

	zapCfg := zapcore.EncoderConfig{
		LevelKey: "level", MessageKey: "msg", NameKey: "logger",
		EncodeLevel: zapcore.LowercaseLevelEncoder, EncodeDuration: zapcore.StringDurationEncoder,
	}
	newZap := func(enc zapcore.Encoder) *zap.Logger {
		return zap.New(zapcore.NewCore(enc, zapcore.AddSync(&buf), zapcore.DebugLevel))
	}
	run("zap-json", func(_ context.Context, sc trace.SpanContext) {
		newZap(zapcore.NewJSONEncoder(zapCfg)).Info("order placed", zap.String("trace_id", sc.TraceID().String()), zap.String("span_id", sc.SpanID().String()))
		emit("go.uber.org/zap JSON encoder", sc, false, &buf)
	})
	run("zap-json-namespace", func(_ context.Context, sc trace.SpanContext) {
		newZap(zapcore.NewJSONEncoder(zapCfg)).Info("order placed", zap.Namespace("trace"), zap.String("trace_id", sc.TraceID().String()), zap.String("span_id", sc.SpanID().String()))
		emit("go.uber.org/zap JSON encoder, zap.Namespace(\"trace\")", sc, false, &buf)
	})
	run("zap-console", func(_ context.Context, sc trace.SpanContext) {
		newZap(zapcore.NewConsoleEncoder(zapCfg)).Info("order placed", zap.String("trace_id", sc.TraceID().String()), zap.String("span_id", sc.SpanID().String()))
		emit("go.uber.org/zap console encoder", sc, false, &buf)
	})
	run("zap-console-decoy", func(_ context.Context, sc trace.SpanContext) {
		newZap(zapcore.NewConsoleEncoder(zapCfg)).Warn("no trace_id: falling back", zap.String("trace_id", sc.TraceID().String()), zap.String("span_id", sc.SpanID().String()))
		emit("go.uber.org/zap console encoder, key mention in the message", sc, false, &buf)
	})

	run("zerolog", func(_ context.Context, sc trace.SpanContext) {
		l := zerolog.New(&buf)
		l.Info().Str("trace_id", sc.TraceID().String()).Str("span_id", sc.SpanID().String()).Msg("order placed")
		emit("github.com/rs/zerolog", sc, false, &buf)
	})
	run("zerolog-dict", func(_ context.Context, sc trace.SpanContext) {
		l := zerolog.New(&buf)
		l.Info().Str("msg_detail", "no trace_id: here").Dict("otel", zerolog.Dict().Str("trace_id", sc.TraceID().String()).Str("span_id", sc.SpanID().String())).Msg("order placed")
		emit("github.com/rs/zerolog, Dict(\"otel\")", sc, false, &buf)
	})

	newLogrus := func(f logrus.Formatter) *logrus.Logger {
		l := logrus.New()
		l.SetOutput(&buf)
		l.SetFormatter(f)
		return l
	}
	run("logrus-json", func(_ context.Context, sc trace.SpanContext) {
		newLogrus(&logrus.JSONFormatter{DisableTimestamp: true}).WithFields(logrus.Fields{"trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String()}).Info("order placed")
		emit("github.com/sirupsen/logrus JSONFormatter", sc, false, &buf)
	})
	run("logrus-json-datakey", func(_ context.Context, sc trace.SpanContext) {
		newLogrus(&logrus.JSONFormatter{DisableTimestamp: true, DataKey: "fields"}).WithFields(logrus.Fields{"trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String()}).Info("order placed")
		emit("github.com/sirupsen/logrus JSONFormatter, DataKey \"fields\"", sc, false, &buf)
	})
	run("logrus-text", func(_ context.Context, sc trace.SpanContext) {
		newLogrus(&logrus.TextFormatter{DisableTimestamp: true, DisableColors: true}).WithFields(logrus.Fields{"trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String(), "error": `upstream said {"trace_id":"0af7651916cd43dd8448eb211c80319c"}`}).Error("upstream failed")
		emit("github.com/sirupsen/logrus TextFormatter, upstream JSON in an error field", sc, false, &buf)
	})

	run("otelslog-stdoutlog", func(ctx context.Context, sc trace.SpanContext) {
		exp, err := stdoutlog.New(stdoutlog.WithWriter(&buf), stdoutlog.WithoutTimestamps())
		if err != nil {
			panic(err)
		}
		lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
		otelslog.NewLogger("conformance", otelslog.WithLoggerProvider(lp)).InfoContext(ctx, "order placed", "order", 42)
		if err := lp.Shutdown(ctx); err != nil {
			panic(err)
		}
		emit("go.opentelemetry.io/contrib/bridges/otelslog + otel/exporters/stdout/stdoutlog (TraceID/SpanID/TraceFlags)", sc, true, &buf)
	})
	datadog(noTime, &buf)
	fmt.Fprint(os.Stderr, "ok\n")
}

// ddAgent is a local port nothing listens on: the tracer starts, and its
// attempts to reach an agent fail at once without leaving the machine.
const ddAgent = "127.0.0.1:9"

// emitDD writes the lines in buf with the ids of the Datadog span they were
// logged in: the 128-bit trace id and the 64-bit span id, in hex.
func emitDD(source string, span *tracer.Span, buf *bytes.Buffer) {
	tid := span.Context().TraceIDBytes()
	for _, line := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		e := entry{Source: source, Line: line, TraceID: fmt.Sprintf("%x", tid[:]), SpanID: fmt.Sprintf("%016x", span.Context().SpanID())}
		if err := out.Encode(e); err != nil {
			panic(err)
		}
	}
	buf.Reset()
}

// datadog runs dd-trace-go's own log injection: its log/slog integration
// (dd.trace_id as 32 hex digits, dd.span_id in decimal) and the documented
// manual injection, a span formatted with %v (dd.trace_id, dd.span_id and
// dd.parent_id, quoted). Child spans are used so dd.parent_id is a real,
// different id. The tracer is started twice: with 128-bit trace ids (the
// default) and with 64-bit ones, which %v logs in decimal.
func datadog(noTime func([]string, slog.Attr) slog.Attr, buf *bytes.Buffer) {
	start := func() {
		if err := tracer.Start(tracer.WithAgentAddr(ddAgent), tracer.WithService("shop"), tracer.WithEnv("test"),
			tracer.WithLogStartup(false), tracer.WithLogger(quiet{})); err != nil {
			panic(err)
		}
	}
	run := func(name string, f func(ctx context.Context, span *tracer.Span)) {
		parent, ctx := tracer.StartSpanFromContext(context.Background(), name+".parent")
		span, ctx := tracer.StartSpanFromContext(ctx, name)
		f(ctx, span)
		span.Finish()
		parent.Finish()
	}
	if err := os.Setenv("DD_INSTRUMENTATION_TELEMETRY_ENABLED", "false"); err != nil {
		panic(err)
	}
	start()
	run("dd-slog-json", func(ctx context.Context, span *tracer.Span) {
		l := slog.New(ddslog.NewJSONHandler(buf, &slog.HandlerOptions{ReplaceAttr: noTime}))
		l.InfoContext(ctx, "order placed", "order", 42)
		emitDD("dd-trace-go v2 contrib/log/slog NewJSONHandler (dd.trace_id 128-bit hex, dd.span_id decimal)", span, buf)
	})
	run("dd-slog-text", func(ctx context.Context, span *tracer.Span) {
		l := slog.New(ddslog.WrapHandler(slog.NewTextHandler(buf, &slog.HandlerOptions{ReplaceAttr: noTime})))
		l.WarnContext(ctx, "no dd.trace_id: retrying", "attempt", 2)
		emitDD("dd-trace-go v2 contrib/log/slog WrapHandler(TextHandler), key mention in the message", span, buf)
	})
	run("dd-span-format", func(ctx context.Context, span *tracer.Span) {
		s, _ := tracer.SpanFromContext(ctx)
		fmt.Fprintf(buf, "time=2026-01-02T03:04:05.006Z order placed %v\n", s)
		emitDD("dd-trace-go v2 manual injection, tracer.SpanFromContext span printed with %v (dd.parent_id after the ids)", span, buf)
	})
	tracer.Stop()

	if err := os.Setenv("DD_TRACE_128_BIT_TRACEID_GENERATION_ENABLED", "false"); err != nil {
		panic(err)
	}
	start()
	run("dd-span-format-64", func(ctx context.Context, span *tracer.Span) {
		s, _ := tracer.SpanFromContext(ctx)
		fmt.Fprintf(buf, "time=2026-01-02T03:04:05.006Z order placed %v\n", s)
		emitDD("dd-trace-go v2 manual injection with 64-bit trace ids (dd.trace_id decimal)", span, buf)
	})
	tracer.Stop()
}

// quiet drops the tracer's own log lines (agent unreachable, and so on).
type quiet struct{}

func (quiet) Log(string) {}
