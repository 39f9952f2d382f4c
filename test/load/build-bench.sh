#!/usr/bin/env bash
# Builds the bench-only distribution into _build/bench: its manifest is
# generated from the product's builder-config.yaml plus the bench-only
# components (test/load/internal/benchmanifest), then built by the product's
# one build recipe, scripts/build-dist.sh. Usage: test/load/build-bench.sh [path/to/builder]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
builder=${1:-$root/.tools/bin/builder}
case $builder in /*) ;; *) builder=$(cd "$(dirname "$builder")" && pwd)/$(basename "$builder") ;; esac
out=$root/_build/bench
export GOTOOLCHAIN=local
mkdir -p "$out"
(cd "$here" && go run ./cmd/benchmanifest -in "$root/builder-config.yaml" -out "$out/builder-config.yaml" \
  -output-path ./_build/bench -replace-prefix ../../)
"$root/scripts/build-dist.sh" "$builder" "$out/builder-config.yaml" "$out" otelcol-prodscope-bench
echo "built $out/otelcol-prodscope-bench"
