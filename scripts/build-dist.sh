#!/usr/bin/env bash
# Builds a collector distribution from an OCB manifest, in the two steps
# docs/building.md explains: generate the sources and go.mod (the builder's
# closing `go mod tidy` fails here because the module proxy refuses a test-only
# dependency of the file exporter, so that one failure is tolerated once
# main.go and go.mod exist), then compile with -mod=mod, which resolves what the
# build needs and nothing else. GOWORK=off: the output is its own module,
# outside go.work. CGO_ENABLED=0: a static binary for the scratch image.
# The one build recipe of the product (make build) and the bench distribution
# (test/load/build-bench.sh).
#
# Usage: scripts/build-dist.sh BUILDER MANIFEST OUTPUT_DIR BINARY_NAME
# (OUTPUT_DIR is the manifest's output_path, from the repository root.)
set -euo pipefail
builder=$1 manifest=$2 out=$3 name=$4
cd "$(dirname "$0")/.."
export GOWORK=off GOTOOLCHAIN=${GOTOOLCHAIN:-local}
mkdir -p "$out"
rm -f "$out/go.mod" "$out/main.go"
"$builder" --config "$manifest" --skip-compilation > "$out.generate.log" 2>&1 \
  || { grep -q 'go mod tidy\|not available' "$out.generate.log" && test -f "$out/go.mod" && test -f "$out/main.go"; } \
  || { cat "$out.generate.log"; exit 1; }
CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=mod" "$builder" --config "$manifest" --skip-generate --skip-get-modules
touch "$out/$name"
