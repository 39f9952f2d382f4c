// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package kubernetes_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/builtin"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"sigs.k8s.io/yaml"
)

// checkAgentScheduling: an agent runs on every node, whatever its taints, and
// keeps its place on a full node. Apps on a node export to the agent's host
// port: a node without an agent silently loses their telemetry.
func checkAgentScheduling(t *testing.T, objs []object, ds *appsv1.DaemonSet) {
	t.Helper()
	spec := &ds.Spec.Template.Spec
	all := false
	for _, tol := range spec.Tolerations {
		if tol.Key == "" && tol.Operator == corev1.TolerationOpExists && tol.Effect == "" {
			all = true
		}
	}
	if !all {
		t.Errorf("agent tolerations %+v: want {operator: Exists} (every taint), so that no tainted node is left without an agent", spec.Tolerations)
	}
	if spec.PriorityClassName == "" {
		t.Error("agent has no priorityClassName: on a full node it waits behind the apps that export to it")
		return
	}
	pc := find[*schedulingv1.PriorityClass](t, objs, "PriorityClass", spec.PriorityClassName)
	// Above every ordinary workload (0 unless a class says otherwise), below
	// the system classes (2000000000 and up) the node's own components use.
	if pc.Value <= 0 || pc.Value >= 1000000000 {
		t.Errorf("PriorityClass %s value %d, want above ordinary workloads and below the system classes", pc.Name, pc.Value)
	}
	if pc.GlobalDefault {
		t.Errorf("PriorityClass %s is the global default: every pod would get it", pc.Name)
	}
}

// checkAgentState: the agent's queues and file_log checkpoints live in a
// hostPath that survives pod replacement (a DaemonSet rollout deletes the pod,
// and an emptyDir with it), one directory per namespace.
func checkAgentState(t *testing.T, ds *appsv1.DaemonSet) {
	t.Helper()
	spec := &ds.Spec.Template.Spec
	c := spec.Containers[0]
	m := mountAt(c, queueDir)
	if m == nil || m.ReadOnly {
		t.Errorf("agent: %s must be a writable mount (file_storage), got %+v", queueDir, m)
		return
	}
	v := volume(spec, m.Name)
	if v == nil || v.HostPath == nil {
		t.Errorf("agent: the state volume must be a hostPath (an emptyDir is wiped by every rollout), got %+v", v)
		return
	}
	if v.HostPath.Type == nil || *v.HostPath.Type != corev1.HostPathDirectoryOrCreate {
		t.Errorf("agent: state hostPath type %v, want DirectoryOrCreate (a new node has no directory yet)", v.HostPath.Type)
	}
	if strings.HasPrefix(v.HostPath.Path, "/var/log") {
		t.Errorf("agent: state hostPath %s is in the log directory", v.HostPath.Path)
	}
	if !strings.Contains(m.SubPathExpr, "$(K8S_NAMESPACE)") {
		t.Errorf("agent: state mount subPathExpr %q, want one directory per namespace ($(K8S_NAMESPACE)), so two installs on a node never share a queue", m.SubPathExpr)
	}
}

// checkGatewayState: each gateway replica's queue is its own volume claim,
// kept across pod replacement and scale-down, and the pod drains before its
// receivers close.
func checkGatewayState(t *testing.T, sts *appsv1.StatefulSet) {
	t.Helper()
	spec := &sts.Spec.Template.Spec
	c := spec.Containers[0]
	m := mountAt(c, queueDir)
	if m == nil || m.ReadOnly {
		t.Errorf("gateway: %s must be a writable mount (file_storage queues), got %+v", queueDir, m)
	} else {
		if v := volume(spec, m.Name); v != nil {
			t.Errorf("gateway: the queue mount %q is a pod volume (%+v), not the replica's volume claim", m.Name, v)
		}
		var claim *corev1.PersistentVolumeClaim
		for i := range sts.Spec.VolumeClaimTemplates {
			if sts.Spec.VolumeClaimTemplates[i].Name == m.Name {
				claim = &sts.Spec.VolumeClaimTemplates[i]
			}
		}
		switch {
		case claim == nil:
			t.Errorf("gateway: no volumeClaimTemplate %q for the queue mount", m.Name)
		case !slices.Contains(claim.Spec.AccessModes, corev1.ReadWriteOnce):
			t.Errorf("gateway: queue claim access modes %v, want ReadWriteOnce (one queue, one process)", claim.Spec.AccessModes)
		default:
			if q, ok := claim.Spec.Resources.Requests[corev1.ResourceStorage]; !ok || q.IsZero() {
				t.Error("gateway: queue claim requests no storage")
			}
		}
	}
	if r := sts.Spec.PersistentVolumeClaimRetentionPolicy; r == nil ||
		r.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType ||
		r.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("gateway: PVC retention %+v, want Retain when scaled and when deleted (a removed replica's queue waits on its claim)", r)
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("gateway: podManagementPolicy %q, want Parallel (replicas are independent)", sts.Spec.PodManagementPolicy)
	}
	// preStop: the kubelet's sleep (the image has no shell), shorter than the grace period.
	grace := int64(30)
	if spec.TerminationGracePeriodSeconds != nil {
		grace = *spec.TerminationGracePeriodSeconds
	}
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Errorf("gateway: no preStop sleep: on SIGTERM its receivers close while agents still send to it (lifecycle %+v)", c.Lifecycle)
	} else if s := c.Lifecycle.PreStop.Sleep.Seconds; s < 6 || s+20 > grace {
		// At least the agents' DNS re-resolution interval (5s), and 20s of
		// the grace period left for the collector's own shutdown.
		t.Errorf("gateway: preStop sleeps %ds with a %ds grace period; want > 5s (the agents' resolver interval) and 20s left to shut down", s, grace)
	}
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Exec != nil {
		t.Errorf("gateway: preStop exec %v: the scratch image has no programs but the collector", c.Lifecycle.PreStop.Exec.Command)
	}
}

// agentDurabilityProblems checks the agent config for what loses data on a
// restart: load_balancing exporters must queue on disk at their own level,
// retry without a time limit, and keep the per-replica OTLP exporter free of
// its own (in-memory) queue and retry (contrib's loadbalancingexporter README,
// resiliency options); file_log must keep checkpoints; no batch processor in
// front of the disk queue.
func agentDurabilityProblems(cfg []byte) []string {
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var doc map[string]any
	if err := yaml.Unmarshal(cfg, &doc); err != nil {
		return []string{err.Error()}
	}
	extensions, _ := doc["extensions"].(map[string]any)
	service, _ := doc["service"].(map[string]any)
	enabled := stringList(service["extensions"])
	isStorage := func(id string) bool {
		_, ok := extensions[id]
		return ok && componentType(id) == "file_storage" && contains(enabled, id)
	}
	receivers, _ := doc["receivers"].(map[string]any)
	for id, v := range receivers {
		if componentType(id) != "file_log" {
			continue
		}
		r, _ := v.(map[string]any)
		if s, _ := r["storage"].(string); !isStorage(s) {
			report("receiver %s has no storage (file_storage in service.extensions): lines written while the agent restarts are skipped", id)
		}
	}
	exporters, _ := doc["exporters"].(map[string]any)
	for id, v := range exporters {
		if componentType(id) != "load_balancing" {
			continue
		}
		e, _ := v.(map[string]any)
		q, _ := e["sending_queue"].(map[string]any)
		if q == nil || q["enabled"] != true || !isStorage(fmt.Sprint(q["storage"])) {
			report("exporter %s: sending_queue must be enabled with a file_storage at the exporter's level (%v)", id, q)
		}
		r, _ := e["retry_on_failure"].(map[string]any)
		if r == nil || r["enabled"] != true {
			report("exporter %s: retry_on_failure must be enabled at the exporter's level: a failed batch is re-routed, not dropped", id)
		} else if m, ok := r["max_elapsed_time"]; !ok || fmt.Sprint(m) != "0" {
			report("exporter %s: retry_on_failure.max_elapsed_time %v, want 0 (the queue size is the bound, not a clock)", id, r["max_elapsed_time"])
		}
		protocol, _ := e["protocol"].(map[string]any)
		otlp, _ := protocol["otlp"].(map[string]any)
		if sq, _ := otlp["sending_queue"].(map[string]any); sq == nil || sq["enabled"] != false {
			report("exporter %s: protocol.otlp.sending_queue must be disabled (a per-replica in-memory queue dies with the replica or the process)", id)
		}
		if rr, _ := otlp["retry_on_failure"].(map[string]any); rr == nil || rr["enabled"] != false {
			report("exporter %s: protocol.otlp.retry_on_failure must be disabled (failures go back to the disk queue and are re-routed)", id)
		}
	}
	pipelines, _ := service["pipelines"].(map[string]any)
	for name, v := range pipelines {
		p, _ := v.(map[string]any)
		for _, proc := range stringList(p["processors"]) {
			if componentType(proc) == "batch" {
				report("pipeline %s has the batch processor: it holds acknowledged data in memory in front of the disk queue (batch in sending_queue instead)", name)
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// gatewayDurabilityProblems: every exporter with a queue queues on disk and
// retries without a time limit (a vendor outage longer than a timer must not
// drop data while the disk has room).
func gatewayDurabilityProblems(cfg []byte) []string {
	var problems []string
	var doc map[string]any
	if err := yaml.Unmarshal(cfg, &doc); err != nil {
		return []string{err.Error()}
	}
	exporters, _ := doc["exporters"].(map[string]any)
	for id, v := range exporters {
		e, _ := v.(map[string]any)
		q, _ := e["sending_queue"].(map[string]any)
		if q == nil || q["enabled"] != true || q["storage"] == nil {
			problems = append(problems, fmt.Sprintf("exporter %s: no persistent sending_queue", id))
		}
		r, _ := e["retry_on_failure"].(map[string]any)
		if r == nil || r["enabled"] != true || fmt.Sprint(r["max_elapsed_time"]) != "0" {
			problems = append(problems, fmt.Sprintf("exporter %s: retry_on_failure %v, want enabled with max_elapsed_time 0", id, r))
		}
	}
	sort.Strings(problems)
	return problems
}

// grant is one (API group, resource, verb[, object name]) the agent reads.
type grant struct{ group, resource, verb, name string }

func (g grant) String() string {
	s := fmt.Sprintf("%s %q/%s", g.verb, g.group, g.resource)
	if g.name != "" {
		s += " " + g.name
	}
	return s
}

// agentAPINeeds derives, from the agent config, what its components read
// from the API server. The verbs and resources are those the components'
// READMEs list (k8sattributesprocessor, k8sobserver, resourcedetection's
// k8s_api detector) and Prometheus' Kubernetes service discovery.
func agentAPINeeds(cfg []byte) ([]grant, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(cfg, &doc); err != nil {
		return nil, err
	}
	service, _ := doc["service"].(map[string]any)
	pipelines, _ := service["pipelines"].(map[string]any)
	used := map[string]bool{}
	for _, id := range stringList(service["extensions"]) {
		used[id] = true
	}
	for _, v := range pipelines {
		p, _ := v.(map[string]any)
		for _, k := range []string{"receivers", "processors", "exporters"} {
			for _, id := range stringList(p[k]) {
				used[id] = true
			}
		}
	}
	var needs []grant
	read := func(group, resource string, verbs ...string) {
		for _, v := range verbs {
			needs = append(needs, grant{group: group, resource: resource, verb: v})
		}
	}
	section := func(name string) map[string]any { m, _ := doc[name].(map[string]any); return m }
	for id, v := range section("processors") {
		c, _ := v.(map[string]any)
		if !used[id] {
			continue
		}
		switch componentType(id) {
		case "k8sattributes", "k8s_attributes":
			read("", "pods", "get", "list", "watch")
			extract, _ := c["extract"].(map[string]any)
			md := stringList(extract["metadata"])
			if contains(md, "k8s.deployment.uid") {
				read("apps", "replicasets", "get", "list", "watch")
			}
			if contains(md, "k8s.node.uid") {
				read("", "nodes", "get", "list", "watch")
			}
			if contains(md, "k8s.cluster.uid") {
				read("", "namespaces", "get", "list", "watch")
			}
			for _, k := range []string{"labels", "annotations"} {
				list, _ := extract[k].([]any)
				for _, x := range list {
					f, _ := x.(map[string]any)
					switch f["from"] {
					case "namespace":
						read("", "namespaces", "get", "list", "watch")
					case "node":
						read("", "nodes", "get", "list", "watch")
					case "deployment", "replicaset":
						read("apps", "replicasets", "get", "list", "watch")
					}
				}
			}
		case "resourcedetection", "resource_detection":
			for _, d := range stringList(c["detectors"]) {
				if d == "k8s_api" || d == "k8snode" {
					read("", "nodes", "get", "list")
					needs = append(needs, grant{group: "", resource: "namespaces", verb: "get", name: "kube-system"})
				}
			}
		}
	}
	for id, v := range section("extensions") {
		c, _ := v.(map[string]any)
		if !used[id] || componentType(id) != "k8s_observer" {
			continue
		}
		if c["observe_pods"] != false {
			read("", "pods", "get", "list", "watch")
		}
		if c["observe_nodes"] == true {
			read("", "nodes", "get", "list", "watch")
		}
		if c["observe_services"] == true {
			read("", "services", "get", "list", "watch")
		}
		if c["observe_ingresses"] == true {
			read("networking.k8s.io", "ingresses", "get", "list", "watch")
		}
	}
	for id, v := range section("receivers") {
		c, _ := v.(map[string]any)
		if !used[id] || componentType(id) != "prometheus" {
			continue
		}
		config, _ := c["config"].(map[string]any)
		scrapes, _ := config["scrape_configs"].([]any)
		for _, s := range scrapes {
			sc, _ := s.(map[string]any)
			sds, _ := sc["kubernetes_sd_configs"].([]any)
			for _, sd := range sds {
				m, _ := sd.(map[string]any)
				switch m["role"] {
				case "pod":
					read("", "pods", "list", "watch")
				case "node":
					read("", "nodes", "list", "watch")
				case "service":
					read("", "services", "list", "watch")
				case "endpoints":
					read("", "endpoints", "list", "watch")
					read("", "services", "list", "watch")
					read("", "pods", "list", "watch")
				}
			}
		}
	}
	return needs, nil
}

// rbacProblems: the ClusterRole grants every read the config's components
// make, and nothing they do not.
func rbacProblems(cfg []byte, rules []rbacv1.PolicyRule) []string {
	needs, err := agentAPINeeds(cfg)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	covers := func(r rbacv1.PolicyRule, g grant) bool {
		if !contains(r.APIGroups, g.group) || !contains(r.Resources, g.resource) || !contains(r.Verbs, g.verb) {
			return false
		}
		return len(r.ResourceNames) == 0 || (g.name != "" && contains(r.ResourceNames, g.name))
	}
	for _, g := range needs {
		ok := false
		for _, r := range rules {
			ok = ok || covers(r, g)
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("does not grant %s, which config/agent.yaml's components read", g))
		}
	}
	for _, r := range rules {
		for _, group := range r.APIGroups {
			for _, res := range r.Resources {
				for _, verb := range r.Verbs {
					if verb == "*" || res == "*" || group == "*" {
						problems = append(problems, fmt.Sprintf("grants a wildcard (%v %v %v)", r.APIGroups, r.Resources, r.Verbs))
						continue
					}
					used := false
					for _, g := range needs {
						if g.group == group && g.resource == res && g.verb == verb &&
							(len(r.ResourceNames) == 0) == (g.name == "") {
							used = used || g.name == "" || contains(r.ResourceNames, g.name)
						}
					}
					if !used {
						problems = append(problems, fmt.Sprintf("grants %s %q/%s %v, which no component of config/agent.yaml reads", verb, group, res, r.ResourceNames))
					}
				}
			}
		}
	}
	sort.Strings(problems)
	return slices.Compact(problems)
}

// TestRBACMatchesConfig proves rbacProblems catches both directions: a rule
// the config needs and the role lacks, and a rule granted that nothing reads.
func TestRBACMatchesConfig(t *testing.T) {
	cfg, err := readFileIn(repoRoot(t), "config/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeFile("agent-rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var role *rbacv1.ClusterRole
	for _, o := range objs {
		if r, ok := o.value.(*rbacv1.ClusterRole); ok {
			role = r
		}
	}
	if role == nil {
		t.Fatal("agent-rbac.yaml has no ClusterRole")
	}
	if p := rbacProblems(cfg, role.Rules); len(p) != 0 {
		t.Fatalf("the shipped role and config disagree: %v", p)
	}
	// Worked out by hand from the components' READMEs: pods only
	// (k8s_attributes, k8s_observer, prometheus pod discovery).
	needs, _ := agentAPINeeds(cfg)
	got := map[string]bool{}
	for _, g := range needs {
		got[g.String()] = true
	}
	for _, want := range []string{`get ""/pods`, `list ""/pods`, `watch ""/pods`} {
		if !got[want] {
			t.Errorf("derived needs %v lack %s", keysOf(got), want)
		}
	}
	if len(got) != 3 {
		t.Errorf("derived needs %v, want exactly the 3 above", keysOf(got))
	}

	extra := append(slices.Clone(role.Rules), rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"nodes", "nodes/stats"}, Verbs: []string{"get"}})
	if p := rbacProblems(cfg, extra); len(p) != 2 || !strings.Contains(strings.Join(p, " "), "nodes/stats") {
		t.Errorf("unused nodes and nodes/stats rules: problems %v", p)
	}
	var noPods []rbacv1.PolicyRule
	for _, r := range role.Rules {
		if !contains(r.Resources, "pods") {
			noPods = append(noPods, r)
		}
	}
	if p := rbacProblems(cfg, noPods); len(p) != 3 || !strings.Contains(strings.Join(p, " "), `""/pods`) {
		t.Errorf("without the pods rule: problems %v", p)
	}
	withAPI := []byte(strings.Replace(string(cfg), "detectors: [env]", "detectors: [env, k8s_api]", 1))
	if p := rbacProblems(withAPI, role.Rules); len(p) != 3 || !strings.Contains(strings.Join(p, " "), "kube-system") {
		t.Errorf("the k8s_api detector without its nodes and kube-system rules: problems %v", p)
	}
	withUID := []byte(strings.Replace(string(cfg), "metadata: [", "metadata: [k8s.deployment.uid, ", 1))
	if p := rbacProblems(withUID, role.Rules); len(p) != 3 || !strings.Contains(p[0], "replicasets") {
		t.Errorf("extracting k8s.deployment.uid without replicasets: problems %v", p)
	}
}

func keysOf(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestDurabilityChecksCatchLossySettings: each setting the issue found losing
// data is reported by the config checks the kustomize tests run.
func TestDurabilityChecksCatchLossySettings(t *testing.T) {
	root := repoRoot(t)
	agent, err := readFileIn(root, "config/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gateway, err := readFileIn(root, "config/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p := agentDurabilityProblems(agent); len(p) != 0 {
		t.Fatalf("config/agent.yaml: %v", p)
	}
	if p := gatewayDurabilityProblems(gateway); len(p) != 0 {
		t.Fatalf("config/gateway.yaml: %v", p)
	}
	cases := []struct {
		name, old, new, want string
	}{
		{"sub-exporter queue on", "        sending_queue:\n          enabled: false", "        sending_queue:\n          enabled: true", "protocol.otlp.sending_queue"},
		{"top-level retry off", "    retry_on_failure:\n      enabled: true", "    retry_on_failure:\n      enabled: false", "retry_on_failure must be enabled"},
		{"retry gives up", "      max_elapsed_time: 0", "      max_elapsed_time: 10m", "max_elapsed_time"},
		{"queue in memory", "      storage: file_storage/queue\n      sizer", "      sizer", "sending_queue must be enabled with a file_storage"},
		{"file_log without checkpoints", "    storage: file_storage/queue\n", "", "receiver file_log has no storage"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(agent), tc.old) {
				t.Fatalf("config/agent.yaml no longer contains %q: update this test", tc.old)
			}
			bad := []byte(strings.Replace(string(agent), tc.old, tc.new, 1))
			p := agentDurabilityProblems(bad)
			if !strings.Contains(strings.Join(p, "\n"), tc.want) {
				t.Fatalf("problems %v do not mention %q", p, tc.want)
			}
		})
	}
	// The batch processor in front of the queue.
	batched := strings.Replace(string(agent), "processors:\n", "processors:\n  batch: {}\n", 1)
	batched = strings.Replace(batched, "processors: [memory_limiter,", "processors: [batch, memory_limiter,", 1)
	if p := agentDurabilityProblems([]byte(batched)); !strings.Contains(strings.Join(p, "\n"), "batch processor") {
		t.Errorf("a batch processor in front of the queue: problems %v", p)
	}
	// The gateway giving up after a 10-minute vendor outage.
	if !strings.Contains(string(gateway), "max_elapsed_time: 0") {
		t.Fatal("config/gateway.yaml no longer contains max_elapsed_time: 0: update this test")
	}
	if p := gatewayDurabilityProblems([]byte(strings.Replace(string(gateway), "max_elapsed_time: 0", "max_elapsed_time: 10m", 1))); len(p) != 1 {
		t.Errorf("a gateway exporter retrying for 10m only: problems %v", p)
	}
}

// TestPprofRuleFollowsAnnotation evaluates the agent's receiver_creator rule
// the way receiver_creator does (expr, the same compile options) against the
// environment k8s_observer gives a pod's declared port (observer.Port.Env:
// type "port", port as uint16, pod.annotations as map[string]string): the
// documented prodscope.io/pprof-port annotation picks the port, 6060 when
// absent.
func TestPprofRuleFollowsAnnotation(t *testing.T) {
	raw, err := readFileIn(repoRoot(t), "config/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err = yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	rc, _ := doc["receivers"].(map[string]any)["receiver_creator/pprof"].(map[string]any)
	rs, _ := rc["receivers"].(map[string]any)
	ps, _ := rs["pprofscrape"].(map[string]any)
	rule, _ := ps["rule"].(string)
	if rule == "" {
		t.Fatal("config/agent.yaml: no receiver_creator/pprof rule for pprofscrape")
	}
	program, err := expr.Compile(rule,
		expr.DisableBuiltin("type"),
		expr.Function("typeOf", func(params ...any) (any, error) { return builtin.Type(params[0]), nil }, new(func(any) string)),
	)
	if err != nil {
		t.Fatalf("rule %q: %v", rule, err)
	}
	portEnv := func(port uint16, annotations map[string]string) map[string]any {
		return map[string]any{
			"type": "port", "id": "pod-uid/port", "name": "pprof", "endpoint": fmt.Sprintf("10.0.0.7:%d", port),
			"port": port, "transport": "TCP",
			"pod": map[string]any{
				"name": "checkout-7d9f", "namespace": "shop", "uid": "pod-uid",
				"labels": map[string]string{"app.kubernetes.io/name": "checkout"}, "annotations": annotations,
			},
		}
	}
	on := map[string]string{"prodscope.io/pprof": "true"}
	with := func(port string) map[string]string {
		return map[string]string{"prodscope.io/pprof": "true", "prodscope.io/pprof-port": port}
	}
	cases := []struct {
		name string
		env  map[string]any
		want bool
	}{
		{"annotated port", portEnv(7070, with("7070")), true},
		{"another declared port of the same pod", portEnv(8080, with("7070")), false},
		{"6060 when the port annotation names another", portEnv(6060, with("7070")), false},
		{"6060 without a port annotation", portEnv(6060, on), true},
		{"other port without a port annotation", portEnv(7070, on), false},
		{"port annotation without opting in", portEnv(7070, map[string]string{"prodscope.io/pprof-port": "7070"}), false},
		{"no annotations", portEnv(6060, map[string]string{}), false},
		{"a pod endpoint, not a port", map[string]any{"type": "pod", "pod": map[string]any{"annotations": with("6060")}}, false},
	}
	for _, tc := range cases {
		out, err := expr.Run(program, tc.env)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got, ok := out.(bool); !ok || got != tc.want {
			t.Errorf("%s: rule says %v, want %v", tc.name, out, tc.want)
		}
	}
}

// TestNamespaceFromOnePlace renders the base under an overlay that sets
// another namespace, the way a platform team installs into its own: every
// namespaced object moves, the ClusterRoleBinding follows, and nothing the
// cluster runs still names the base's namespace (the agent config reads it
// from the downward API, the gateway is resolved by its short name).
func TestNamespaceFromOnePlace(t *testing.T) {
	root := repoRoot(t)
	tmp := t.TempDir()
	copyBase(t, root, tmp)
	for _, f := range []string{"agent.yaml", "gateway.yaml"} {
		b, err := readFileIn(root, "config/"+f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(tmp, "config"), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, "config", f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const other = "observability"
	overlay := filepath.Join(tmp, "overlay")
	if err := os.MkdirAll(overlay, 0o750); err != nil {
		t.Fatal(err)
	}
	kz := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: " + other + "\nresources:\n  - ../deploy/kubernetes/base\n"
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(kz), 0o600); err != nil {
		t.Fatal(err)
	}
	objs, err := renderDir(overlay)
	if err != nil {
		t.Fatal(err)
	}
	clusterScoped := map[string]bool{"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true, "PriorityClass": true}
	for _, o := range objs {
		if !clusterScoped[o.meta.Kind] {
			if got := objectNamespace(o.value); got != other {
				t.Errorf("%s is in namespace %q, want the overlay's %q", o.source, got, other)
			}
		}
		if ns, ok := o.value.(*corev1.Namespace); ok && ns.Name != other {
			t.Errorf("the render creates namespace %q, want the overlay's %q", ns.Name, other)
		}
		if crb, ok := o.value.(*rbacv1.ClusterRoleBinding); ok {
			for _, s := range crb.Subjects {
				if s.Namespace != other {
					t.Errorf("ClusterRoleBinding %s subject %s in %q, want %q", crb.Name, s.Name, s.Namespace, other)
				}
			}
		}
		if cm, ok := o.value.(*corev1.ConfigMap); ok {
			for _, hardCoded := range []string{namespace + "_", "." + namespace + ".svc", "." + namespace + "."} {
				if strings.Contains(strings.ReplaceAll(cm.Data["config.yaml"], "${env:K8S_NAMESPACE:-"+namespace+"}", ""), hardCoded) {
					t.Errorf("ConfigMap %s names the namespace %q (%q) outside ${env:K8S_NAMESPACE}: it would be wrong in %q", cm.Name, namespace, hardCoded, other)
				}
			}
		}
	}
	// The agent's log exclude follows the namespace it runs in.
	cfg, _ := readFileIn(root, "config/agent.yaml")
	if !strings.Contains(string(cfg), "/var/log/pods/${env:K8S_NAMESPACE") {
		t.Error("config/agent.yaml: file_log does not exclude its own namespace's pods by ${env:K8S_NAMESPACE}")
	}
}

// deprecatedTypes: component type aliases the built components still accept
// but have renamed (each component's metadata: DeprecatedType in
// internal/metadata/generated_status.go of the versions in builder-config.yaml).
var deprecatedTypes = map[string]string{
	"filelog":           "file_log",
	"loadbalancing":     "load_balancing",
	"otlphttp":          "otlp_http",
	"k8sattributes":     "k8s_attributes",
	"resourcedetection": "resource_detection",
}

// TestConfigsUseCurrentComponentNames: the agent and gateway configs name
// every component by its current type, not a deprecated alias.
func TestConfigsUseCurrentComponentNames(t *testing.T) {
	root := repoRoot(t)
	for _, f := range []string{"config/agent.yaml", "config/gateway.yaml"} {
		raw, err := readFileIn(root, f)
		if err != nil {
			t.Fatal(err)
		}
		if p := deprecatedAliases(raw); len(p) != 0 {
			t.Errorf("%s: %v", f, p)
		}
	}
	if p := deprecatedAliases([]byte("processors:\n  k8sattributes: {}\nexporters:\n  otlphttp/x: {}\n")); len(p) != 2 {
		t.Errorf("deprecated aliases not caught: %v", p)
	}
}

func deprecatedAliases(cfg []byte) []string {
	var doc map[string]any
	if err := yaml.Unmarshal(cfg, &doc); err != nil {
		return []string{err.Error()}
	}
	var problems []string
	for _, section := range []string{"receivers", "processors", "exporters", "extensions", "connectors"} {
		m, _ := doc[section].(map[string]any)
		for id := range m {
			if now, ok := deprecatedTypes[componentType(id)]; ok {
				problems = append(problems, fmt.Sprintf("%s %s uses the deprecated type %q (now %q)", section, id, componentType(id), now))
			}
		}
	}
	sort.Strings(problems)
	return problems
}
