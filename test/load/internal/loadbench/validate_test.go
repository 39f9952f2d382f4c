// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package loadbench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Every generated config passes the built binary's validate: PRODSCOPE_BINARY,
// or the repository's _build/otelcol-prodscope (make test builds it before the
// unit tests). The pprofreceiver configs also need PRODSCOPE_BENCH_BINARY (the
// bench-only build). No collector is started.
func TestGeneratedConfigsValidate(t *testing.T) {
	bin := os.Getenv("PRODSCOPE_BINARY")
	if bin == "" {
		bin = filepath.Join("..", "..", "..", "..", "_build", "otelcol-prodscope")
	}
	if _, err := os.Stat(bin); err != nil { //nolint:gosec // G703: PRODSCOPE_BINARY names the binary under test
		t.Fatalf("the built distribution is needed (make build, or set PRODSCOPE_BINARY): %v", err)
	}
	dir := t.TempDir()
	validate := func(t *testing.T, bin, name, cfg string) (string, error) {
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		//nolint:gosec // G204: bin is the distribution under test (PRODSCOPE_BINARY, PRODSCOPE_BENCH_BINARY)
		out, err := exec.Command(bin, "validate", "--feature-gates=service.profilesSupport", "--config", p).CombinedOutput()
		return string(out), err
	}
	check := func(t *testing.T, bin, name, cfg string) {
		if out, err := validate(t, bin, name, cfg); err != nil {
			t.Errorf("validate %s: %v\n%s\n%s", name, err, out, cfg)
		}
	}
	for _, v := range DefaultVariants([]string{Traces, Logs, Metrics}) {
		cfg, err := CollectorConfig(v, testPorts)
		if err != nil {
			t.Fatal(err)
		}
		check(t, bin, slug(v.Signal+"-"+v.Name+"-"+v.Exporter), cfg)
	}
	targets := []string{"127.0.0.1:7001", "127.0.0.1:7002"}
	o := PprofOptions{Interval: "3s", CPUDuration: "1s", Types: []string{"heap", "allocs", "goroutine"}}
	for _, mode := range []PprofMode{PprofIdle, PprofScrape} {
		cfg, err := PprofConfig(mode, targets, o, testPorts)
		if err != nil {
			t.Fatal(err)
		}
		check(t, bin, "pprof-"+string(mode), cfg)
	}
	if bench := os.Getenv("PRODSCOPE_BENCH_BINARY"); bench != "" {
		cfg, err := PprofConfig(PprofReceiver, targets, o, testPorts)
		if err != nil {
			t.Fatal(err)
		}
		// pprofreceiver v0.144.0 (the only version served) is a stub whose
		// factory answers "not implemented": the config decodes, the
		// pipeline cannot be built. Anything else is a config error of ours.
		out, err := validate(t, bench, "pprof-receiver", cfg)
		switch {
		case err == nil:
			t.Log("pprofreceiver config validates (the receiver is implemented in this build)")
		case strings.Contains(out, `receiver for data type "profiles": not implemented`):
			t.Log("pprofreceiver v0.144.0: config accepted, receiver not implemented")
		default:
			t.Errorf("validate pprofreceiver: %v\n%s\n%s", err, out, cfg)
		}
	}
}
