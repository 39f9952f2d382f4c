// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package kubernetes_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const (
	namespace        = "prodscope"
	image            = "prodscope/otelcol-prodscope:0.1.0"
	configDir        = "/etc/otelcol-prodscope"
	configArg        = "--config=/etc/otelcol-prodscope/config.yaml"
	featureGatesArg  = "--feature-gates=service.profilesSupport"
	healthPort       = 13133
	agentConfigMap   = "prodscope-agent-config"
	gatewayConfigMap = "prodscope-gateway-config"
	queueDir         = "/var/lib/otelcol-prodscope"
)

// renderBase runs the kustomize build of deploy/kubernetes/base under root,
// in Go, as `kustomize build --load-restrictor LoadRestrictionsNone` does, and
// strictly decodes every rendered resource into its Kubernetes API type.
func renderBase(root string) ([]object, error) {
	return renderDir(filepath.Join(root, "deploy", "kubernetes", "base"))
}

// renderDir renders the kustomization in dir (a base or an overlay).
func renderDir(dir string) ([]object, error) {
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = types.LoadRestrictionsNone
	k := krusty.MakeKustomizer(opts)
	resMap, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build: %w", err)
	}
	var objs []object
	var errs []error
	for _, r := range resMap.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.CurId(), err))
			continue
		}
		v, tm, err := decodeStrict(y)
		if err != nil {
			errs = append(errs, fmt.Errorf("rendered %s: %w", r.CurId(), err))
			continue
		}
		objs = append(objs, object{source: r.CurId().String(), meta: tm, name: objectName(v), value: v})
	}
	return objs, errors.Join(errs...)
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "builder-config.yaml")); err != nil {
		t.Fatalf("%s does not look like the repository root: %v", root, err)
	}
	return root
}

// TestKustomizeBuild renders the real base against the real config/agent.yaml
// and config/gateway.yaml. It fails (never skips) while either config is
// missing: the deployment is not deployable without them.
func TestKustomizeBuild(t *testing.T) {
	root := repoRoot(t)
	for _, f := range []string{"config/agent.yaml", "config/gateway.yaml"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Fatalf("%s: %v: the kustomize base generates its ConfigMap from it, so the base cannot render", f, err)
		}
	}
	objs, err := renderBase(root)
	if err != nil {
		t.Fatal(err)
	}
	checkRendered(t, root, objs)
	// RBAC: exactly what the agent config's components read, no more.
	agentCfg, err := readFileIn(root, "config/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	role := find[*rbacv1.ClusterRole](t, objs, "ClusterRole", "prodscope-agent")
	for _, p := range rbacProblems(agentCfg, role.Rules) {
		t.Errorf("ClusterRole prodscope-agent: %s", p)
	}
}

// Stand-in collector configs, only ever written into a temp copy of the
// tree. They exercise the byte-for-byte comparison (odd whitespace, a
// missing final newline, non-ASCII text) and the config-against-manifest
// checks, independently of the real configs.
const standInAgent = `# stand-in agent config (test only)   
extensions:
  health_check:
    endpoint: ${env:K8S_POD_IP}:13133
  file_storage:
    directory: /var/lib/otelcol-prodscope/agent
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${env:K8S_POD_IP}:4317
      http:
        endpoint: ${env:K8S_POD_IP}:4318
  file_log:
    include: [/var/log/pods/*/*/*.log]
    storage: file_storage
  k8s_observer/x:
    node: ${env:K8S_NODE_NAME}
processors:
  memory_limiter: {check_interval: 1s, limit_percentage: 80, spike_limit_percentage: 20}
exporters:
  load_balancing:
    routing_key: traceID
    protocol: {otlp: {tls: {insecure: true}}}
    resolver:
      dns:
        hostname: ${env:PRODSCOPE_GATEWAY_DNS:-prodscope-gateway-headless.prodscope.svc.cluster.local}
        port: "4317"
service:
  extensions: [health_check, file_storage]
  telemetry:
    metrics:
      readers:
        - pull: {exporter: {prometheus: {host: "${env:K8S_POD_IP}", port: 8888}}}
  pipelines:
    traces: {receivers: [otlp], processors: [memory_limiter], exporters: [load_balancing]}
# é — no final newline`

const standInGateway = "# stand-in gateway config (test only)\r\nextensions:\n  health_check:\n    endpoint: 0.0.0.0:13133\n" +
	"  file_storage/queue:\n    directory: /var/lib/otelcol-prodscope/queue\n" +
	"receivers:\n  otlp:\n    protocols:\n      grpc: {endpoint: \"${env:K8S_POD_IP}:4317\"}\n      http: {endpoint: \"${env:K8S_POD_IP}:4318\"}\n" +
	"  libhoney:\n    http: {endpoint: \"${env:K8S_POD_IP}:8088\"}\n" +
	"exporters:\n  otlp_http/vendor:\n    endpoint: ${env:OTLP_VENDOR_ENDPOINT:-http://vendor.invalid:4318}\n" +
	"service:\n  extensions: [health_check, file_storage/queue]\n   \n" +
	"  telemetry:\n    metrics:\n      readers:\n        - pull:\n            exporter:\n              prometheus: {host: 0.0.0.0, port: 8888}\n"

// copyBase copies the manifests of deploy/kubernetes/base under root to the
// same place under dst.
func copyBase(t *testing.T, root, dst string) {
	t.Helper()
	base := filepath.Join("deploy", "kubernetes", "base")
	if err := os.CopyFS(filepath.Join(dst, base), os.DirFS(filepath.Join(root, base))); err != nil {
		t.Fatal(err)
	}
}

// TestKustomizeBuildStandInConfigs renders a temp copy of the base with
// stand-in configs: the generator's byte-for-byte copy and every manifest
// check run even before the real configs exist, and the negative cases prove
// the config-against-manifest checks catch what would break in a cluster.
func TestKustomizeBuildStandInConfigs(t *testing.T) {
	root := repoRoot(t)
	write := func(dir, agent, gateway string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, "config"), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "config", "agent.yaml"), []byte(agent), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "config", "gateway.yaml"), []byte(gateway), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	tmp := t.TempDir()
	copyBase(t, root, tmp)
	write(tmp, standInAgent, standInGateway)
	objs, err := renderBase(tmp)
	if err != nil {
		t.Fatal(err)
	}
	checkRendered(t, tmp, objs)

	// The same render with configs that would break in a cluster: each
	// must be reported by the config checks.
	bad := []struct {
		name, agent, gateway, want string
	}{
		{"health_check on loopback", strings.Replace(standInAgent, "${env:K8S_POD_IP}:13133", "127.0.0.1:13133", 1), standInGateway, "loopback"},
		{"health_check on another port", standInAgent, strings.Replace(standInGateway, "0.0.0.0:13133", "0.0.0.0:13134", 1), "13133"},
		{"otlp receiver on localhost", strings.Replace(standInAgent, "${env:K8S_POD_IP}:4317", "localhost:4317", 1), standInGateway, "loopback"},
		{"env var the pod does not set", strings.Replace(standInAgent, "${env:K8S_NODE_NAME}", "${env:NODE_NAME}", 1), standInGateway, "NODE_NAME"},
		{"file_storage outside the volume", standInAgent, strings.Replace(standInGateway, "/var/lib/otelcol-prodscope/queue", "/data/queue", 1), "/data/queue"},
		{"file_log outside the host mount", strings.Replace(standInAgent, "/var/log/pods/*/*/*.log", "/var/log/containers/*.log", 1), standInGateway, "/var/log/containers"},
		{"self metrics on loopback", strings.Replace(standInAgent, `host: "${env:K8S_POD_IP}"`, "host: localhost", 1), standInGateway, "prometheus.io/port=8888"},
		{"credential only the optional Secret sets", standInAgent, strings.Replace(standInGateway, "${env:OTLP_VENDOR_ENDPOINT:-http://vendor.invalid:4318}", "${env:OTLP_VENDOR_ENDPOINT}", 1), "OTLP_VENDOR_ENDPOINT"},
		{"load_balancing at the ClusterIP service", strings.Replace(standInAgent, "-prodscope-gateway-headless.prodscope", "-prodscope-gateway.prodscope", 1), standInGateway, "headless"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			copyBase(t, root, dir)
			write(dir, tc.agent, tc.gateway)
			objs, err := renderBase(dir)
			if err != nil {
				t.Fatal(err)
			}
			agentCfg, gatewayCfg := []byte(tc.agent), []byte(tc.gateway)
			ds := find[*appsv1.DaemonSet](t, objs, "DaemonSet", "prodscope-agent")
			sts := find[*appsv1.StatefulSet](t, objs, "StatefulSet", "prodscope-gateway")
			problems := append(configProblems("agent", agentCfg, &ds.Spec.Template), configProblems("gateway", gatewayCfg, &sts.Spec.Template)...)
			if len(problems) == 0 {
				t.Fatalf("no problem reported, want one mentioning %q", tc.want)
			}
			joined := strings.Join(problems, "\n")
			if !strings.Contains(joined, tc.want) {
				t.Fatalf("problems %q do not mention %q", joined, tc.want)
			}
		})
	}
}

func find[T any](t *testing.T, objs []object, kind, name string) T {
	t.Helper()
	for _, o := range objs {
		if o.meta.Kind == kind && o.name == name {
			v, ok := o.value.(T)
			if !ok {
				t.Fatalf("%s %s has type %T", kind, name, o.value)
			}
			return v
		}
	}
	var zero T
	t.Fatalf("rendered output has no %s %s", kind, name)
	return zero
}

// checkRendered asserts what the cluster would run.
func checkRendered(t *testing.T, root string, objs []object) {
	t.Helper()

	// Everything namespaced lands in prodscope, and the namespace is created.
	ns := find[*corev1.Namespace](t, objs, "Namespace", namespace)
	_ = ns
	clusterScoped := map[string]bool{"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true, "PriorityClass": true}
	for _, o := range objs {
		if clusterScoped[o.meta.Kind] {
			continue
		}
		if got := objectNamespace(o.value); got != namespace {
			t.Errorf("%s is in namespace %q, want %q", o.source, got, namespace)
		}
	}

	// The generated ConfigMaps: hashed names, one key, the config files byte for byte.
	cmNames := map[string]string{}
	cfgBytes := map[string][]byte{}
	for base, file := range map[string]string{agentConfigMap: "config/agent.yaml", gatewayConfigMap: "config/gateway.yaml"} {
		want, err := readFileIn(root, file)
		if err != nil {
			t.Fatal(err)
		}
		cfgBytes[base] = want
		var found []*corev1.ConfigMap
		for _, o := range objs {
			if cm, ok := o.value.(*corev1.ConfigMap); ok && strings.HasPrefix(cm.Name, base+"-") {
				found = append(found, cm)
			}
		}
		if len(found) != 1 {
			t.Errorf("%d ConfigMaps named %s-<hash>, want 1", len(found), base)
			continue
		}
		cm := found[0]
		if suffix := strings.TrimPrefix(cm.Name, base+"-"); len(suffix) < 5 {
			t.Errorf("ConfigMap %s: no kustomize content hash suffix", cm.Name)
		}
		cmNames[base] = cm.Name
		if len(cm.Data) != 1 || len(cm.BinaryData) != 0 {
			t.Errorf("ConfigMap %s has keys %v (binary %d), want exactly config.yaml", cm.Name, keys(cm.Data), len(cm.BinaryData))
		}
		if got, ok := cm.Data["config.yaml"]; !ok || got != string(want) {
			t.Errorf("ConfigMap %s config.yaml (%d bytes) differs from %s (%d bytes): the cluster would run a config `make validate` did not check", cm.Name, len(got), file, len(want))
		}
	}

	ds := find[*appsv1.DaemonSet](t, objs, "DaemonSet", "prodscope-agent")
	dep := find[*appsv1.StatefulSet](t, objs, "StatefulSet", "prodscope-gateway")

	// Both workloads: the hardened collector container on the generated ConfigMap.
	// The agent runs as uid 0 (with no capability): see checkAgentState.
	checkCollectorPod(t, "DaemonSet prodscope-agent", &ds.Spec.Template, ds.Spec.Selector.MatchLabels, cmNames[agentConfigMap], true)
	checkCollectorPod(t, "StatefulSet prodscope-gateway", &dep.Spec.Template, dep.Spec.Selector.MatchLabels, cmNames[gatewayConfigMap], false)
	checkAgentScheduling(t, objs, ds)
	checkAgentState(t, ds)
	checkGatewayState(t, dep)

	// The agent: node identity, host ports, container logs, its ServiceAccount.
	agent := &ds.Spec.Template.Spec
	c := agent.Containers[0]
	wantField := map[string]string{
		"K8S_NODE_NAME": "spec.nodeName", "K8S_POD_IP": "status.podIP",
		"K8S_POD_NAME": "metadata.name", "K8S_NAMESPACE": "metadata.namespace",
	}
	for name, field := range wantField {
		e := envVar(c, name)
		if e == nil || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != field {
			t.Errorf("agent env %s: want the downward API field %s, got %+v", name, field, e)
		}
	}
	for _, port := range []int32{4317, 4318} {
		ok := false
		for _, p := range c.Ports {
			if p.ContainerPort == port && p.HostPort == port && p.Protocol == corev1.ProtocolTCP {
				ok = true
			}
		}
		if !ok {
			t.Errorf("agent: no host port %d -> container port %d", port, port)
		}
	}
	if m := mountAt(c, "/var/log/pods"); m == nil || !m.ReadOnly {
		t.Errorf("agent: /var/log/pods must be mounted read-only, got %+v", m)
	} else if v := volume(agent, m.Name); v == nil || v.HostPath == nil || v.HostPath.Path != "/var/log/pods" {
		t.Errorf("agent: the /var/log/pods mount must be the node's /var/log/pods hostPath, got %+v", v)
	}
	if agent.ServiceAccountName != "prodscope-agent" {
		t.Errorf("agent serviceAccountName %q", agent.ServiceAccountName)
	}

	// The gateway: three spread replicas, its ServiceAccount (the queue
	// volume: checkGatewayState).
	gw := &dep.Spec.Template.Spec
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 3 {
		t.Errorf("gateway replicas %v, want 3", dep.Spec.Replicas)
	}
	if len(gw.TopologySpreadConstraints) == 0 {
		t.Error("gateway: no topologySpreadConstraints")
	}
	for _, tsc := range gw.TopologySpreadConstraints {
		if tsc.LabelSelector == nil || !selects(tsc.LabelSelector.MatchLabels, dep.Spec.Template.Labels) {
			t.Errorf("gateway topology spread on %s does not select the gateway pods", tsc.TopologyKey)
		}
	}
	if gw.ServiceAccountName != "prodscope-gateway" {
		t.Errorf("gateway serviceAccountName %q", gw.ServiceAccountName)
	}

	// The Services: the gateway's ports, and the headless one the agents resolve.
	svc := find[*corev1.Service](t, objs, "Service", "prodscope-gateway")
	checkServicePorts(t, svc, &dep.Spec.Template, 4317, 4318, 8088)
	headless := find[*corev1.Service](t, objs, "Service", "prodscope-gateway-headless")
	if headless.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("prodscope-gateway-headless clusterIP %q, want None", headless.Spec.ClusterIP)
	}
	if headless.Spec.PublishNotReadyAddresses {
		t.Error("prodscope-gateway-headless publishes not-ready addresses: agents would route to starting gateways")
	}
	checkServicePorts(t, headless, &dep.Spec.Template, 4317)
	if dep.Spec.ServiceName != headless.Name {
		t.Errorf("StatefulSet serviceName %q, want the headless Service %s", dep.Spec.ServiceName, headless.Name)
	}

	// RBAC (what exactly it grants: TestKustomizeBuild, against the real config).
	role := find[*rbacv1.ClusterRole](t, objs, "ClusterRole", "prodscope-agent")
	crb := find[*rbacv1.ClusterRoleBinding](t, objs, "ClusterRoleBinding", "prodscope-agent")
	if crb.RoleRef.Kind != "ClusterRole" || crb.RoleRef.Name != role.Name {
		t.Errorf("ClusterRoleBinding roleRef %+v", crb.RoleRef)
	}
	if len(crb.Subjects) != 1 || crb.Subjects[0].Kind != "ServiceAccount" || crb.Subjects[0].Name != agent.ServiceAccountName || crb.Subjects[0].Namespace != namespace {
		t.Errorf("ClusterRoleBinding subjects %+v, want the agent's ServiceAccount in %s", crb.Subjects, namespace)
	}
	find[*corev1.ServiceAccount](t, objs, "ServiceAccount", agent.ServiceAccountName)
	gsa := find[*corev1.ServiceAccount](t, objs, "ServiceAccount", gw.ServiceAccountName)
	if gw.AutomountServiceAccountToken == nil || *gw.AutomountServiceAccountToken {
		t.Error("gateway pods mount a ServiceAccount token they have no use for")
	}
	_ = gsa

	// The PDB covers the gateway pods.
	pdb := find[*policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget", "prodscope-gateway")
	if pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, dep.Spec.Template.Labels) {
		t.Error("PodDisruptionBudget prodscope-gateway does not select the gateway pods")
	}
	if pdb.Spec.MaxUnavailable == nil && pdb.Spec.MinAvailable == nil {
		t.Error("PodDisruptionBudget prodscope-gateway sets neither maxUnavailable nor minAvailable")
	}

	// The configs the pods run, against what the pods give them.
	for _, p := range configProblems("agent", cfgBytes[agentConfigMap], &ds.Spec.Template) {
		t.Errorf("config/agent.yaml vs the DaemonSet: %s", p)
	}
	for _, p := range configProblems("gateway", cfgBytes[gatewayConfigMap], &dep.Spec.Template) {
		t.Errorf("config/gateway.yaml vs the StatefulSet: %s", p)
	}
}

func checkCollectorPod(t *testing.T, what string, tpl *corev1.PodTemplateSpec, selector map[string]string, configMap string, rootWithoutCapabilities bool) {
	t.Helper()
	if !selects(selector, tpl.Labels) {
		t.Errorf("%s: selector %v does not match the pod labels %v", what, selector, tpl.Labels)
	}
	spec := &tpl.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", what, len(spec.Containers))
	}
	if len(spec.InitContainers) != 0 {
		t.Errorf("%s: unexpected init containers", what)
	}
	c := spec.Containers[0]
	if c.Image != image || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("%s: image %q pull policy %q, want %q IfNotPresent", what, c.Image, c.ImagePullPolicy, image)
	}
	if !contains(c.Args, configArg) || !contains(c.Args, featureGatesArg) {
		t.Errorf("%s: args %v, want %s and %s", what, c.Args, configArg, featureGatesArg)
	}
	if n := countPrefix(c.Args, "--config"); n != 1 {
		t.Errorf("%s: %d --config args, want 1", what, n)
	}
	// The config: the generated ConfigMap (hash-suffixed name) at /etc/otelcol-prodscope.
	m := mountAt(c, configDir)
	if m == nil || !m.ReadOnly {
		t.Errorf("%s: the config must be mounted read-only at %s, got %+v", what, configDir, m)
	} else if v := volume(spec, m.Name); v == nil || v.ConfigMap == nil || configMap == "" || v.ConfigMap.Name != configMap {
		t.Errorf("%s: the config volume must reference the generated ConfigMap %q, got %+v", what, configMap, v)
	} else if len(v.ConfigMap.Items) != 0 {
		t.Errorf("%s: the config volume maps items %v; config.yaml must appear under its own key", what, v.ConfigMap.Items)
	}

	// Non-root, read-only, no capabilities, no escalation.
	psc := spec.SecurityContext
	csc := c.SecurityContext
	if csc == nil {
		t.Fatalf("%s: no container securityContext", what)
	}
	nonRoot := (csc.RunAsNonRoot != nil && *csc.RunAsNonRoot) || (csc.RunAsNonRoot == nil && psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
	uid := csc.RunAsUser
	if uid == nil && psc != nil {
		uid = psc.RunAsUser
	}
	switch {
	case rootWithoutCapabilities:
		// Root owns the hostPath state directory and the log files; the
		// capability checks below make sure uid 0 is all it has.
		if uid == nil || *uid != 0 {
			t.Errorf("%s: runAsUser %v, want 0 (the owner of the hostPath state directory)", what, uid)
		}
	case !nonRoot || uid == nil || *uid == 0:
		t.Errorf("%s: the container must run as a non-root user (runAsNonRoot %v, runAsUser %v)", what, nonRoot, uid)
	}
	if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Errorf("%s: root filesystem is writable", what)
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Errorf("%s: privilege escalation allowed", what)
	}
	if csc.Privileged != nil && *csc.Privileged {
		t.Errorf("%s: privileged", what)
	}
	if csc.Capabilities == nil || !containsCap(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) != 0 {
		t.Errorf("%s: capabilities %+v, want drop ALL and add nothing", what, csc.Capabilities)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod seccomp profile is not RuntimeDefault", what)
	}

	// Memory: a limit, and GOMEMLIMIT below it.
	limit, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok || limit.IsZero() {
		t.Errorf("%s: no memory limit", what)
	} else if _, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok {
		t.Errorf("%s: no memory request", what)
	} else {
		checkGOMEMLIMIT(t, what, c, limit.Value())
	}
	if _, ok := c.Resources.Limits[corev1.ResourceCPU]; !ok {
		t.Errorf("%s: no cpu limit", what)
	}

	// Probes on the health_check extension.
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: no HTTP %s probe", what, name)
			continue
		}
		port := p.HTTPGet.Port.IntValue()
		if p.HTTPGet.Port.StrVal != "" {
			port = 0
			for _, cp := range c.Ports {
				if cp.Name == p.HTTPGet.Port.StrVal {
					port = int(cp.ContainerPort)
				}
			}
		}
		if port != healthPort {
			t.Errorf("%s: %s probe on port %v, want the health_check extension's %d", what, name, p.HTTPGet.Port.String(), healthPort)
		}
	}
}

// checkGOMEMLIMIT: from the limit through the downward API, or a value
// between half of the limit and 90% of it (the Go runtime needs headroom
// under the cgroup limit).
func checkGOMEMLIMIT(t *testing.T, what string, c corev1.Container, limit int64) {
	t.Helper()
	e := envVar(c, "GOMEMLIMIT")
	if e == nil {
		t.Errorf("%s: no GOMEMLIMIT", what)
		return
	}
	if e.ValueFrom != nil {
		if rf := e.ValueFrom.ResourceFieldRef; rf == nil || rf.Resource != "limits.memory" {
			t.Errorf("%s: GOMEMLIMIT from %+v, want resourceFieldRef limits.memory", what, e.ValueFrom)
		}
		return
	}
	v, err := parseGoMemLimit(e.Value)
	if err != nil {
		t.Errorf("%s: GOMEMLIMIT %q: %v", what, e.Value, err)
		return
	}
	if v > limit*9/10 || v < limit/2 {
		t.Errorf("%s: GOMEMLIMIT %q = %d bytes, want 50-90%% of the %d-byte memory limit", what, e.Value, v, limit)
	}
}

// parseGoMemLimit parses the GOMEMLIMIT syntax of the Go runtime (a byte
// count with an optional B, KiB, MiB, GiB or TiB suffix).
func parseGoMemLimit(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	var n int64
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || strconv.FormatInt(n, 10) != s || n <= 0 {
		return 0, errors.New("not a Go memory limit")
	}
	return n * mult, nil
}

func checkServicePorts(t *testing.T, svc *corev1.Service, tpl *corev1.PodTemplateSpec, ports ...int32) {
	t.Helper()
	if len(svc.Spec.Selector) == 0 || !selects(svc.Spec.Selector, tpl.Labels) {
		t.Errorf("Service %s selector %v does not select the gateway pods %v", svc.Name, svc.Spec.Selector, tpl.Labels)
	}
	c := tpl.Spec.Containers[0]
	for _, want := range ports {
		found := false
		for _, p := range svc.Spec.Ports {
			if p.Port != want {
				continue
			}
			found = true
			target := p.TargetPort.IntValue()
			if p.TargetPort.StrVal != "" {
				target = 0
				for _, cp := range c.Ports {
					if cp.Name == p.TargetPort.StrVal {
						target = int(cp.ContainerPort)
					}
				}
			}
			if target != int(want) {
				t.Errorf("Service %s port %d targets %s, which is container port %d", svc.Name, want, p.TargetPort.String(), target)
			}
		}
		if !found {
			t.Errorf("Service %s has no port %d", svc.Name, want)
		}
	}
}

func objectNamespace(v any) string {
	type namespaced interface{ GetNamespace() string }
	if o, ok := v.(namespaced); ok {
		return o.GetNamespace()
	}
	return ""
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func envVar(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func mountAt(c corev1.Container, path string) *corev1.VolumeMount {
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].MountPath == path {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

func volume(spec *corev1.PodSpec, name string) *corev1.Volume {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsCap(list []corev1.Capability, s corev1.Capability) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func countPrefix(list []string, prefix string) int {
	n := 0
	for _, x := range list {
		if strings.HasPrefix(x, prefix) {
			n++
		}
	}
	return n
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
