// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package queuegauge reads the size and capacity of exporterhelper's sending
// queue for the status page. exporterhelper has no Go accessor for them: it
// reports them only as the observable gauges otelcol_exporter_queue_size and
// otelcol_exporter_queue_capacity, registered on the MeterProvider of the
// settings it is given. A Probe wraps that MeterProvider: whatever
// exporterhelper registers still reaches the real provider unchanged, and
// the probe keeps the callbacks of those two gauges so that Read can run
// them on request (they read the queue's own counters). With no queue
// configured nothing registers, and Read says so.
package queuegauge // import "github.com/prodscope/prodscope/exporter/honeycombevents/internal/queuegauge"

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/embedded"
)

// The gauges exporterhelper reports its queue with (its documentation.md).
const (
	SizeMetric     = "otelcol_exporter_queue_size"
	CapacityMetric = "otelcol_exporter_queue_capacity"
)

// Probe sees the queue gauges' callbacks registered through the
// MeterProviders it wraps. Safe for concurrent use.
type Probe struct {
	mu        sync.Mutex
	next      int
	callbacks map[int]metric.Callback
}

// New returns a probe that has seen no registration yet.
func New() *Probe { return &Probe{callbacks: map[int]metric.Callback{}} }

// Wrap returns mp with the probe watching the queue gauges registered
// through it.
func (p *Probe) Wrap(mp metric.MeterProvider) metric.MeterProvider {
	return meterProvider{MeterProvider: mp, p: p}
}

// Read runs the queue gauges' callbacks and returns what they report (the
// sum, should several be registered). ok is false when none is registered:
// no queue, or its exporter has shut down.
func (p *Probe) Read(ctx context.Context) (size, capacity int64, ok bool) {
	p.mu.Lock()
	cbs := make([]metric.Callback, 0, len(p.callbacks))
	for _, cb := range p.callbacks {
		cbs = append(cbs, cb)
	}
	p.mu.Unlock()
	if len(cbs) == 0 {
		return 0, 0, false
	}
	var obs reader
	for _, cb := range cbs {
		_ = cb(ctx, &obs)
	}
	return obs.size, obs.capacity, true
}

func (p *Probe) add(cb metric.Callback) (remove func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	id := p.next
	p.callbacks[id] = cb
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		delete(p.callbacks, id)
	}
}

type meterProvider struct {
	metric.MeterProvider
	p *Probe
}

func (m meterProvider) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return &meter{Meter: m.MeterProvider.Meter(name, opts...), p: m.p}
}

type meter struct {
	metric.Meter
	p *Probe
}

// gaugeKind tells the two queue gauges apart.
type gaugeKind int

const (
	kindSize gaugeKind = iota
	kindCapacity
)

// queueGauge is what exporterhelper gets for one of the queue gauges
// instead of the real instrument: instruments of the no-op provider all
// compare equal, so the probe needs its own to know which gauge a callback
// observes. It is unwrapped before anything reaches the real provider.
type queueGauge struct {
	metric.Int64ObservableGauge
	kind gaugeKind
}

func (m *meter) Int64ObservableGauge(name string, opts ...metric.Int64ObservableGaugeOption) (metric.Int64ObservableGauge, error) {
	g, err := m.Meter.Int64ObservableGauge(name, opts...)
	if err != nil {
		return g, err
	}
	switch name {
	case SizeMetric:
		return &queueGauge{Int64ObservableGauge: g, kind: kindSize}, nil
	case CapacityMetric:
		return &queueGauge{Int64ObservableGauge: g, kind: kindCapacity}, nil
	}
	return g, nil
}

func (m *meter) RegisterCallback(f metric.Callback, instruments ...metric.Observable) (metric.Registration, error) {
	unwrapped := make([]metric.Observable, len(instruments))
	ours := false
	for i, inst := range instruments {
		if g, ok := inst.(*queueGauge); ok {
			unwrapped[i], ours = g.Int64ObservableGauge, true
			continue
		}
		unwrapped[i] = inst
	}
	if !ours {
		return m.Meter.RegisterCallback(f, instruments...)
	}
	reg, err := m.Meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		return f(ctx, unwrapping{Observer: o})
	}, unwrapped...)
	if err != nil {
		return nil, err
	}
	return &registration{Registration: reg, remove: m.p.add(f)}, nil
}

// unwrapping hands the real provider its own instruments.
type unwrapping struct {
	metric.Observer
}

func (u unwrapping) ObserveInt64(inst metric.Int64Observable, v int64, opts ...metric.ObserveOption) {
	if g, ok := inst.(*queueGauge); ok {
		inst = g.Int64ObservableGauge
	}
	u.Observer.ObserveInt64(inst, v, opts...)
}

type registration struct {
	metric.Registration
	remove func()
}

func (r *registration) Unregister() error {
	r.remove()
	return r.Registration.Unregister()
}

// reader is the observer Read runs the callbacks with.
type reader struct {
	embedded.Observer
	size, capacity int64
}

func (*reader) ObserveFloat64(metric.Float64Observable, float64, ...metric.ObserveOption) {}

func (r *reader) ObserveInt64(inst metric.Int64Observable, v int64, _ ...metric.ObserveOption) {
	g, ok := inst.(*queueGauge)
	if !ok {
		return
	}
	switch g.kind {
	case kindSize:
		r.size += v
	case kindCapacity:
		r.capacity += v
	}
}
