// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

const composeImage = "prodscope/otelcol-prodscope:0.1.0"

// composeProject is a docker-compose project of the multi-host test.
type composeProject struct {
	t    *testing.T
	name string
	file string
	env  []string
}

func (p *composeProject) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker-compose", append([]string{"-p", p.name, "-f", p.file}, args...)...) //nolint:gosec // G204: the e2e harness runs the programs under test and their tools
	cmd.Env = append(os.Environ(), p.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (p *composeProject) must(timeout time.Duration, args ...string) string {
	p.t.Helper()
	out, err := p.run(timeout, args...)
	if err != nil {
		p.t.Fatalf("docker-compose %v: %v\n%s", args, err, out)
	}
	return out
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput() //nolint:gosec // G204: the e2e harness runs the programs under test and their tools
	if err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// sinkSpans reads a sink's traces by service name: span id -> count, and the
// gateways that carried each trace.
type sinkView struct {
	spans    map[string]map[string]int // service -> span id -> copies
	gateways map[string]map[string]bool
}

func readSink(t *testing.T, dir string) sinkView {
	v := sinkView{spans: map[string]map[string]int{}, gateways: map[string]map[string]bool{}}
	for _, td := range readTraces(t, filepath.Join(dir, "traces.jsonl")) {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			svc := serviceName(rs.Resource())
			gw, hasGW := rs.Resource().Attributes().Get("prodscope.gateway")
			if v.spans[svc] == nil {
				v.spans[svc] = map[string]int{}
			}
			forEachSpan(rs, func(s ptrace.Span) {
				v.spans[svc][s.SpanID().String()]++
				tid := s.TraceID().String()
				if v.gateways[tid] == nil {
					v.gateways[tid] = map[string]bool{}
				}
				if hasGW {
					v.gateways[tid][gw.AsString()] = true
				}
			})
		}
	}
	return v
}

func forEachSpan(rs ptrace.ResourceSpans, f func(ptrace.Span)) {
	for j := 0; j < rs.ScopeSpans().Len(); j++ {
		ss := rs.ScopeSpans().At(j).Spans()
		for k := 0; k < ss.Len(); k++ {
			f(ss.At(k))
		}
	}
}

func (v sinkView) count(service string) (unique, total int) {
	for _, n := range v.spans[service] {
		unique++
		total += n
	}
	return unique, total
}

// The multi-host test: the image runs as one agent and three gateway
// containers (config/gateway.yaml) with three vendor stand-ins on a private
// Docker network. Traffic from telemetrygen and the demo service enters the
// agent's published port on 127.0.0.1. Every span arrives exactly once, a
// trace's spans all pass one gateway, each tenant reaches only its vendor;
// then, mid-load, one gateway is killed and restarted on its persistent
// queue volume and another is cut off the network and reconnected; then a
// gateway is removed from the set (scaled down) mid-load; then the agent
// container is restarted mid-load. Nothing is lost, and duplicates from
// retries are counted and reported.
func TestMultiHostAgentGatewaysCompose(t *testing.T) {
	image := exec.Command("make", "-C", repoRoot, "image")
	if out, err := image.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	dirs := map[string]string{}
	for _, s := range []string{"default", "vendor", "honeycomb"} {
		d := t.TempDir()
		//nolint:gosec // G302: the containers run as uid 10001 and write here; the dir is this test's temp dir
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
		dirs[s] = d
	}
	agentOTLP, agentHealth := freeAddr(t), freeAddr(t)
	p := &composeProject{
		t:    t,
		name: fmt.Sprintf("prodscope-e2e-%d", rand.IntN(1<<30)),
		file: filepath.Join(repoRoot, "test", "e2e", "testdata", "compose", "docker-compose.yaml"),
		env: []string{
			"PRODSCOPE_IMAGE=" + composeImage,
			"AGENT_OTLP_PORT=" + portOf(agentOTLP),
			"AGENT_HEALTH_PORT=" + portOf(agentHealth),
			"GATEWAY_CONFIG=" + filepath.Join(repoRoot, "config", "gateway.yaml"),
			"SINK_DEFAULT_DIR=" + dirs["default"],
			"SINK_VENDOR_DIR=" + dirs["vendor"],
			"SINK_HONEYCOMB_DIR=" + dirs["honeycomb"],
		},
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := p.run(time.Minute, "logs", "--no-color", "--tail", "40")
			t.Logf("compose logs (tail):\n%s", out)
		}
		if out, err := p.run(3*time.Minute, "down", "-v", "--remove-orphans", "-t", "5"); err != nil {
			t.Errorf("docker-compose down: %v\n%s", err, out)
		}
	})
	p.must(5*time.Minute, "up", "-d")
	eventually(t, 60*time.Second, "agent healthy", func() (bool, string) {
		resp, err := http.Get("http://" + agentHealth + "/")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})

	send := func(service, route string, traces int) {
		args := []string{
			"traces", "--otlp-endpoint", agentOTLP, "--otlp-insecure", "--rate", "0",
			"--traces", strconv.Itoa(traces), "--child-spans", "2", "--service", service,
		}
		if route != "" {
			args = append(args, "--otlp-attributes", fmt.Sprintf("prodscope.route=%q", route))
		}
		runTool(t, 2*time.Minute, telemetrygen, args...)
	}
	// Phase 1: three tenants and the demo service, no faults.
	send("tenant-default", "", 100)
	send("tenant-otlp", "otlp", 100)
	send("tenant-honeycomb", "honeycomb", 50)
	runTool(t, 2*time.Minute, telemetrygen, "logs", "--otlp-endpoint", agentOTLP, "--otlp-insecure", "--rate", "0",
		"--logs", "500", "--service", "tenant-logs")
	runTool(t, 2*time.Minute, telemetrygen, "metrics", "--otlp-endpoint", agentOTLP, "--otlp-insecure", "--rate", "0",
		"--metrics", "300", "--service", "tenant-metrics")
	demo := newCollectorEnv(t) // only for its free addresses; the demo talks to the agent
	demo.otlpGRPC = agentOTLP
	runDemo(t, demo, 4*time.Second)

	var def, ven, hny sinkView
	eventually(t, 90*time.Second, "phase 1 spans at their sinks", func() (bool, string) {
		def, ven, hny = readSink(t, dirs["default"]), readSink(t, dirs["vendor"]), readSink(t, dirs["honeycomb"])
		d, _ := def.count("tenant-default")
		o, _ := ven.count("tenant-otlp")
		h, _ := hny.count("tenant-honeycomb")
		s, _ := def.count("shopdemo")
		l, m := 0, 0
		for _, ld := range readLogs(t, filepath.Join(dirs["default"], "logs.jsonl")) {
			l += ld.LogRecordCount()
		}
		for _, md := range readMetrics(t, filepath.Join(dirs["default"], "metrics.jsonl")) {
			m += md.DataPointCount()
		}
		return d == 300 && o == 300 && h == 150 && s > 0 && l >= 500 && m >= 300,
			fmt.Sprintf("default %d/300 otlp %d/300 honeycomb %d/150 demo %d; logs %d metric points %d", d, o, h, s, l, m)
	})
	time.Sleep(2 * time.Second) // let a duplicate, if any, land
	def, ven, hny = readSink(t, dirs["default"]), readSink(t, dirs["vendor"]), readSink(t, dirs["honeycomb"])
	for _, c := range []struct {
		view    sinkView
		service string
		want    int
	}{{def, "tenant-default", 300}, {ven, "tenant-otlp", 300}, {hny, "tenant-honeycomb", 150}} {
		if u, total := c.view.count(c.service); u != c.want || total != c.want {
			t.Fatalf("%s: %d distinct, %d in all; want exactly %d once each", c.service, u, total, c.want)
		}
	}
	if u, total := def.count("shopdemo"); u != total {
		t.Fatalf("demo spans: %d distinct but %d in all", u, total)
	}
	// Logs and metric data points too, exactly once.
	logs, points := 0, 0
	for _, ld := range readLogs(t, filepath.Join(dirs["default"], "logs.jsonl")) {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			if rl := ld.ResourceLogs().At(i); serviceName(rl.Resource()) == "tenant-logs" {
				for j := 0; j < rl.ScopeLogs().Len(); j++ {
					logs += rl.ScopeLogs().At(j).LogRecords().Len()
				}
			}
		}
	}
	for _, md := range readMetrics(t, filepath.Join(dirs["default"], "metrics.jsonl")) {
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			if rm := md.ResourceMetrics().At(i); serviceName(rm.Resource()) == "tenant-metrics" {
				one := pmetric.NewMetrics()
				rm.CopyTo(one.ResourceMetrics().AppendEmpty())
				points += one.DataPointCount()
			}
		}
	}
	if logs != 500 || points != 300 {
		t.Fatalf("default sink: %d logs (want 500), %d data points (want 300)", logs, points)
	}
	// Each tenant reached only its vendor.
	for svc := range def.spans {
		if svc == "tenant-otlp" || svc == "tenant-honeycomb" {
			t.Fatalf("the default sink received %s", svc)
		}
	}
	if len(ven.spans) != 1 || len(hny.spans) != 1 {
		t.Fatalf("vendor sink has services %v, honeycomb sink %v; each should hold one tenant", keys(ven.spans), keys(hny.spans))
	}
	// A trace's spans all passed one gateway, and all three gateways served.
	served := map[string]bool{}
	for _, v := range []sinkView{def, ven} {
		for tid, gws := range v.gateways {
			if len(gws) != 1 {
				t.Fatalf("trace %s passed gateways %v", tid, gws)
			}
			for g := range gws {
				served[g] = true
			}
		}
	}
	if len(served) != 3 {
		t.Fatalf("gateways that served traffic: %v, want all three", served)
	}

	// Phase 2: faults mid-load.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const faultTraces = 600 // 3 spans each at 40 traces/s: 15 s of load
	load := startTool(ctx, telemetrygen, "traces", "--otlp-endpoint", agentOTLP, "--otlp-insecure",
		"--rate", "40", "--traces", strconv.Itoa(faultTraces), "--child-spans", "2", "--service", "fault-load")
	gw2 := strings.TrimSpace(p.must(time.Minute, "ps", "-q", "gateway-2"))
	gw3 := strings.TrimSpace(p.must(time.Minute, "ps", "-q", "gateway-3"))
	network := p.name + "_prodscope"
	time.Sleep(3 * time.Second)
	docker(t, "kill", gw2)
	time.Sleep(2 * time.Second)
	docker(t, "start", gw2)
	time.Sleep(2 * time.Second)
	docker(t, "network", "disconnect", network, gw3)
	time.Sleep(4 * time.Second)
	docker(t, "network", "connect", "--alias", "gateway-3", "--alias", "gateways", network, gw3)
	if err := <-load.done; err != nil {
		t.Fatalf("telemetrygen under faults: %v", err)
	}

	var unique, total int
	eventually(t, 120*time.Second, "every span of the fault phase delivered", func() (bool, string) {
		unique, total = readSink(t, dirs["default"]).count("fault-load")
		return unique >= 3*faultTraces, fmt.Sprintf("%d/%d distinct spans (%d in all)", unique, 3*faultTraces, total)
	})
	if unique != 3*faultTraces {
		t.Fatalf("%d distinct fault-phase spans, sent %d", unique, 3*faultTraces)
	}
	t.Logf("multi-host: phase 1 exactly once (default 300, otlp 300, honeycomb 150, demo %d); faults: %d spans sent, %d delivered, %d duplicates from retries",
		len(def.spans["shopdemo"]), 3*faultTraces, unique, total-unique)

	// Phase 3: a gateway replica removed from the set mid-load (scaled down:
	// stopped with SIGTERM, its name gone from the "gateways" answer). The
	// agent re-resolves, and what failed toward the removed replica is
	// retried from the agent's disk queue onto the key's new owner.
	const scaleTraces = 600
	ctx3, cancel3 := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel3()
	load = startTool(ctx3, telemetrygen, "traces", "--otlp-endpoint", agentOTLP, "--otlp-insecure",
		"--rate", "40", "--traces", strconv.Itoa(scaleTraces), "--child-spans", "2", "--service", "scale-down-load")
	time.Sleep(4 * time.Second)
	p.must(2*time.Minute, "stop", "-t", "20", "gateway-3")
	if err := <-load.done; err != nil {
		t.Fatalf("telemetrygen during the scale-down: %v", err)
	}
	var scaled sinkView
	eventually(t, 120*time.Second, "every span of the scale-down phase delivered by the remaining gateways", func() (bool, string) {
		scaled = readSink(t, dirs["default"])
		unique, total = scaled.count("scale-down-load")
		return unique >= 3*scaleTraces, fmt.Sprintf("%d/%d distinct spans (%d in all)", unique, 3*scaleTraces, total)
	})
	if unique != 3*scaleTraces {
		t.Fatalf("%d distinct scale-down spans, sent %d", unique, 3*scaleTraces)
	}
	byGateway := map[string]int{}
	for _, gws := range scaled.gateways {
		for g := range gws {
			byGateway[g]++
		}
	}
	t.Logf("scale-down: gateway-3 stopped 4s into the load; %d spans sent, %d delivered, %d duplicates; traces per gateway (all phases) %v",
		3*scaleTraces, unique, total-unique, byGateway)

	// Phase 4: the agent container restarted mid-load (SIGTERM, then the
	// same container with its state volume). The sender here is the test
	// itself, so that what the agent acknowledged is known exactly: it sends
	// numbered batches and, like an SDK with retries, resends a batch until
	// the agent accepts it (during the restart it is refused). Every span of
	// every acknowledged batch must arrive.
	const restartBatches, spansPerBatch = 150, 12
	conn, err := grpc.NewClient(agentOTLP, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := ptraceotlp.NewGRPCClient(conn)
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		time.Sleep(3 * time.Second)
		if out, err := p.run(2*time.Minute, "restart", "-t", "20", "agent"); err != nil {
			t.Errorf("docker-compose restart agent: %v\n%s", err, out)
		}
	}()
	refused := 0
	for b := 0; b < restartBatches; b++ {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "agent-restart-load")
		ss := rs.ScopeSpans().AppendEmpty().Spans()
		for i := 0; i < spansPerBatch; i++ {
			sp := ss.AppendEmpty()
			sp.SetName("restart-op")
			sp.SetTraceID(pcommon.TraceID([16]byte{0xa9, byte(b >> 8), byte(b), byte(i), 1}))
			sp.SetSpanID(pcommon.SpanID([8]byte{0xa9, byte(b >> 8), byte(b), byte(i), 1}))
			now := time.Now()
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
			cancel()
			if err == nil {
				break
			}
			refused++
			if time.Now().After(deadline) {
				t.Fatalf("batch %d not accepted within 2 minutes: %v", b, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // about 120 spans/s, a batch each 100 ms
	}
	<-restarted
	eventually(t, 120*time.Second, "every acknowledged span of the agent-restart phase delivered", func() (bool, string) {
		unique, total = readSink(t, dirs["default"]).count("agent-restart-load")
		return unique >= restartBatches*spansPerBatch, fmt.Sprintf("%d/%d distinct spans (%d in all)", unique, restartBatches*spansPerBatch, total)
	})
	if unique != restartBatches*spansPerBatch {
		t.Fatalf("%d distinct agent-restart spans, acknowledged %d", unique, restartBatches*spansPerBatch)
	}
	if refused == 0 {
		t.Fatal("no batch was refused: the agent restart did not happen during the load")
	}
	t.Logf("agent restart mid-load: %d spans acknowledged, %d delivered, %d duplicates; %d sends refused during the restart and resent",
		restartBatches*spansPerBatch, unique, total-unique, refused)
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The image's default config runs outside Kubernetes: `docker run IMAGE`
// with no arguments, no environment and no mounts becomes healthy, accepts
// OTLP, and keeps running (it queues for vendor endpoints nobody set).
func TestImageDefaultConfigRunsOutsideKubernetes(t *testing.T) {
	image := exec.Command("make", "-C", repoRoot, "image")
	if out, err := image.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	name := fmt.Sprintf("prodscope-e2e-default-%d", rand.IntN(1<<30))
	docker(t, "network", "create", name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if t.Failed() {
			out, _ := exec.CommandContext(ctx, "docker", "logs", "--tail", "40", name).CombinedOutput() //nolint:gosec // G204: the e2e harness runs the programs under test and their tools
			t.Logf("container logs (tail):\n%s", out)
		}
		_ = exec.CommandContext(ctx, "docker", "rm", "-f", name).Run()      //nolint:gosec // G204: the e2e harness runs the programs under test and their tools
		_ = exec.CommandContext(ctx, "docker", "network", "rm", name).Run() //nolint:gosec // G204: the e2e harness runs the programs under test and their tools
	})
	health, otlp := freeAddr(t), freeAddr(t)
	docker(t, "run", "-d", "--name", name, "--network", name,
		"-p", "127.0.0.1:"+portOf(health)+":13133", "-p", "127.0.0.1:"+portOf(otlp)+":4317", composeImage)
	eventually(t, 60*time.Second, "the default config healthy", func() (bool, string) {
		resp, err := http.Get("http://" + health + "/")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	runTool(t, time.Minute, telemetrygen, "traces", "--otlp-endpoint", otlp, "--otlp-insecure",
		"--rate", "0", "--traces", "10", "--service", "image-default")
	time.Sleep(2 * time.Second)
	if state := docker(t, "inspect", "-f", "{{.State.Running}}", name); state != "true" {
		t.Fatalf("the container stopped: running=%s", state)
	}
}
