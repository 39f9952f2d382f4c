// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package kubernetes_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

// The Kubernetes API types our manifests may use, by apiVersion and kind. A
// manifest of any other kind fails the tests: add its type here first.
var apiTypes = map[string]func() any{
	"v1/Namespace":      func() any { return &corev1.Namespace{} },
	"v1/ServiceAccount": func() any { return &corev1.ServiceAccount{} },
	"v1/Service":        func() any { return &corev1.Service{} },
	"v1/ConfigMap":      func() any { return &corev1.ConfigMap{} },
	"v1/Secret":         func() any { return &corev1.Secret{} },
	"v1/PersistentVolumeClaim": func() any {
		return &corev1.PersistentVolumeClaim{}
	},
	"apps/v1/DaemonSet":                               func() any { return &appsv1.DaemonSet{} },
	"apps/v1/Deployment":                              func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                             func() any { return &appsv1.StatefulSet{} },
	"rbac.authorization.k8s.io/v1/ClusterRole":        func() any { return &rbacv1.ClusterRole{} },
	"rbac.authorization.k8s.io/v1/ClusterRoleBinding": func() any { return &rbacv1.ClusterRoleBinding{} },
	"rbac.authorization.k8s.io/v1/Role":               func() any { return &rbacv1.Role{} },
	"rbac.authorization.k8s.io/v1/RoleBinding":        func() any { return &rbacv1.RoleBinding{} },
	"policy/v1/PodDisruptionBudget":                   func() any { return &policyv1.PodDisruptionBudget{} },
	"scheduling.k8s.io/v1/PriorityClass":              func() any { return &schedulingv1.PriorityClass{} },
}

// object is one decoded manifest: its type meta and the typed value.
type object struct {
	source string // file (and document index) or rendered resource id
	meta   metav1.TypeMeta
	name   string
	value  any
}

// decodeStrict decodes one YAML document into its Kubernetes API type and
// rejects anything the type does not have: unknown fields, fields spelled with
// the wrong case (the API server's decoder is case-sensitive, encoding/json is
// not), duplicate keys, and kinds we have no type for.
func decodeStrict(doc []byte) (any, metav1.TypeMeta, error) {
	var tm metav1.TypeMeta
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, tm, fmt.Errorf("yaml: %w", err)
	}
	if err = kjson.UnmarshalCaseSensitivePreserveInts(js, &tm); err != nil {
		return nil, tm, fmt.Errorf("type meta: %w", err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return nil, tm, errors.New("document has no apiVersion or kind")
	}
	mk, ok := apiTypes[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return nil, tm, fmt.Errorf("no Kubernetes API type registered for %s %s", tm.APIVersion, tm.Kind)
	}
	v := mk()
	strictErrs, err := kjson.UnmarshalStrict(js, v, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, tm, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if len(strictErrs) > 0 {
		return nil, tm, fmt.Errorf("%s: %w", tm.Kind, errors.Join(strictErrs...))
	}
	return v, tm, nil
}

// splitDocs splits a multi-document YAML stream, dropping empty documents
// (a leading comment block, a trailing separator).
func splitDocs(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		var probe map[string]any
		if err := yaml.Unmarshal(doc, &probe); err != nil {
			return nil, err
		}
		if len(probe) == 0 {
			continue
		}
		docs = append(docs, doc)
	}
}

// readFileIn reads the file name (slash-separated, relative) inside dir. The
// read cannot leave dir (os.Root), whatever name holds: a COPY source out of
// the Dockerfile, say, resolves inside the build context or fails, as it does
// for docker build.
func readFileIn(dir, name string) ([]byte, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.ReadFile(name)
}

// decodeFile strictly decodes every document of the base's manifest file name.
func decodeFile(name string) ([]object, error) {
	path := filepath.Join(baseDir, name)
	data, err := readFileIn(baseDir, name)
	if err != nil {
		return nil, err
	}
	docs, err := splitDocs(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s: no documents", path)
	}
	var out []object
	for i, doc := range docs {
		v, tm, err := decodeStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("%s (document %d): %w", path, i+1, err)
		}
		out = append(out, object{source: fmt.Sprintf("%s#%d", filepath.Base(path), i+1), meta: tm, name: objectName(v), value: v})
	}
	return out, nil
}

func objectName(v any) string {
	if o, ok := v.(metav1.Object); ok {
		return o.GetName()
	}
	return ""
}

// decodeKustomization strictly decodes the kustomization.yaml in dir into
// kustomize's own type.
func decodeKustomization(dir string) (*types.Kustomization, error) {
	data, err := readFileIn(dir, "kustomization.yaml")
	if err != nil {
		return nil, err
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, err
	}
	var k types.Kustomization
	strictErrs, err := kjson.UnmarshalStrict(js, &k, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, err
	}
	if len(strictErrs) > 0 {
		return nil, errors.Join(strictErrs...)
	}
	return &k, nil
}

const baseDir = "base"

// TestManifestsDecodeStrictly: every manifest of the base decodes into its
// Kubernetes API type with no unknown, duplicate or mis-cased field, and the
// kustomization lists exactly the manifest files that exist.
func TestManifestsDecodeStrictly(t *testing.T) {
	k, err := decodeKustomization(baseDir)
	if err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	files, err := filepath.Glob(filepath.Join(baseDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var manifests []string
	for _, f := range files {
		if filepath.Base(f) != "kustomization.yaml" {
			manifests = append(manifests, filepath.Base(f))
		}
	}
	listed := append([]string(nil), k.Resources...)
	sort.Strings(listed)
	sort.Strings(manifests)
	if strings.Join(listed, ",") != strings.Join(manifests, ",") {
		t.Errorf("kustomization resources %v, manifest files on disk %v: every file must be listed, every listed file must exist", listed, manifests)
	}

	kinds := map[string]int{}
	for _, f := range manifests {
		objs, err := decodeFile(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		for _, o := range objs {
			kinds[o.meta.Kind]++
			if o.name == "" {
				t.Errorf("%s: %s has no metadata.name", o.source, o.meta.Kind)
			}
		}
	}
	want := map[string]int{
		"Namespace": 1, "ServiceAccount": 2, "ClusterRole": 1, "ClusterRoleBinding": 1,
		"DaemonSet": 1, "StatefulSet": 1, "Deployment": 0, "Service": 2, "PodDisruptionBudget": 1,
		"PriorityClass": 1,
	}
	for kind, n := range want {
		if kinds[kind] != n {
			t.Errorf("%d %s manifests, want %d (all kinds: %v)", kinds[kind], kind, n, kinds)
		}
	}
}

// TestStrictDecodeRejectsTypos proves the decoder is strict: the real
// DaemonSet with one field misspelled, one field mis-cased, one field
// duplicated or one field at the wrong level is refused, while the
// unmodified file decodes.
func TestStrictDecodeRejectsTypos(t *testing.T) {
	orig, err := readFileIn(baseDir, "agent-daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err = decodeStrict(orig); err != nil {
		t.Fatalf("the unmodified DaemonSet must decode: %v", err)
	}
	cases := []struct {
		name, old, new, wantErr string
	}{
		{"misspelled field", "imagePullPolicy: IfNotPresent", "imagePullPolicyy: IfNotPresent", "imagePullPolicyy"},
		{"wrong case", "readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true", "readOnlyRootFileSystem"},
		{"field at the wrong level", "  updateStrategy:\n", "  maxUnavailable: 1\n  updateStrategy:\n", "maxUnavailable"},
		{"duplicate key", "  updateStrategy:\n", "  minReadySeconds: 1\n  minReadySeconds: 2\n  updateStrategy:\n", "minReadySeconds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(orig, []byte(tc.old)) {
				t.Fatalf("agent-daemonset.yaml no longer contains %q: update this test", tc.old)
			}
			bad := bytes.Replace(orig, []byte(tc.old), []byte(tc.new), 1)
			_, _, derr := decodeStrict(bad)
			if derr == nil {
				t.Fatalf("decoded with %s (%q): the decoder is not strict", tc.name, tc.new)
			}
			if !strings.Contains(derr.Error(), tc.wantErr) {
				t.Fatalf("error %q does not name the field %q", derr, tc.wantErr)
			}
		})
	}
	// A kind we have no type for is refused, not silently passed.
	if _, _, err = decodeStrict([]byte("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")); err == nil {
		t.Fatal("an unknown kind decoded")
	}
	// The kustomization decoder is strict too.
	dir := t.TempDir()
	kb, err := readFileIn(baseDir, "kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(kb, []byte("configMapGenerator:"), []byte("configMapGenerators:"), 1)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := decodeKustomization(dir); err == nil {
		t.Fatal("a kustomization with configMapGenerators (typo) decoded")
	}
}
