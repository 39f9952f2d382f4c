#!/usr/bin/env bash
# Every hand-written Go file starts with the project's copyright and license
# header. Generated files (a "Code generated ... DO NOT EDIT." line) are
# exempt, and so are files copied from the OpenTelemetry project, which keep
# its header (the sharedcomponent copies). Usage: scripts/check-headers.sh [--fix]
set -euo pipefail
cd "$(dirname "$0")/.."
want1='// Copyright The prodscope Authors'
want2='// SPDX-License-Identifier: Apache-2.0'
fix=${1:-}
bad=0
while IFS= read -r f; do
  head -5 "$f" | grep -q '^// Code generated .* DO NOT EDIT\.$' && continue
  l1=$(sed -n 1p "$f"); l2=$(sed -n 2p "$f")
  [ "$l1" = "$want1" ] && [ "$l2" = "$want2" ] && continue
  case $f in */sharedcomponent/*) [ "$l1" = '// Copyright The OpenTelemetry Authors' ] && [ "$l2" = "$want2" ] && continue ;; esac
  if [ "$fix" = --fix ]; then
    if [ "$l2" = "$want2" ] && [[ $l1 == "// Copyright "* ]]; then
      sed -i "1s|.*|$want1|" "$f"
    else
      { printf '%s\n%s\n\n' "$want1" "$want2"; cat "$f"; } > "$f.tmp" && mv "$f.tmp" "$f"
    fi
    echo "fixed $f"
  else
    echo "$f: missing the header ($want1 / $want2)"; bad=1
  fi
done < <(git ls-files '*.go' | grep -v '^_build/')
exit $bad
