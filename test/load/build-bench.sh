#!/usr/bin/env bash
# Builds the bench-only distribution into _build/bench: its manifest is
# generated from the product's builder-config.yaml plus the bench-only
# components (test/load/internal/benchmanifest), then built with the same two
# steps as the Makefile's $(BINARY) rule (docs/building.md): generate
# (tolerating the failing `go mod tidy` once main.go and go.mod exist), then
# compile with -mod=mod. Usage: test/load/build-bench.sh [path/to/builder]
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
export GOWORK=off
cd "$root"
rm -f "$out/go.mod" "$out/main.go"
"$builder" --config "$out/builder-config.yaml" --skip-compilation > "$out.generate.log" 2>&1 \
  || { grep -q 'go mod tidy\|not available' "$out.generate.log" && test -f "$out/go.mod" && test -f "$out/main.go"; } \
  || { cat "$out.generate.log"; exit 1; }
CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=mod" "$builder" --config "$out/builder-config.yaml" --skip-generate --skip-get-modules
touch "$out/otelcol-prodscope-bench"
echo "built $out/otelcol-prodscope-bench"
