// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package pprofscrape

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prodscope/prodscope/internal/cputime"
)

// The benchmark's targets run in a child process: this test binary re-executed with
// benchTargetsEnv set to the number of targets and benchCannedEnv to the directory of the
// canned profiles. The child listens on one 127.0.0.1 port per target (distinct
// host:ports, as real services are, so the HTTP client pools connections per target as in
// production), prints "addr <host:port>" per target then "ready", and answers "cpu" on
// its standard input with its CPU time in nanoseconds. It exits when its standard input
// closes (the parent ended, however it ended) or after benchTargetsMaxLife.
const (
	benchTargetsEnv     = "PPROFSCRAPE_BENCH_TARGETS"
	benchCannedEnv      = "PPROFSCRAPE_BENCH_CANNED"
	benchTargetsMaxLife = 15 * time.Minute
	benchTargetsMax     = 5000
)

func init() {
	if v := os.Getenv(benchTargetsEnv); v != "" {
		os.Exit(serveBenchTargets(v, os.Getenv(benchCannedEnv), os.Stdin, os.Stdout))
	}
}

// benchProfileNames are the files under testdata/bench, by the last path element the
// receiver requests.
var benchProfileNames = []string{"profile", "heap", "goroutine"}

func readCanned(dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	canned := os.DirFS(dir)
	for _, name := range benchProfileNames {
		data, err := fs.ReadFile(canned, name+".pb.gz")
		if err != nil {
			return nil, err
		}
		out[name] = data
	}
	return out, nil
}

// serveBenchTargets is the child's main: it returns the process's exit code.
func serveBenchTargets(count, dir string, in io.Reader, out io.Writer) int {
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 || n > benchTargetsMax {
		fmt.Fprintf(os.Stderr, "%s=%q: want 1..%d\n", benchTargetsEnv, count, benchTargetsMax)
		return 2
	}
	canned, err := readCanned(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := canned[r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
	})
	w := bufio.NewWriter(out)
	servers := make([]*http.Server, 0, n)
	defer func() {
		for _, s := range servers {
			_ = s.Close()
		}
	}()
	for range n {
		ln, lerr := net.Listen("tcp", "127.0.0.1:0")
		if lerr != nil {
			fmt.Fprintln(os.Stderr, lerr)
			return 1
		}
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go func() { _ = srv.Serve(ln) }()
		fmt.Fprintf(w, "addr %s\n", ln.Addr())
	}
	fmt.Fprintln(w, "ready")
	if err := w.Flush(); err != nil {
		return 1
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	deadline := time.After(benchTargetsMaxLife)
	for {
		select {
		case <-deadline:
			return 0
		case line, ok := <-lines:
			if !ok {
				return 0 // the parent closed our standard input: it is done or gone
			}
			if line == "cpu" {
				fmt.Fprintln(w, int64(cputime.Process()))
				if err := w.Flush(); err != nil {
					return 1
				}
			}
		}
	}
}

// benchTargets is the parent's handle on the child process.
type benchTargets struct {
	endpoints []string
	cmd       *exec.Cmd
	stdin     io.WriteCloser
	stdout    *bufio.Scanner
	mu        sync.Mutex
	stopOnce  sync.Once
}

// startBenchTargets starts the child serving n targets and returns their endpoints. The
// child is killed when the benchmark ends, on every path (b.Cleanup); should this process
// die without cleanups, the child sees its standard input close and exits.
func startBenchTargets(tb testing.TB, n int) *benchTargets {
	tb.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "bench"))
	if err != nil {
		tb.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe) //nolint:gosec // this test binary itself, re-executed as the targets process
	cmd.Env = append(os.Environ(), benchTargetsEnv+"="+strconv.Itoa(n), benchCannedEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdoutPipe, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	t := &benchTargets{cmd: cmd, stdin: stdin, stdout: bufio.NewScanner(stdoutPipe)}
	tb.Cleanup(t.stop)
	timer := time.AfterFunc(time.Minute, t.stop) // a child that never says ready
	defer timer.Stop()
	for t.stdout.Scan() {
		line := t.stdout.Text()
		if line == "ready" {
			break
		}
		addr, ok := strings.CutPrefix(line, "addr ")
		if !ok || !strings.HasPrefix(addr, "127.0.0.1:") {
			tb.Fatalf("targets process said %q", line)
		}
		t.endpoints = append(t.endpoints, "http://"+addr)
	}
	if len(t.endpoints) != n {
		tb.Fatalf("targets process started %d of %d targets (%v)", len(t.endpoints), n, t.stdout.Err())
	}
	return t
}

// cpu returns the child's CPU time (user + system, all threads).
func (t *benchTargets) cpu() (time.Duration, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := io.WriteString(t.stdin, "cpu\n"); err != nil {
		return 0, err
	}
	if !t.stdout.Scan() {
		return 0, errors.Join(errors.New("targets process ended"), t.stdout.Err())
	}
	ns, err := strconv.ParseInt(t.stdout.Text(), 10, 64)
	return time.Duration(ns), err
}

func (t *benchTargets) stop() {
	t.stopOnce.Do(func() {
		_ = t.stdin.Close()
		_ = t.cmd.Process.Kill()
		_ = t.cmd.Wait()
	})
}
