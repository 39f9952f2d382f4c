// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Command hcsink is a loopback Honeycomb Events API test double for
// end-to-end fault tests and benchmarks. It prints "listening on ADDR" on
// stdout once it accepts connections, serves POST /1/batch/{dataset} and
// GET /stats (JSON counts by dataset), and exits on SIGINT/SIGTERM.
//
//	hcsink -listen 127.0.0.1:0 -api-key KEY -event-500-pct 5 -event-429-pct 5 \
//	       -request-statuses 503,503 -retry-after 1 -out events.jsonl
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/hcsink"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hcsink:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done; it writes "listening on ADDR" to stdout
// once the listener is up.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("hcsink", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "listen address; must be a loopback address")
	apiKey := fs.String("api-key", "", "the only X-Honeycomb-Team accepted (empty: any non-empty key)")
	e500 := fs.Float64("event-500-pct", 0, "percentage of events answered with a per-event 500")
	e429 := fs.Float64("event-429-pct", 0, "percentage of events answered with a per-event 429")
	e400 := fs.Float64("event-400-pct", 0, "percentage of events answered with a per-event 400")
	reqStatuses := fs.String("request-statuses", "", "comma-separated statuses answered to the first requests (e.g. 503,503)")
	retryAfter := fs.String("retry-after", "", "Retry-After value sent with injected 429/503")
	shortBy := fs.Int("short-by", 0, "drop this many statuses from the end of each response")
	seed := fs.Uint64("seed", 1, "seed of the failure draw")
	out := fs.String("out", "", "write accepted events as JSON lines to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-listen: %q is not a loopback address", host)
	}
	statuses, err := hcsink.ParseStatusList(*reqStatuses)
	if err != nil {
		return fmt.Errorf("-request-statuses: %w", err)
	}

	sink := hcsink.New(*apiKey)
	defer sink.Close()
	sink.Discard = *out == ""
	sink.SetFaults(hcsink.Faults{
		RequestStatuses: statuses, RetryAfter: *retryAfter,
		Event500Pct: *e500, Event429Pct: *e429, Event400Pct: *e400,
		ShortBy: *shortBy, Seed: *seed,
	})

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sink, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	_, _ = fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())

	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	// ctx may be done already: the shutdown gets its own deadline.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	if *out != "" {
		return writeEvents(*out, sink.Events())
	}
	st := sink.Stats()
	_, _ = fmt.Fprintf(stdout, "accepted %d failed %d requests %d\n", st.Accepted, st.Failed, st.Requests)
	return nil
}

func writeEvents(path string, evs []hcsink.Event) error {
	f, err := os.Create(filepath.Clean(path))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, ev := range evs {
		line := map[string]any{"dataset": ev.Dataset, "samplerate": ev.SampleRate, "data": ev.Data}
		if ev.HasTime {
			line["time"] = ev.Time.Format(time.RFC3339Nano)
		}
		if err := enc.Encode(line); err != nil {
			_ = f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
