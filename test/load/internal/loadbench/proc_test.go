// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package loadbench

import (
	"os"
	"testing"
	"time"

	"github.com/prodscope/prodscope/internal/cputime"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and ')' must not shift the fields.
	stat := "4242 (otelcol (x) y) S 1 4242 4242 0 -1 4194560 12345 0 0 0 250 75 0 0 20 0 12 0 1000 200000000 30000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"
	got, err := ParseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if got != 3.25 {
		t.Errorf("cpu = %v, want 3.25 (325 ticks)", got)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 1 0", "no paren here at all 1 2 3 4 5 6 7 8 9 10 11 12 13"} {
		if _, err := ParseStatCPU(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\totelcol\nVmPeak:\t 2000000 kB\nVmHWM:\t  163840 kB\nVmRSS:\t  120000 kB\nThreads:\t12\n"
	if got, err := ParseStatusKB(status, "VmHWM"); err != nil || got != 163840 {
		t.Errorf("VmHWM = %d, %v", got, err)
	}
	if got, err := ParseStatusKB(status, "VmRSS"); err != nil || got != 120000 {
		t.Errorf("VmRSS = %d, %v", got, err)
	}
	if _, err := ParseStatusKB(status, "VmSwap"); err == nil {
		t.Error("missing key: no error")
	}
	if _, err := ParseStatusKB("VmHWM:\t 12 MB\n", "VmHWM"); err == nil {
		t.Error("wrong unit: no error")
	}
	if _, err := ParseStatusKB("VmHWM:\n", "VmHWM"); err == nil {
		t.Error("no value: no error")
	}
	if _, err := ParseStatusKB("VmHWM: x kB\n", "VmHWM"); err == nil {
		t.Error("not a number: no error")
	}
}

// The readers work on this very process (Linux only, as the benchmark).
// ProcCPU, which the benchmark points at the collector, agrees with this
// process's own CPU clock (cputime.Process) read just before and after it:
// /proc counts in 10 ms ticks and leaves out what threads still running on
// other CPUs have not yet been charged, so it may read a few ticks low.
func TestProcReadersSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Fatalf("loadbench reads /proc (Linux): %v", err)
	}
	// Some CPU time first, so a reader of the wrong fields cannot agree by
	// reading zeros.
	start, deadline := cputime.Process(), time.Now().Add(10*time.Second)
	for x := uint64(1); cputime.Process()-start < 100*time.Millisecond && time.Now().Before(deadline); {
		for i := range uint64(100000) {
			x = x*31 + i
		}
	}
	before := cputime.Process()
	cpu, err := ProcCPU(os.Getpid())
	after := cputime.Process()
	if err != nil {
		t.Fatalf("ProcCPU: %v", err)
	}
	const tick = time.Second / ClockTicks
	lo, hi := before-5*tick, after+tick
	if got := time.Duration(cpu * float64(time.Second)); before < 100*time.Millisecond || got < lo || got > hi {
		t.Errorf("ProcCPU = %v, want between %v and %v (cputime.Process %v before, %v after)", got, lo, hi, before, after)
	}
	rss, err := ProcPeakRSS(os.Getpid())
	if err != nil || rss < 1<<20 {
		t.Errorf("ProcPeakRSS = %d, %v", rss, err)
	}
}
