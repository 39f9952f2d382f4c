// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package loadbench

import (
	"os"
	"testing"
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
func TestProcReadersSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Fatalf("loadbench reads /proc (Linux): %v", err)
	}
	cpu, err := ProcCPU(os.Getpid())
	if err != nil || cpu < 0 {
		t.Errorf("ProcCPU = %v, %v", cpu, err)
	}
	rss, err := ProcPeakRSS(os.Getpid())
	if err != nil || rss < 1<<20 {
		t.Errorf("ProcPeakRSS = %d, %v", rss, err)
	}
}
