// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package pprofscrape

import (
	"context"
	"crypto/sha256"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pprofile"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadatatest"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/pproftest"
)

var linkSink [32]byte

// hashInSpan burns CPU under the pprof labels an instrumented Go service sets inside an
// OTel span: trace_id and span_id as the OTel API prints them (otel-profiling-go sets
// span_id; pprof.Do with both is what the demo service does).
//
//go:noinline
func hashInSpan(ctx context.Context, stop *atomic.Bool) {
	sc := trace.SpanContextFromContext(ctx)
	pprof.Do(ctx, pprof.Labels("trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String()), func(context.Context) {
		for !stop.Load() {
			linkSink = sha256.Sum256(linkSink[:])
		}
	})
}

// TestCPUSamplesOfASpanLinkToIt: this test process runs CPU work inside a span of the
// OTel SDK while the receiver scrapes its CPU profile through net/http/pprof; the samples
// of that work point at a link whose trace and span id are the span's, and the stacks of
// the linked samples are the work's.
func TestCPUSamplesOfASpanLinkToIt(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	ctx, span := tp.Tracer("shop").Start(context.Background(), "order 1234")
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		hashInSpan(ctx, &stop)
	}()
	defer func() {
		stop.Store(true)
		<-done
		span.End()
	}()

	srv := pproftest.NewServer(t)
	cfg := testConfig(TargetConfig{Endpoint: srv.URL, Profiles: []string{"cpu"}})
	tt := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tt.Shutdown(context.Background())) }()
	r := start(t, cfg, metadatatest.NewSettings(tt), true, false)
	require.Eventually(t, func() bool { return len(r.profiles.AllProfiles()) >= 1 }, 30*time.Second, 50*time.Millisecond)
	r.stop()

	want := span.SpanContext()
	pd := r.profiles.AllProfiles()[0]
	dict := pd.Dictionary()
	linked, linkedWork, unlinked, workSamples := 0, 0, 0, 0
	for _, pr := range pd.ResourceProfiles().At(0).ScopeProfiles().At(0).Profiles().All() {
		for _, s := range pr.Samples().All() {
			inWork := stackHas(dict, s, "github.com/prodscope/prodscope/receiver/pprofscrape.hashInSpan.func1")
			if inWork {
				workSamples++
			}
			if s.LinkIndex() == 0 {
				unlinked++
				assert.False(t, inWork, "a sample of the span's work without a link")
				continue
			}
			linked++
			if inWork {
				linkedWork++
			} else {
				// Under -race some of the work's samples land in the race runtime's C code,
				// whose stacks do not unwind to the work's Go frames; they still carry its
				// labels. Any other linked sample would be a wrong link.
				assert.True(t, onlyRaceRuntime(dict, s), "a linked sample outside the span's work")
			}
			l := dict.LinkTable().At(int(s.LinkIndex()))
			assert.Equal(t, want.TraceID(), trace.TraceID(l.TraceID()))
			assert.Equal(t, want.SpanID(), trace.SpanID(l.SpanID()))
		}
	}
	t.Logf("linked %d (%d with the work's frames), unlinked %d, samples of the work %d", linked, linkedWork, unlinked, workSamples)
	assert.Positive(t, linkedWork, "the span's CPU samples point at its link")
	assert.Equal(t, 2, dict.LinkTable().Len(), "the zero entry and the span's link")
}

// onlyRaceRuntime reports whether every frame of s is the race detector's runtime
// (ThreadSanitizer's C code and the Go runtime's calls into it).
func onlyRaceRuntime(dict pprofile.ProfilesDictionary, s pprofile.Sample) bool {
	frames := 0
	for _, li := range dict.StackTable().At(int(s.StackIndex())).LocationIndices().All() {
		for _, ln := range dict.LocationTable().At(int(li)).Lines().All() {
			name := dict.StringTable().At(int(dict.FunctionTable().At(int(ln.FunctionIndex())).NameStrindex()))
			if !strings.Contains(name, "__tsan") && !strings.HasPrefix(name, "racecall") &&
				!strings.HasPrefix(name, "runtime.race") && name != "runtime._System" {
				return false
			}
			frames++
		}
	}
	return frames > 0
}

func stackHas(dict pprofile.ProfilesDictionary, s pprofile.Sample, fn string) bool {
	for _, li := range dict.StackTable().At(int(s.StackIndex())).LocationIndices().All() {
		for _, ln := range dict.LocationTable().At(int(li)).Lines().All() {
			if dict.StringTable().At(int(dict.FunctionTable().At(int(ln.FunctionIndex())).NameStrindex())) == fn {
				return true
			}
		}
	}
	return false
}
