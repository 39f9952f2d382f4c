// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Command benchmanifest writes the bench-only OCB manifest, derived from the
// product manifest (see internal/benchmanifest).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/prodscope/prodscope/test/load/internal/benchmanifest"
)

func main() {
	in := flag.String("in", "builder-config.yaml", "product manifest")
	out := flag.String("out", "_build/bench/builder-config.yaml", "bench manifest to write")
	outputPath := flag.String("output-path", "./_build/bench", "dist.output_path of the bench build, relative to where the builder runs")
	prefix := flag.String("replace-prefix", "../../", "prefix for local replaces, relative to -output-path")
	flag.Parse()
	if err := run(*in, *out, benchmanifest.Options{Name: "otelcol-prodscope-bench", OutputPath: *outputPath, ReplacePrefix: *prefix}); err != nil {
		fmt.Fprintln(os.Stderr, "benchmanifest:", err)
		os.Exit(1)
	}
}

func run(in, out string, opts benchmanifest.Options) error {
	product, err := os.ReadFile(in) //nolint:gosec // G304: -in names the manifest to read; reading it is the command's job
	if err != nil {
		return err
	}
	bench, err := benchmanifest.Generate(product, opts)
	if err != nil {
		return err
	}
	return os.WriteFile(out, bench, 0o600) //nolint:gosec // G703: -out names the manifest to write; writing it is the command's job
}
