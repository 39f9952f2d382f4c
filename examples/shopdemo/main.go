// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Command shopdemo is the order service of the "debugging in production" story:
// an HTTP service whose handlers create orders for users, instrumented the way
// the story recommends (traces, structured logs, metrics, pprof) and with the
// mistakes it warns about left in on purpose (a user_id label on a counter, log
// lines written without the request context), so that prodscope has something
// real to fix. It has a built-in load generator and stops by itself after
// -duration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// maxRate bounds -rate: the ticker needs a period of at least a microsecond.
const maxRate = 100000

type options struct {
	listen    string
	pprof     string
	collector string
	rate      float64
	users     int
	duration  time.Duration
	load      bool
	interval  time.Duration
	verbose   bool
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("shopdemo", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address of the order service (loopback by default)")
	fs.StringVar(&o.pprof, "pprof", "127.0.0.1:6060", "address of the net/http/pprof server (empty: off)")
	fs.StringVar(&o.collector, "collector", "127.0.0.1:4317", "OTLP/gRPC endpoint of the collector")
	fs.Float64Var(&o.rate, "rate", 20, "requests per second of the built-in load generator")
	fs.IntVar(&o.users, "users", 500, "distinct user ids the load generator uses (user 1234 always among them)")
	fs.DurationVar(&o.duration, "duration", 0, "stop by itself after this long (0: run until interrupted)")
	fs.BoolVar(&o.load, "load", true, "run the built-in load generator")
	fs.DurationVar(&o.interval, "metric-interval", 5*time.Second, "metrics export interval")
	fs.BoolVar(&o.verbose, "v", false, "also print the service's JSON logs on stderr")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var errs []error
	if o.rate <= 0 || o.rate > maxRate {
		errs = append(errs, fmt.Errorf("-rate must be > 0 and <= %d", maxRate))
	}
	if o.users < 1 {
		errs = append(errs, errors.New("-users must be >= 1"))
	}
	if o.duration < 0 {
		errs = append(errs, errors.New("-duration must be >= 0"))
	}
	if o.interval <= 0 {
		errs = append(errs, errors.New("-metric-interval must be > 0"))
	}
	return o, errors.Join(errs...)
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "shopdemo:", err)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "shopdemo:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}

	tel, err := setupTelemetry(ctx, o.collector, o.interval, o.verbose)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if serr := tel.shutdown(sctx); serr != nil {
			fmt.Fprintln(os.Stderr, "shopdemo: telemetry shutdown:", serr)
		}
	}()

	shop, err := newShop(tel)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: shop.handler(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()

	var psrv *http.Server
	if o.pprof != "" {
		pln, lerr := net.Listen("tcp", o.pprof)
		if lerr != nil {
			_ = srv.Close()
			return lerr
		}
		psrv = &http.Server{Handler: pprofHandler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { errc <- psrv.Serve(pln) }()
	}
	fmt.Fprintf(os.Stderr, "shopdemo: orders on http://%s, pprof on %s, telemetry to %s\n", ln.Addr(), o.pprof, o.collector)

	var lg *loadGen
	loadDone := make(chan struct{})
	if o.load {
		lg = newLoadGen("http://"+ln.Addr().String(), o.rate, o.users, tel)
		go func() { lg.run(ctx); close(loadDone) }()
	} else {
		close(loadDone)
	}

	select {
	case <-ctx.Done():
	case serr := <-errc:
		if !errors.Is(serr, http.ErrServerClosed) {
			return serr
		}
	}
	stop() // also when the server failed: end the load generator
	<-loadDone
	if lg != nil && lg.skipped.Load() > 0 {
		fmt.Fprintf(os.Stderr, "shopdemo: %d requests skipped: %d already in flight\n", lg.skipped.Load(), maxInFlight)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if psrv != nil {
		err = errors.Join(err, psrv.Shutdown(sctx))
	}
	slog.Default().Info("shopdemo stopped")
	return err
}

// pprofHandler serves net/http/pprof's endpoints, and nothing else, for the
// -pprof listener (the named profiles, heap, allocs, goroutine..., go through
// Index).
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
