#!/usr/bin/env bash
# make run: the collector on config/local.yaml and, unless DEMO=0, the demo
# service sending it traces, logs and metrics. Both on loopback. Ctrl-C stops both.
set -euo pipefail

BINARY=${BINARY:-_build/otelcol-prodscope}
DEMO_BIN=${DEMO_BIN:-_build/shopdemo}
DEMO=${DEMO:-1}
CONFIG=${CONFIG:-config/local.yaml}
FEATURE_GATES=${FEATURE_GATES:---feature-gates=service.profilesSupport}

mkdir -p _data
args=(--config "$CONFIG")
if [ -n "${HONEYCOMB_API_KEY:-}" ] && [ -f config/overlays/honeycomb.yaml ]; then
  echo "HONEYCOMB_API_KEY is set: adding config/overlays/honeycomb.yaml (honeycombevents exporter)"
  args+=(--config config/overlays/honeycomb.yaml)
fi

pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  echo "stopped; full OTLP JSON output is in _data/"
}
trap stop INT TERM EXIT

"$BINARY" $FEATURE_GATES "${args[@]}" &
pids+=($!)

# Wait for the health_check extension before starting the demo.
for _ in $(seq 1 100); do
  if (exec 3<>/dev/tcp/127.0.0.1/13133) 2>/dev/null; then break; fi
  kill -0 "${pids[0]}" 2>/dev/null || { echo "collector exited"; exit 1; }
  sleep 0.1
done

cat <<MSG
---------------------------------------------------------------------------
prodscope is running on loopback:
  status page   http://127.0.0.1:55680/statusz   what each prodscope component is doing to the data
  OTLP in       127.0.0.1:4317 (gRPC), 127.0.0.1:4318 (HTTP)
  console       debug exporter, basic verbosity (one line per batch)
  files         _data/traces.jsonl _data/logs.jsonl _data/metrics.jsonl _data/profiles.jsonl
  health        http://127.0.0.1:13133/   zpages http://127.0.0.1:55679/debug/tracez
  own metrics   http://127.0.0.1:8888/metrics
MSG
if [ "$DEMO" != "0" ]; then
  echo "  demo          shopdemo on http://127.0.0.1:8080, pprof on 127.0.0.1:6060"
  "$DEMO_BIN" -collector 127.0.0.1:4317 -listen 127.0.0.1:8080 -pprof 127.0.0.1:6060 ${DEMO_ARGS:-} &
  pids+=($!)
fi
echo "Ctrl-C stops everything."
echo "---------------------------------------------------------------------------"
wait -n "${pids[@]}" || true
