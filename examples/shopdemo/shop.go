// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// errCreateOrder is the story's failure: user 1234 can never create an order.
var errCreateOrder = errors.New("can not create order")

// errOutOfStock fails a small share of everyone's orders, so operation_error
// sees many user ids: the high-cardinality label the story warns about.
var errOutOfStock = errors.New("item out of stock")

// outOfStockRate is the share of orders that fail with errOutOfStock.
const outOfStockRate = 0.1

// failingUser is the user whose orders always fail.
const failingUser = 1234

// requestIDHeader carries the request id from the client to the server, which
// records it on the server span as http.request.header.x-request-id.
const requestIDHeader = "X-Request-Id"

type order struct {
	ID     int64  `json:"id"`
	UserID int    `json:"user_id"`
	Item   string `json:"item"`
	Hash   string `json:"hash"`
}

type shop struct {
	tel        *telemetry
	outOfStock func() bool
	tracer     trace.Tracer
	opError    metric.Int64Counter
	orders     metric.Int64Counter
	latency    metric.Float64Histogram
	nextID     atomic.Int64

	mu     sync.Mutex
	recent []order // the last orders, bounded: a demo, not a database
}

const maxRecentOrders = 1000

func newShop(tel *telemetry) (*shop, error) {
	m := tel.meterProvider.Meter(serviceName)
	// The story's mistake, kept on purpose: user_id as a metric label makes one
	// series per user. cardinalityguard bounds it in the collector.
	opError, err := m.Int64Counter("operation_error", metric.WithDescription("Failed operations, by user (high cardinality on purpose)."))
	if err != nil {
		return nil, err
	}
	orders, err := m.Int64Counter("orders_created", metric.WithDescription("Orders created."))
	if err != nil {
		return nil, err
	}
	latency, err := m.Float64Histogram("order_duration", metric.WithUnit("s"), metric.WithDescription("Time to create an order."))
	if err != nil {
		return nil, err
	}
	return &shop{tel: tel, outOfStock: func() bool { return rand.Float64() < outOfStockRate }, tracer: tel.tracerProvider.Tracer(serviceName), opError: opError, orders: orders, latency: latency}, nil
}

func (s *shop) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", s.createOrder)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return otelhttp.NewHandler(mux, "shop", otelhttp.WithTracerProvider(s.tel.tracerProvider),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
}

func (s *shop) createOrder(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx := r.Context()
	reqID := r.Header.Get(requestIDHeader)
	if reqID == "" {
		reqID = fmt.Sprintf("req-%016x", rand.Uint64())
	}
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.StringSlice("http.request.header.x-request-id", []string{reqID}))

	userID, err := strconv.Atoi(r.URL.Query().Get("user_id"))
	if err != nil || userID < 0 {
		http.Error(w, "user_id must be a non-negative integer", http.StatusBadRequest)
		return
	}
	item := r.URL.Query().Get("item")
	span.SetAttributes(attribute.Int("app.user_id", userID))

	// Written with the request context: the otelslog bridge puts the trace
	// and span ids on the record.
	s.tel.logger.InfoContext(ctx, "creating order", "request_id", reqID, "user_id", userID, "item", item)
	// Written without it (a helper that never got the context): no trace ids,
	// only the request id. logtracejoin joins it to the server span.
	s.tel.logger.Info("checking stock", "request_id", reqID, "user_id", userID, "item", item)

	// The order is handled under pprof labels naming the server span (the span the
	// log lines above carry): the CPU samples the collector scrapes while it runs link
	// to this span (pprofscrape's trace links).
	var o order
	sc := span.SpanContext()
	pprof.Do(ctx, pprof.Labels("trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String()), func(ctx context.Context) {
		o, err = s.store(ctx, userID, item)
	})
	dur := time.Since(start).Seconds()
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		s.opError.Add(ctx, 1, metric.WithAttributes(
			attribute.String("operation", "create_order"),
			attribute.String("user_id", strconv.Itoa(userID))))
		s.latency.Record(ctx, dur, metric.WithAttributes(attribute.String("outcome", "error")))
		s.tel.logger.ErrorContext(ctx, "create order failed", "request_id", reqID, "user_id", userID, "error", err.Error())
		// The same failure as a log shipper forwards it from a file.
		s.tel.shipper.ship(ctx, slog.LevelError, "order rejected", "request_id", reqID, "user_id", userID, "error", err.Error())
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.orders.Add(ctx, 1)
	s.latency.Record(ctx, dur, metric.WithAttributes(attribute.String("outcome", "ok")))
	s.tel.shipper.ship(ctx, slog.LevelInfo, "order stored", "request_id", reqID, "user_id", userID, "order_id", o.ID)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(o)
}

// store "writes" the order: it burns a little CPU and allocates, so the
// profiles the collector scrapes show something.
func (s *shop) store(ctx context.Context, userID int, item string) (order, error) {
	_, span := s.tracer.Start(ctx, "db.insert_order", trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	buf := make([]byte, 4096)
	h := sha256.New()
	for i := 0; i < 50; i++ {
		buf[i%len(buf)] = byte((userID + i) & 0xff)
		h.Write(buf)
	}
	if userID == failingUser {
		span.SetStatus(codes.Error, errCreateOrder.Error())
		return order{}, errCreateOrder
	}
	if s.outOfStock() {
		span.SetStatus(codes.Error, errOutOfStock.Error())
		return order{}, errOutOfStock
	}
	o := order{ID: s.nextID.Add(1), UserID: userID, Item: item, Hash: hex.EncodeToString(h.Sum(nil))[:16]}
	s.mu.Lock()
	if len(s.recent) >= maxRecentOrders {
		s.recent = s.recent[1:]
	}
	s.recent = append(s.recent, o)
	s.mu.Unlock()
	return o, nil
}
