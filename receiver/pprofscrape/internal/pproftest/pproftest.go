// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package pproftest serves the test process's own net/http/pprof handlers (a real Go
// runtime's profiles) and hostile pprof endpoints on 127.0.0.1, and runs `go tool pprof`
// on raw profiles, for the tests of the receiver and its engine.
package pproftest // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/pproftest"

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	rpprof "runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Server is an httptest server on 127.0.0.1 with a real net/http/pprof tree at
// /debug/pprof/ and hostile trees under /<fault>/debug/pprof/.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	requests []string
	release  chan struct{}
	active   int
}

// Faults served by the hostile prefixes.
const (
	// PrefixBusy answers 500 "cpu profiling already in use" as net/http/pprof does.
	PrefixBusy = "/busy"
	// PrefixHang never answers until the client goes away or the test ends.
	PrefixHang = "/hang"
	// PrefixHuge streams 100 MB of bytes without Content-Length.
	PrefixHuge = "/huge"
	// PrefixBomb sends a small gzip body that inflates to 64 MiB.
	PrefixBomb = "/bomb"
	// PrefixGarbage sends random bytes.
	PrefixGarbage = "/garbage"
	// PrefixMissing answers 404.
	PrefixMissing = "/missing"
	// PrefixEmptyStrings sends ~280 KB of gzip that inflates to 60 MB of empty strings
	// (30,000,000 string table entries): a valid protobuf that is all allocation.
	PrefixEmptyStrings = "/emptystrings"
	// PrefixTenMillionStrings sends a profile of 10,000,000 empty strings.
	PrefixTenMillionStrings = "/strings10m"
	// PrefixMillionSamples sends a heap profile of 1,000,000 samples (8 MB inflated).
	PrefixMillionSamples = "/samples1m"
	// PrefixEndless streams bytes until the client goes away.
	PrefixEndless = "/endless"
	// PrefixHTML answers a 200 HTML page, as a web app's catch-all route does.
	PrefixHTML = "/html"
	// PrefixStall answers 200 with the first bytes of a body and then never finishes it.
	PrefixStall = "/stall"
)

// hostileBodies are built once per test binary: gzip streams of protobuf fields written
// directly (building them as *profile.Profile would cost the test process gigabytes).
var (
	hostileOnce   sync.Once
	hostileBodies map[string][]byte
)

func gzipRepeat(header, row []byte, n int) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	_, _ = zw.Write(header)
	rows := bytes.Repeat(row, 4096)
	for i := 0; i < n; i += 4096 {
		k := min(4096, n-i)
		_, _ = zw.Write(rows[:k*len(row)])
	}
	_ = zw.Close()
	return buf.Bytes()
}

// heapLikeBody is a gzip profile of n samples on one stack: sample_type {space, bytes},
// strings "", "space", "bytes", "f", function {id 1, name "f"}, location {id 1, line
// {function 1}}, then n times sample {location_id: [1], value: [1]}.
func heapLikeBody(n int) []byte {
	header := []byte{
		1<<3 | 2, 4, 1 << 3, 1, 2 << 3, 2, // sample_type
		6<<3 | 2, 0, 6<<3 | 2, 5, 's', 'p', 'a', 'c', 'e', 6<<3 | 2, 5, 'b', 'y', 't', 'e', 's',
		6<<3 | 2, 1, 'f',
		5<<3 | 2, 4, 1 << 3, 1, 2 << 3, 3, // function
		4<<3 | 2, 6, 1 << 3, 1, 4<<3 | 2, 2, 1 << 3, 1, // location
	}
	sample := []byte{2<<3 | 2, 6, 1<<3 | 2, 1, 1, 2<<3 | 2, 1, 1}
	return gzipRepeat(header, sample, n)
}

// HostileBody returns the gzip body served under prefix (PrefixEmptyStrings,
// PrefixTenMillionStrings, PrefixMillionSamples).
func HostileBody(prefix string) []byte {
	hostileOnce.Do(func() {
		emptyString := []byte{6<<3 | 2, 0} // string_table: ""
		hostileBodies = map[string][]byte{
			PrefixEmptyStrings:      gzipRepeat(nil, emptyString, 30_000_000),
			PrefixTenMillionStrings: gzipRepeat(nil, emptyString, 10_000_000),
			PrefixMillionSamples:    heapLikeBody(1_000_000),
		}
	})
	return hostileBodies[prefix]
}

// HugeBytes is what PrefixHuge sends.
const HugeBytes = 100 << 20

var (
	bombOnce sync.Once
	bomb     []byte
)

func gzipBomb() []byte {
	bombOnce.Do(func() {
		var buf bytes.Buffer
		// BestSpeed: zeros still shrink ~250x, and building the bomb stays fast under -race on a loaded machine.
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zeros := make([]byte, 1<<20)
		for range 64 {
			_, _ = zw.Write(zeros)
		}
		_ = zw.Close()
		bomb = buf.Bytes()
	})
	return bomb
}

// Loopback starts h on 127.0.0.1 (only: no fallback to another address) and
// closes it when the test ends. connState, if given, is the server's ConnState hook.
func Loopback(tb testing.TB, h http.Handler, connState ...func(net.Conn, http.ConnState)) *httptest.Server {
	tb.Helper()
	srv := httptest.NewUnstartedServer(h)
	for _, f := range connState {
		srv.Config.ConnState = f
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	tb.Cleanup(srv.Close)
	return srv
}

// NewServer starts the server; it is closed (and hanging handlers released) at test end.
func NewServer(tb testing.TB) *Server {
	s := &Server{release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc(PrefixBusy+"/debug/pprof/", func(w http.ResponseWriter, _ *http.Request) {
		// The exact answer of net/http/pprof when StartCPUProfile fails.
		w.Header().Set("X-Go-Pprof", "1")
		w.Header().Del("Content-Disposition")
		http.Error(w, "Could not enable CPU profiling: cpu profiling already in use", http.StatusInternalServerError)
	})
	mux.HandleFunc(PrefixHang+"/debug/pprof/", func(_ http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.active++
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.active--
			s.mu.Unlock()
		}()
		select {
		case <-r.Context().Done():
		case <-s.release:
		}
	})
	mux.HandleFunc(PrefixHuge+"/debug/pprof/", func(w http.ResponseWriter, _ *http.Request) {
		chunk := bytes.Repeat([]byte{0x0a}, 64<<10)
		for sent := 0; sent < HugeBytes; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc(PrefixBomb+"/debug/pprof/", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(gzipBomb())
	})
	mux.HandleFunc(PrefixGarbage+"/debug/pprof/", func(w http.ResponseWriter, _ *http.Request) {
		b := make([]byte, 4096)
		_, _ = rand.Read(b)
		// 0x07 is a complete one-byte protobuf tag of field 0 with wire type 7,
		// neither of which exists, and not gzip's magic: refused at the first byte
		// as not_pprof, whatever the random bytes after it. (0xff was not: it is a
		// varint continuation byte, so the random bytes decided the reason.)
		b[0] = 0x07
		_, _ = w.Write(b)
	})
	mux.HandleFunc(PrefixMissing+"/debug/pprof/", http.NotFound)
	for _, prefix := range []string{PrefixEmptyStrings, PrefixTenMillionStrings, PrefixMillionSamples} {
		mux.HandleFunc(prefix+"/debug/pprof/", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(HostileBody(prefix))
		})
	}
	mux.HandleFunc(PrefixEndless+"/debug/pprof/", func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte{0x0a}, 64<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc(PrefixStall+"/debug/pprof/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte{0x1f, 0x8b})
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-s.release:
		}
	})
	mux.HandleFunc(PrefixHTML+"/debug/pprof/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><html><body>shop</body></html>"))
	})

	s.Server = Loopback(tb, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.URL.RequestURI())
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	tb.Cleanup(func() { // runs before Loopback's Close: hanging handlers return first
		close(s.release)
		s.CloseClientConnections()
	})
	return s
}

// Requests returns every request URI served so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// Count returns how many requests had exactly this URI.
func (s *Server) Count(uri string) int {
	n := 0
	for _, r := range s.Requests() {
		if r == uri {
			n++
		}
	}
	return n
}

// Hanging returns how many PrefixHang requests are in flight.
func (s *Server) Hanging() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// Profile returns the raw (gzipped) bytes of the test process's named runtime profile.
func Profile(tb testing.TB, name string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	require.NoError(tb, rpprof.Lookup(name).WriteTo(&buf, 0))
	return buf.Bytes()
}

// WriteTemp saves data into a temp file and returns its path.
func WriteTemp(tb testing.TB, name string, data []byte) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	require.NoError(tb, os.WriteFile(p, data, 0o600))
	return p
}

// GoToolPprof runs `go tool pprof args...` and returns its standard output.
func GoToolPprof(tb testing.TB, args ...string) []byte {
	tb.Helper()
	// go test puts its own toolchain's bin first in PATH: "go" is the go that runs the test.
	cmd := exec.CommandContext(context.Background(), "go", append([]string{"tool", "pprof"}, args...)...) //nolint:gosec // G204: the test's own arguments (profiles it wrote), no outside input
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(tb, err, "go tool pprof %v: %s", args, stderr.String())
	return out
}

// TopLine is one row of `go tool pprof -top`.
type TopLine struct {
	Name      string
	Flat, Cum int64
}

// ParseTop parses `go tool pprof -top` output printed with an explicit unit
// (-unit=B, -unit=ns...): the rows after the header line.
func ParseTop(tb testing.TB, out []byte) []TopLine {
	tb.Helper()
	var rows []TopLine
	started := false
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if !started {
			started = len(fields) >= 5 && fields[0] == "flat" && fields[1] == "flat%"
			continue
		}
		if len(fields) < 6 {
			continue
		}
		name := strings.Join(fields[5:], " ")
		name = strings.TrimSuffix(name, " (partial-inline)")
		name = strings.TrimSuffix(name, " (inline)")
		rows = append(rows, TopLine{Name: name, Flat: number(tb, fields[0]), Cum: number(tb, fields[3])})
	}
	require.True(tb, started, "no header in pprof output:\n%s", out)
	return rows
}

func number(tb testing.TB, s string) int64 {
	tb.Helper()
	s = strings.TrimRightFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '-' && r != '.' })
	v, err := strconv.ParseInt(s, 10, 64)
	require.NoError(tb, err, "number %q", s)
	return v
}
