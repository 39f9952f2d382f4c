// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package kubernetes_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// The official collector chart's top-level values keys (chart 0.170.0,
// values.schema.json, which sets additionalProperties: false): a key outside
// this list would make `helm install` refuse the values file.
var chartValueKeys = strings.Fields(`additionalLabels affinity alternateConfig annotations apiVersion
	autoscaling clusterRole command config configMap dnsConfig dnsPolicy enableConfigChecksumAnnotation
	enabled extraContainers extraEnvs extraEnvsFrom extraManifests extraVolumeMounts extraVolumes
	fullnameOverride global hostAliases hostNetwork hostPID httproute image imagePullSecrets ingress
	initContainers internalTelemetryViaOTLP lifecycleHooks livenessProbe mode nameOverride
	namespaceOverride networkPolicy nodeSelector podAnnotations podDisruptionBudget podLabels podMonitor
	podSecurityContext ports presets priorityClassName prometheusRule readinessProbe replicaCount
	resizePolicy resources revisionHistoryLimit rewriteDeprecatedComponentNames rollout runtimeClassName
	schedulerName securityContext service serviceAccount serviceMonitor shareProcessNamespace
	startupProbe statefulset terminationGracePeriodSeconds tolerations topologySpreadConstraints
	useGOMEMLIMIT`)

// chartValues is the part of the chart's values our files set that maps onto
// Kubernetes API types; those parts are decoded strictly.
type chartValues struct {
	Mode             string `json:"mode"`
	FullnameOverride string `json:"fullnameOverride"`
	ReplicaCount     *int   `json:"replicaCount"`
	Image            struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
		PullPolicy string `json:"pullPolicy"`
	} `json:"image"`
	Command struct {
		Name      string   `json:"name"`
		ExtraArgs []string `json:"extraArgs"`
	} `json:"command"`
	ConfigMap struct {
		Create       bool   `json:"create"`
		ExistingName string `json:"existingName"`
	} `json:"configMap"`
	ExtraEnvs          []corev1.EnvVar             `json:"extraEnvs"`
	ExtraEnvsFrom      []corev1.EnvFromSource      `json:"extraEnvsFrom"`
	Resources          corev1.ResourceRequirements `json:"resources"`
	UseGOMEMLIMIT      bool                        `json:"useGOMEMLIMIT"`
	PodSecurityContext corev1.PodSecurityContext   `json:"podSecurityContext"`
	SecurityContext    corev1.SecurityContext      `json:"securityContext"`
	ServiceAccount     struct {
		Create                       bool   `json:"create"`
		Name                         string `json:"name"`
		AutomountServiceAccountToken *bool  `json:"automountServiceAccountToken"`
	} `json:"serviceAccount"`
	ClusterRole *struct {
		Create             bool                `json:"create"`
		Name               string              `json:"name"`
		Rules              []rbacv1.PolicyRule `json:"rules"`
		ClusterRoleBinding struct {
			Name string `json:"name"`
		} `json:"clusterRoleBinding"`
	} `json:"clusterRole"`
	Ports map[string]struct {
		Enabled       bool   `json:"enabled"`
		ContainerPort int32  `json:"containerPort"`
		ServicePort   int32  `json:"servicePort"`
		HostPort      int32  `json:"hostPort"`
		Protocol      string `json:"protocol"`
		AppProtocol   string `json:"appProtocol"`
	} `json:"ports"`
	ExtraVolumes                  []corev1.Volume                   `json:"extraVolumes"`
	ExtraVolumeMounts             []corev1.VolumeMount              `json:"extraVolumeMounts"`
	PodAnnotations                map[string]string                 `json:"podAnnotations"`
	Tolerations                   []corev1.Toleration               `json:"tolerations"`
	TopologySpreadConstraints     []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints"`
	TerminationGracePeriodSeconds *int64                            `json:"terminationGracePeriodSeconds"`
	Rollout                       map[string]any                    `json:"rollout"`
	PodDisruptionBudget           map[string]any                    `json:"podDisruptionBudget"`
	ExtraManifests                []json.RawMessage                 `json:"extraManifests"`
	PriorityClassName             string                            `json:"priorityClassName"`
	LifecycleHooks                *corev1.Lifecycle                 `json:"lifecycleHooks"`
	Statefulset                   *struct {
		PodManagementPolicy                  string `json:"podManagementPolicy"`
		PersistentVolumeClaimRetentionPolicy struct {
			Enabled     bool   `json:"enabled"`
			WhenDeleted string `json:"whenDeleted"`
			WhenScaled  string `json:"whenScaled"`
		} `json:"persistentVolumeClaimRetentionPolicy"`
		VolumeClaimTemplates []corev1.PersistentVolumeClaim `json:"volumeClaimTemplates"`
	} `json:"statefulset"`
}

// chartWorkloadName is the name the chart gives its workload (templates
// daemonset.yaml and statefulset.yaml): "<fullname>-agent" for a DaemonSet,
// "<fullname>" otherwise.
func chartWorkloadName(mode, fullname string) string {
	if mode == "daemonset" {
		return fullname + "-agent"
	}
	return fullname
}

// chartComponent is the chart's component pod label per mode (_helpers.tpl).
func chartComponent(mode string) string {
	return map[string]string{"daemonset": "agent-collector", "deployment": "standalone-collector", "statefulset": "statefulset-collector"}[mode]
}

// extraManifests decodes the values' extraManifests strictly.
func extraManifests(t *testing.T, v *chartValues) []any {
	t.Helper()
	var out []any
	for _, raw := range v.ExtraManifests {
		y, err := yaml.JSONToYAML(raw)
		if err != nil {
			t.Fatal(err)
		}
		obj, _, err := decodeStrict(y)
		if err != nil {
			t.Errorf("extraManifests: %v", err)
			continue
		}
		out = append(out, obj)
	}
	return out
}

func decodeValues(t *testing.T, dir, name string) *chartValues {
	t.Helper()
	path := filepath.Join(dir, name)
	data, err := readFileIn(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var top map[string]json.RawMessage
	if err = json.Unmarshal(js, &top); err != nil {
		t.Fatal(err)
	}
	for k := range top {
		if !contains(chartValueKeys, k) {
			t.Errorf("%s: %q is not a values key of the collector chart", path, k)
		}
	}
	var v chartValues
	strictErrs, err := kjson.UnmarshalStrict(js, &v, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(strictErrs) > 0 {
		t.Fatalf("%s: %v", path, errors.Join(strictErrs...))
	}
	return &v
}

// TestHelmValues: the values files for the official chart decode strictly
// (the Kubernetes parts into their API types) and deploy the same thing as
// the kustomize base: image, binary, feature gate, environment, hardening,
// resources, volumes, RBAC, probes' port, the headless Service.
func TestHelmValues(t *testing.T) {
	base := map[string]object{}
	for _, f := range []string{"agent-daemonset.yaml", "gateway-statefulset.yaml", "agent-rbac.yaml", "priorityclass.yaml"} {
		objs, err := decodeFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			base[o.meta.Kind] = o
		}
	}
	ds := base["DaemonSet"].value.(*appsv1.DaemonSet)
	dep := base["StatefulSet"].value.(*appsv1.StatefulSet)
	role := base["ClusterRole"].value.(*rbacv1.ClusterRole)
	pc := base["PriorityClass"].value.(*schedulingv1.PriorityClass)

	for _, tc := range []struct {
		file, mode, name, release string
		tpl                       *corev1.PodTemplateSpec
	}{
		{"values-daemonset.yaml", "daemonset", ds.Name, "prodscope-agent", &ds.Spec.Template},
		{"values-statefulset.yaml", "statefulset", dep.Name, "prodscope-gateway", &dep.Spec.Template},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			const helmDir = "../helm"
			v := decodeValues(t, helmDir, tc.file)
			c := tc.tpl.Spec.Containers[0]
			// The workload the chart renders carries the base's name, so the
			// documented kubectl commands work for both installs.
			if v.Mode != tc.mode || chartWorkloadName(v.Mode, v.FullnameOverride) != tc.name {
				t.Errorf("mode %q fullnameOverride %q: the chart names the workload %q, the base %q", v.Mode, v.FullnameOverride, chartWorkloadName(v.Mode, v.FullnameOverride), tc.name)
			}
			// The install command passes the config file's checksum as a pod
			// annotation: the chart rolls pods on it when the config changes.
			raw, err := readFileIn(helmDir, tc.file)
			if err != nil {
				t.Fatal(err)
			}
			cfgFile := map[string]string{"daemonset": "config/agent.yaml", "statefulset": "config/gateway.yaml"}[tc.mode]
			if want := `--set-string podAnnotations.prodscope\.io/config-sha256=$(sha256sum ` + cfgFile; !strings.Contains(string(raw), want) {
				t.Errorf("%s: the install command does not pass %s's checksum as a pod annotation (%s...)", tc.file, cfgFile, want)
			}
			if strings.Contains(string(raw), "helm upgrade") && !strings.Contains(string(raw), "helm upgrade --install "+tc.release+" ") {
				t.Errorf("%s: the install command does not name the release %s", tc.file, tc.release)
			}
			if v.PriorityClassName != tc.tpl.Spec.PriorityClassName {
				t.Errorf("priorityClassName %q, the base has %q", v.PriorityClassName, tc.tpl.Spec.PriorityClassName)
			}
			if !reflect.DeepEqual(v.LifecycleHooks, c.Lifecycle) {
				t.Errorf("lifecycleHooks %+v, the base has %+v", v.LifecycleHooks, c.Lifecycle)
			}
			if got := v.Image.Repository + ":" + v.Image.Tag; got != c.Image || v.Image.PullPolicy != string(c.ImagePullPolicy) {
				t.Errorf("image %s (%s), the base runs %s (%s)", got, v.Image.PullPolicy, c.Image, c.ImagePullPolicy)
			}
			// The chart runs "/<command.name> --config=/conf/relay.yaml <extraArgs>".
			if "/"+v.Command.Name != c.Command[0] {
				t.Errorf("command.name %q, the image's binary is %s", v.Command.Name, c.Command[0])
			}
			var baseArgs []string
			for _, a := range c.Args {
				if !strings.HasPrefix(a, "--config") {
					baseArgs = append(baseArgs, a)
				}
			}
			if !reflect.DeepEqual(v.Command.ExtraArgs, baseArgs) {
				t.Errorf("command.extraArgs %v, the base passes %v besides --config", v.Command.ExtraArgs, baseArgs)
			}
			if v.ConfigMap.Create || v.ConfigMap.ExistingName == "" {
				t.Errorf("configMap create=%v existingName=%q: the config must come from config/*.yaml through an existing ConfigMap", v.ConfigMap.Create, v.ConfigMap.ExistingName)
			}
			var baseEnv []corev1.EnvVar
			for _, e := range c.Env {
				if e.Name != "GOMEMLIMIT" { // the chart computes it (useGOMEMLIMIT)
					baseEnv = append(baseEnv, e)
				}
			}
			if !reflect.DeepEqual(v.ExtraEnvs, baseEnv) {
				t.Errorf("extraEnvs %+v\nthe base sets %+v", v.ExtraEnvs, baseEnv)
			}
			if !reflect.DeepEqual(v.ExtraEnvsFrom, c.EnvFrom) {
				t.Errorf("extraEnvsFrom %+v, the base has %+v", v.ExtraEnvsFrom, c.EnvFrom)
			}
			if !v.UseGOMEMLIMIT {
				t.Error("useGOMEMLIMIT is off")
			}
			if !reflect.DeepEqual(v.Resources, c.Resources) {
				t.Errorf("resources %+v, the base has %+v", v.Resources, c.Resources)
			}
			if !reflect.DeepEqual(&v.PodSecurityContext, tc.tpl.Spec.SecurityContext) {
				t.Errorf("podSecurityContext %+v, the base has %+v", v.PodSecurityContext, tc.tpl.Spec.SecurityContext)
			}
			if !reflect.DeepEqual(&v.SecurityContext, c.SecurityContext) {
				t.Errorf("securityContext %+v, the base has %+v", v.SecurityContext, c.SecurityContext)
			}
			if v.ServiceAccount.Name != tc.tpl.Spec.ServiceAccountName || !reflect.DeepEqual(v.ServiceAccount.AutomountServiceAccountToken, tc.tpl.Spec.AutomountServiceAccountToken) {
				t.Errorf("serviceAccount %+v, the base uses %s (automount %v)", v.ServiceAccount, tc.tpl.Spec.ServiceAccountName, tc.tpl.Spec.AutomountServiceAccountToken)
			}
			if !reflect.DeepEqual(v.PodAnnotations, tc.tpl.Annotations) {
				t.Errorf("podAnnotations %v, the base has %v", v.PodAnnotations, tc.tpl.Annotations)
			}
			// Every volume of the base but the config (the chart mounts its own at /conf).
			var baseVols []corev1.Volume
			for _, vol := range tc.tpl.Spec.Volumes {
				if vol.ConfigMap == nil {
					baseVols = append(baseVols, vol)
				}
			}
			var baseMounts []corev1.VolumeMount
			for _, m := range c.VolumeMounts {
				if m.MountPath != configDir {
					baseMounts = append(baseMounts, m)
				}
			}
			if !reflect.DeepEqual(v.ExtraVolumes, baseVols) || !reflect.DeepEqual(v.ExtraVolumeMounts, baseMounts) {
				t.Errorf("extraVolumes/extraVolumeMounts %+v %+v\nthe base has %+v %+v", v.ExtraVolumes, v.ExtraVolumeMounts, baseVols, baseMounts)
			}
			if !reflect.DeepEqual(v.Tolerations, tc.tpl.Spec.Tolerations) {
				t.Errorf("tolerations %+v, the base has %+v", v.Tolerations, tc.tpl.Spec.Tolerations)
			}
			// Ports: every container port of the base, host ports included; nothing else enabled.
			var want, got []string
			for _, p := range c.Ports {
				if p.ContainerPort == healthPort {
					continue // the chart declares no health port; the probes use the number
				}
				want = append(want, portKey(p.ContainerPort, p.HostPort))
			}
			for name, p := range v.Ports {
				if p.Enabled {
					got = append(got, portKey(p.ContainerPort, p.HostPort))
				} else if p.ContainerPort != 0 {
					t.Errorf("port %s disabled but configured", name)
				}
			}
			sort.Strings(want)
			sort.Strings(got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("enabled ports %v, the base declares %v", got, want)
			}

			switch tc.mode {
			case "daemonset":
				if v.ClusterRole == nil || !v.ClusterRole.Create || !reflect.DeepEqual(v.ClusterRole.Rules, role.Rules) {
					t.Errorf("clusterRole %+v, the base's agent ClusterRole has %+v", v.ClusterRole, role.Rules)
				}
				found := false
				for _, obj := range extraManifests(t, v) {
					if p, ok := obj.(*schedulingv1.PriorityClass); ok && p.Name == v.PriorityClassName {
						found = true
						if p.Value != pc.Value || p.GlobalDefault != pc.GlobalDefault {
							t.Errorf("PriorityClass %s value %d default %v, the base's %d %v", p.Name, p.Value, p.GlobalDefault, pc.Value, pc.GlobalDefault)
						}
					}
				}
				if !found {
					t.Errorf("no PriorityClass %q in extraManifests (the chart creates none)", v.PriorityClassName)
				}
			case "statefulset":
				st := v.Statefulset
				if st == nil || !reflect.DeepEqual(st.VolumeClaimTemplates, dep.Spec.VolumeClaimTemplates) {
					t.Errorf("statefulset.volumeClaimTemplates %+v, the base has %+v", st, dep.Spec.VolumeClaimTemplates)
				} else {
					r := dep.Spec.PersistentVolumeClaimRetentionPolicy
					if st.PodManagementPolicy != string(dep.Spec.PodManagementPolicy) || !st.PersistentVolumeClaimRetentionPolicy.Enabled ||
						r == nil || st.PersistentVolumeClaimRetentionPolicy.WhenScaled != string(r.WhenScaled) || st.PersistentVolumeClaimRetentionPolicy.WhenDeleted != string(r.WhenDeleted) {
						t.Errorf("statefulset %+v, the base has %s %+v", *st, dep.Spec.PodManagementPolicy, r)
					}
				}
				if ru, ok := v.Rollout["rollingUpdate"].(map[string]any); ok && ru["maxSurge"] != nil {
					t.Error("rollout.rollingUpdate.maxSurge: a StatefulSet has no surge")
				}
				if v.ReplicaCount == nil || *v.ReplicaCount != int(*dep.Spec.Replicas) {
					t.Errorf("replicaCount %v, the base runs %d", v.ReplicaCount, *dep.Spec.Replicas)
				}
				if v.TerminationGracePeriodSeconds == nil || !reflect.DeepEqual(v.TerminationGracePeriodSeconds, dep.Spec.Template.Spec.TerminationGracePeriodSeconds) {
					t.Errorf("terminationGracePeriodSeconds %v, the base has %v", v.TerminationGracePeriodSeconds, dep.Spec.Template.Spec.TerminationGracePeriodSeconds)
				}
				if v.PodDisruptionBudget["enabled"] != true {
					t.Error("podDisruptionBudget is not enabled")
				}
				if len(v.TopologySpreadConstraints) == 0 {
					t.Error("no topologySpreadConstraints")
				}
				for _, tsc := range v.TopologySpreadConstraints {
					// The chart's pod labels: name, instance (the release), component.
					chartPod := map[string]string{"app.kubernetes.io/name": "opentelemetry-collector", "app.kubernetes.io/instance": tc.release, "component": chartComponent(tc.mode)}
					if tsc.LabelSelector == nil || !selects(tsc.LabelSelector.MatchLabels, chartPod) {
						t.Errorf("topology spread on %s does not select the chart's gateway pods", tsc.TopologyKey)
					}
				}
				found := false
				for _, obj := range extraManifests(t, v) {
					if svc, ok := obj.(*corev1.Service); ok && svc.Name == "prodscope-gateway-headless" {
						found = true
						if svc.Spec.ClusterIP != corev1.ClusterIPNone || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 4317 {
							t.Errorf("headless Service spec %+v", svc.Spec)
						}
						if svc.Spec.Selector["component"] != chartComponent(tc.mode) || svc.Spec.Selector["app.kubernetes.io/instance"] != "{{ .Release.Name }}" {
							t.Errorf("headless Service selector %v does not select the chart's gateway pods", svc.Spec.Selector)
						}
					}
				}
				if !found {
					t.Error("no prodscope-gateway-headless Service in extraManifests")
				}
			}
		})
	}
}

func portKey(container, host int32) string {
	return strings.TrimSpace(strings.Join([]string{itoa(container), "host", itoa(host)}, " "))
}

func itoa(n int32) string {
	b, _ := json.Marshal(n)
	return string(b)
}
