// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package kubernetes_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// dockerInstr is one Dockerfile instruction with its continuation lines joined.
type dockerInstr struct {
	cmd, args string
}

func parseDockerfile(t *testing.T, dir string) []dockerInstr {
	t.Helper()
	b, err := readFileIn(dir, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstr
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			// A parser directive would make the builder pull a frontend image.
			if len(out) == 0 && cur.Len() == 0 && strings.Contains(strings.ToLower(line), "syntax=") {
				t.Errorf("Dockerfile has a syntax directive (%q): it needs an image pull, and nothing can be pulled", line)
			}
			continue
		}
		if line == "" && cur.Len() == 0 {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, dockerInstr{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDockerfile: the image builds from scratch and the build context only,
// one binary per target platform, runs as a non-root user with
// config/gateway.yaml as its default config (which runs outside Kubernetes),
// and agrees with the Kubernetes manifests on the binary and config paths.
func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	instrs := parseDockerfile(t, root)

	var froms, users, exposes, envs []string
	var entrypoint []string
	labels := ""
	copies := map[string]string{} // destination -> source
	for _, in := range instrs {
		switch in.cmd {
		case "FROM":
			froms = append(froms, in.args)
		case "USER":
			users = append(users, in.args)
		case "EXPOSE":
			exposes = append(exposes, strings.Fields(in.args)...)
		case "ENV":
			envs = append(envs, in.args)
		case "LABEL":
			labels += " " + in.args
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in.args), &entrypoint); err != nil {
				t.Errorf("ENTRYPOINT %s is not the exec (JSON) form: %v", in.args, err)
			}
		case "COPY", "ADD":
			if in.cmd == "ADD" {
				t.Errorf("ADD %s: use COPY (ADD can fetch URLs)", in.args)
			}
			var fields []string
			for _, f := range strings.Fields(in.args) {
				if strings.HasPrefix(f, "--from") {
					t.Errorf("COPY %s copies from another image", in.args)
				}
				if !strings.HasPrefix(f, "--") {
					fields = append(fields, f)
				}
			}
			if len(fields) != 2 {
				t.Errorf("COPY %s: want one source and one destination", in.args)
				continue
			}
			copies[fields[1]] = fields[0]
		case "RUN":
			t.Errorf("RUN %s: a scratch image has no shell", in.args)
		}
	}
	if len(froms) != 1 || froms[0] != "scratch" {
		t.Errorf("FROM %v, want only scratch: no image can be pulled", froms)
	}
	if len(users) == 0 || users[len(users)-1] != "10001:10001" {
		t.Errorf("USER %v, want 10001:10001 last", users)
	}
	for _, p := range []string{"4317", "4318", "8088", "13133", "8888"} {
		if !contains(exposes, p) {
			t.Errorf("EXPOSE %v lacks %s", exposes, p)
		}
	}
	for _, l := range []string{"org.opencontainers.image.title", "org.opencontainers.image.version", "org.opencontainers.image.source", "org.opencontainers.image.revision"} {
		if !strings.Contains(labels, l+"=") {
			t.Errorf("no %s label", l)
		}
	}
	want := map[string]string{
		"/otelcol-prodscope":                 "_build/${TARGETOS}_${TARGETARCH}/otelcol-prodscope",
		"/etc/ssl/certs/ca-certificates.crt": "_build/ca-certificates.crt",
		"/etc/otelcol-prodscope/config.yaml": "config/gateway.yaml",
		"/var/lib/otelcol-prodscope":         "deploy/docker/var-lib-otelcol-prodscope",
	}
	for dst, src := range want {
		if copies[dst] != src {
			t.Errorf("COPY to %s from %q, want %q", dst, copies[dst], src)
		}
	}
	if len(entrypoint) == 0 || entrypoint[0] != "/otelcol-prodscope" || !contains(entrypoint, configArg) {
		t.Errorf("ENTRYPOINT %v, want /otelcol-prodscope with %s", entrypoint, configArg)
	}

	// .dockerignore: everything out, then exactly what the COPYs need back in.
	ignore, err := readFileIn(root, ".dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(ignore), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	if len(patterns) == 0 || patterns[0] != "*" {
		t.Errorf(".dockerignore must start by excluding everything (*), got %v", patterns)
	}
	var sources []string
	for _, src := range copies {
		if strings.Contains(src, "${TARGETARCH}") {
			// `make image-multiarch` builds these platforms.
			for _, arch := range []string{"amd64", "arm64"} {
				sources = append(sources, strings.NewReplacer("${TARGETOS}", "linux", "${TARGETARCH}", arch).Replace(src))
			}
			continue
		}
		sources = append(sources, src)
	}
	for _, src := range sources {
		ok := false
		for _, p := range patterns {
			inc := strings.TrimSuffix(strings.TrimPrefix(p, "!"), "/")
			matched, _ := filepath.Match(inc, src)
			if strings.HasPrefix(p, "!") && (matched || src == inc || strings.HasPrefix(src, inc+"/")) {
				ok = true
			}
		}
		if !ok {
			t.Errorf(".dockerignore excludes %s, which the Dockerfile copies", src)
		}
	}

	// The default config runs outside Kubernetes: no component that needs an
	// API server, and every variable it reads has a default or is set by ENV.
	if !contains(envs, "K8S_POD_IP=0.0.0.0") {
		t.Errorf("ENV %v: want K8S_POD_IP=0.0.0.0, where the default config's health check and metrics listen outside Kubernetes", envs)
	}
	cfg, err := readFileIn(root, copies["/etc/otelcol-prodscope/config.yaml"])
	if err != nil {
		t.Fatal(err)
	}
	for _, k8sOnly := range []string{"k8s_observer", "k8s_attributes", "k8sattributes", "k8s_api", "kubernetes_sd_configs", "serviceAccount"} {
		if strings.Contains(string(cfg), k8sOnly) {
			t.Errorf("the image's default config uses %s, which needs a Kubernetes API server", k8sOnly)
		}
	}
	for _, m := range envRef.FindAllStringSubmatch(string(cfg), -1) {
		if m[2] == "" && !contains(envs, m[1]+"=0.0.0.0") {
			t.Errorf("the image's default config reads ${env:%s} without a default: it would not start with `docker run IMAGE`", m[1])
		}
	}

	// The manifests run this image's binary on the config path it mounts.
	objs, err := decodeFile("agent-daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ds := objs[0].value.(*appsv1.DaemonSet)
	c := ds.Spec.Template.Spec.Containers[0]
	if len(c.Command) != 1 || c.Command[0] != entrypoint[0] {
		t.Errorf("DaemonSet command %v, want the image's binary %s (command replaces the ENTRYPOINT's flags)", c.Command, entrypoint[0])
	}
}
