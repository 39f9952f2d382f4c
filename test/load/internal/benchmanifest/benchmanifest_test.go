// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package benchmanifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type manifest struct {
	Dist struct {
		Name       string `yaml:"name"`
		OutputPath string `yaml:"output_path"`
		Module     string `yaml:"module"`
	} `yaml:"dist"`
	Receivers []struct {
		GoMod string `yaml:"gomod"`
	} `yaml:"receivers"`
	Processors []struct {
		GoMod string `yaml:"gomod"`
	} `yaml:"processors"`
	Exporters []struct {
		GoMod string `yaml:"gomod"`
	} `yaml:"exporters"`
	Connectors []struct {
		GoMod string `yaml:"gomod"`
	} `yaml:"connectors"`
	Extensions []struct {
		GoMod string `yaml:"gomod"`
	} `yaml:"extensions"`
	Providers []struct {
		GoMod string `yaml:"gomod"`
	} `yaml:"providers"`
	Replaces []string `yaml:"replaces"`
}

// modules maps "kind module" to its version.
func (m manifest) modules(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for kind, list := range map[string][]struct {
		GoMod string `yaml:"gomod"`
	}{
		"receivers": m.Receivers, "processors": m.Processors, "exporters": m.Exporters,
		"connectors": m.Connectors, "extensions": m.Extensions, "providers": m.Providers,
	} {
		for _, c := range list {
			mod, ver, ok := strings.Cut(c.GoMod, " ")
			if !ok {
				t.Fatalf("%s: gomod %q has no version", kind, c.GoMod)
			}
			out[kind+" "+mod] = ver
		}
	}
	return out
}

func load(t *testing.T, b []byte) manifest {
	t.Helper()
	var m manifest
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The bench manifest holds every product component at the product's version,
// the bench-only extras, and local replaces that resolve from its output path.
func TestBenchManifestFollowsProduct(t *testing.T) {
	const root = "../../../.." // the repository, from this package's directory
	product, err := os.ReadFile(filepath.Join(root, "builder-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bench, err := Generate(product, Options{Name: "otelcol-prodscope-bench", OutputPath: "./_build/bench", ReplacePrefix: "../../"})
	if err != nil {
		t.Fatal(err)
	}
	p, b := load(t, product), load(t, bench)

	pm, bm := p.modules(t), b.modules(t)
	if len(pm) < 30 {
		t.Fatalf("product manifest parsed to only %d modules", len(pm))
	}
	for mod, ver := range pm {
		if got, ok := bm[mod]; !ok {
			t.Errorf("bench manifest lacks %s", mod)
		} else if got != ver {
			t.Errorf("%s: bench %s, product %s", mod, got, ver)
		}
	}
	for _, e := range Extras {
		mod, ver, _ := strings.Cut(e.GoMod, " ")
		if bm[e.Kind+" "+mod] != ver {
			t.Errorf("bench manifest lacks the bench-only %s %s", e.Kind, e.GoMod)
		}
	}
	if want := len(pm) + len(Extras); len(bm) != want {
		t.Errorf("bench manifest has %d modules, want %d (product + extras)", len(bm), want)
	}

	if b.Dist.Name != "otelcol-prodscope-bench" || b.Dist.OutputPath != "./_build/bench" || b.Dist.Module != p.Dist.Module+"/bench" {
		t.Errorf("dist = %+v", b.Dist)
	}
	if len(b.Replaces) != len(p.Replaces) {
		t.Fatalf("%d replaces, product has %d", len(b.Replaces), len(p.Replaces))
	}
	local := 0
	for _, r := range b.Replaces {
		_, target, _ := strings.Cut(r, "=> ")
		if !strings.HasPrefix(target, ".") {
			continue
		}
		local++
		dir := filepath.Join(root, b.Dist.OutputPath, target)
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
			t.Errorf("replace %q does not resolve from the output path: %v", r, err)
		}
	}
	if local < 4 {
		t.Errorf("only %d local replaces (our components) in %v", local, b.Replaces)
	}
}

func TestGenerateRejectsBadManifests(t *testing.T) {
	for name, in := range map[string]string{
		"not a mapping": "- a\n- b\n",
		"no dist":       "receivers: []\n",
		"bad yaml":      "dist: [\n",
		"kind not list": "dist: {name: x}\nreceivers: {a: b}\n",
	} {
		if _, err := Generate([]byte(in), Options{Name: "x", OutputPath: "y"}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
