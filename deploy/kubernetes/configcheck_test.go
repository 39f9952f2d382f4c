// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package kubernetes_test

import (
	"fmt"
	"net"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// configProblems checks a collector config against the pod that runs it, for
// the mistakes `otelcol-prodscope validate` cannot see because they depend on
// the pod: an environment variable the pod does not set, a listener on
// loopback that the kubelet's probes, host ports or Services cannot reach, a
// file_storage directory or file_log glob outside the pod's volumes, self
// metrics not served where the pod's scrape annotation says, and (on the agent) a load_balancing exporter that does not resolve the headless
// Service. It returns one line per problem.
func configProblems(tier string, cfg []byte, tpl *corev1.PodTemplateSpec) []string {
	spec := &tpl.Spec
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	c := spec.Containers[0]
	podEnv := map[string]bool{}
	for _, e := range c.Env {
		podEnv[e.Name] = true
	}
	hasEnvFrom := len(c.EnvFrom) > 0
	// A Secret or ConfigMap marked optional may be absent: a variable that
	// only it would set needs a default, or the collector fails to start
	// (and blocks every tenant, not only the one whose credential is missing).
	envFromOptional := hasEnvFrom
	for _, ef := range c.EnvFrom {
		switch {
		case ef.SecretRef != nil && (ef.SecretRef.Optional == nil || !*ef.SecretRef.Optional):
			envFromOptional = false
		case ef.ConfigMapRef != nil && (ef.ConfigMapRef.Optional == nil || !*ef.ConfigMapRef.Optional):
			envFromOptional = false
		}
	}

	// ${env:NAME}, ${env:NAME:-default}, ${NAME}: what the collector expands.
	expand := func(s string) string {
		return envRef.ReplaceAllStringFunc(s, func(m string) string {
			sub := envRef.FindStringSubmatch(m)
			name, hasDefault, def := sub[1], sub[2] != "", sub[3]
			switch {
			case podEnv[name]:
				return "pod-env-" + strings.ToLower(name)
			case hasDefault:
				return def
			case hasEnvFrom && envFromOptional:
				report("%s config uses ${env:%s} without a default; only the optional envFrom source can set it, so without that source the collector does not start", tier, name)
				return ""
			case hasEnvFrom:
				// Expected in the Secret (docs/deploy.md lists it).
				return "secret-env-" + strings.ToLower(name)
			default:
				report("%s config uses ${env:%s}, which the pod does not set and has no default", tier, name)
				return ""
			}
		})
	}

	var doc map[string]any
	if err := yaml.Unmarshal(cfg, &doc); err != nil {
		report("%s config does not parse: %v", tier, err)
		return problems
	}
	extensions, _ := doc["extensions"].(map[string]any)
	receivers, _ := doc["receivers"].(map[string]any)
	exporters, _ := doc["exporters"].(map[string]any)
	service, _ := doc["service"].(map[string]any)
	// Every string of the config is expanded once, so undefined variables are reported wherever they are.
	walkStrings(doc, func(s string) { expand(s) })

	containerPorts := map[int]bool{}
	for _, p := range c.Ports {
		containerPorts[int(p.ContainerPort)] = true
	}
	var writable, mounted []string
	for _, m := range c.VolumeMounts {
		mounted = append(mounted, m.MountPath)
		if !m.ReadOnly {
			writable = append(writable, m.MountPath)
		}
	}

	// checkListener: a receiver or extension that must be reachable from
	// outside the pod listens on a non-loopback address and a declared port.
	checkListener := func(what, endpoint, defaultEndpoint string, wantPort int) {
		if endpoint == "" {
			endpoint = defaultEndpoint
		}
		ep := expand(endpoint)
		host, port, err := net.SplitHostPort(ep)
		if err != nil {
			report("%s %s endpoint %q: %v", tier, what, endpoint, err)
			return
		}
		if isLoopback(host) {
			report("%s %s listens on loopback (%q): the kubelet, host ports and Services reach the pod's address, not its loopback; use ${env:K8S_POD_IP} or 0.0.0.0", tier, what, endpoint)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			report("%s %s endpoint %q: port %q is not a number", tier, what, endpoint, port)
			return
		}
		if wantPort != 0 && p != wantPort {
			report("%s %s listens on port %d, but the probes and manifests use %d", tier, what, p, wantPort)
		}
		if !containerPorts[p] {
			report("%s %s listens on port %d, which the container does not declare", tier, what, p)
		}
	}

	// health_check: the liveness and readiness probes.
	enabled := stringList(service["extensions"])
	var health []string
	for name := range extensions {
		if componentType(name) == "health_check" {
			health = append(health, name)
		}
	}
	sort.Strings(health)
	if len(health) == 0 {
		report("%s config has no health_check extension: the probes on %d would fail", tier, healthPort)
	}
	for _, name := range health {
		if !contains(enabled, name) {
			report("%s extension %s is not in service.extensions: the probes on %d would fail", tier, name, healthPort)
		}
		ext, _ := extensions[name].(map[string]any)
		ep, _ := ext["endpoint"].(string)
		checkListener("extension "+name, ep, "localhost:13133", healthPort)
	}

	// file_storage: its directory is a writable volume (the root fs is read-only).
	for name, v := range extensions {
		if componentType(name) != "file_storage" {
			continue
		}
		ext, _ := v.(map[string]any)
		dir, _ := ext["directory"].(string)
		if dir == "" {
			dir = "/var/lib/otelcol/file_storage"
		}
		dir = expand(dir)
		if !under(dir, writable) {
			report("%s extension %s directory %s is on no writable volume (writable mounts: %v)", tier, name, dir, writable)
		}
	}

	for name, v := range receivers {
		r, _ := v.(map[string]any)
		switch componentType(name) {
		case "otlp":
			protocols, _ := r["protocols"].(map[string]any)
			for proto, def := range map[string]string{"grpc": "localhost:4317", "http": "localhost:4318"} {
				if _, on := protocols[proto]; !on {
					continue
				}
				p, _ := protocols[proto].(map[string]any)
				ep, _ := p["endpoint"].(string)
				checkListener("receiver "+name+" "+proto, ep, def, 0)
			}
		case "libhoney":
			h, _ := r["http"].(map[string]any)
			ep, _ := h["endpoint"].(string)
			checkListener("receiver "+name, ep, "localhost:8088", 0)
		case "file_log", "filelog":
			for _, inc := range stringList(r["include"]) {
				inc = expand(inc)
				if !under(inc, mounted) {
					report("%s receiver %s include %s is on no mounted volume (mounts: %v)", tier, name, inc, mounted)
				}
			}
		}
	}

	// The pod's prometheus.io/port annotation asks the agents to scrape the
	// collector's own metrics: the telemetry reader must serve them there.
	if port, ok := tpl.Annotations["prometheus.io/port"]; ok {
		served := false
		telemetry, _ := service["telemetry"].(map[string]any)
		metrics, _ := telemetry["metrics"].(map[string]any)
		readers, _ := metrics["readers"].([]any)
		for _, r := range readers {
			rm, _ := r.(map[string]any)
			pull, _ := rm["pull"].(map[string]any)
			exp, _ := pull["exporter"].(map[string]any)
			prom, ok := exp["prometheus"].(map[string]any)
			if !ok {
				continue
			}
			host := expand(fmt.Sprint(prom["host"]))
			if expand(fmt.Sprint(prom["port"])) == port && !isLoopback(host) {
				served = true
			}
		}
		if !served {
			report("%s pod is annotated prometheus.io/port=%s, but no service.telemetry prometheus reader serves that port on the pod's address", tier, port)
		}
	}

	if tier == "agent" {
		lbs := 0
		for name, v := range exporters {
			if t := componentType(name); t != "load_balancing" && t != "loadbalancing" {
				continue
			}
			lbs++
			e, _ := v.(map[string]any)
			resolver, _ := e["resolver"].(map[string]any)
			dns, ok := resolver["dns"].(map[string]any)
			if !ok {
				report("agent exporter %s does not use the dns resolver on the headless Service (resolvers: %v)", name, mapKeys(resolver))
				continue
			}
			host, _ := dns["hostname"].(string)
			host = expand(host)
			if first := strings.Split(host, ".")[0]; first != "prodscope-gateway-headless" ||
				(host != first && !strings.HasPrefix(host, first+"."+namespace)) {
				report("agent exporter %s resolves %q, want the headless Service prodscope-gateway-headless.%s(.svc.cluster.local): a ClusterIP name resolves to one address", name, host, namespace)
			}
			if p, ok := dns["port"]; ok && expand(fmt.Sprint(p)) != "4317" {
				report("agent exporter %s resolver port %v, want 4317", name, p)
			}
		}
		if lbs == 0 {
			report("agent config has no load_balancing exporter to the gateways")
		}
	}
	return problems
}

var envRef = regexp.MustCompile(`\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// componentType: "otlp/in" -> "otlp".
func componentType(id string) string {
	t, _, _ := strings.Cut(id, "/")
	return t
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func under(p string, dirs []string) bool {
	p = path.Clean(p)
	for _, d := range dirs {
		d = path.Clean(d)
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

func stringList(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func mapKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func walkStrings(v any, f func(string)) {
	switch x := v.(type) {
	case string:
		f(x)
	case map[string]any:
		for _, y := range x {
			walkStrings(y, f)
		}
	case []any:
		for _, y := range x {
			walkStrings(y, f)
		}
	}
}
