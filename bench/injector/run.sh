#!/usr/bin/env bash
# Injector benchmark: admission over HTTPS keep-alive at a fixed 1,000 req/s (open loop, see LoadClient/Program.cs),
# next to a reference measured in the same run (GET /healthz on the same server, same rate), and the injection of a
# pod with 1,500 env vars and 200 volumes next to a small pod.
# Usage: BENCH_ROUNDS=5 bench/injector/run.sh [seconds-per-run, default 5]
# Method (bench/tools/rounds.sh): BENCH_ROUNDS interleaved rounds (reference, then contender), after one unmeasured
# warm-up run of each (LoadClient also opens and warms every connection before each run); median and min-max of
# each side and of the ratio; the injector's RSS peak per run (VmHWM); load average at start and end; no verdict
# when the reference spreads more than 15 %. Target: /mutate p99 <= 1.3x /healthz p99 (ratio >= 0.77).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-5}
work=$(mktemp -d)
injector_pid=""
cleanup() { [[ -n "$injector_pid" ]] && kill "$injector_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
source "$root/bench/tools/install-peers.sh"
need_debian curl=curl openssl=openssl

echo "== building (Release)"
dotnet build -c Release -v q -nologo "$root/injector/Fluid.Serverless.Injector.csproj" >/dev/null
dotnet build -c Release -v q -nologo "$root/bench/injector/LoadClient/LoadClient.csproj" >/dev/null
load() { dotnet "$root/bench/injector/LoadClient/bin/Release/net10.0/LoadClient.dll" "$@"; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null

cat > "$work/cluster.yaml" <<'YAML'
apiVersion: data.fluid.io/v1alpha1
kind: Dataset
metadata: {name: imagenet, namespace: default}
spec:
  mounts:
  - mountPoint: s3://imagenet-bucket/v1
    encryptOptions:
    - name: fs.s3a.access.key
      valueFrom: {secretKeyRef: {name: imagenet-s3, key: accessKey}}
YAML

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
def review(pod):
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "bench", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": "default", "operation": "CREATE", "object": pod}}
def pod(env_count, extra_volumes):
    container = {"name": "app", "image": "python:3.11",
                 "env": [{"name": f"VAR_{i:04d}", "value": f"value-{i}"} for i in range(env_count)],
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}] +
                                 [{"name": f"cfg-{i:03d}", "mountPath": f"/etc/cfg/{i:03d}"} for i in range(extra_volumes)]}
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "imagenet"}}] + \
              [{"name": f"cfg-{i:03d}", "configMap": {"name": f"cfg-{i:03d}"}} for i in range(extra_volumes)]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "bench", "labels": {"serverless.fluid.io/inject": "true"}},
            "spec": {"containers": [container], "volumes": volumes}}
json.dump(review(pod(3, 0)), open(f"{work}/small.json", "w"))
json.dump(review(pod(1500, 199)), open(f"{work}/huge.json", "w"))
PY

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
FLUID_INJECTOR_Server__ListenAddress=127.0.0.1 FLUID_INJECTOR_Server__Port=$port \
FLUID_INJECTOR_Server__CertificateFile="$work/tls.crt" FLUID_INJECTOR_Server__KeyFile="$work/tls.key" \
FLUID_INJECTOR_Server__WatchCluster=false FLUID_INJECTOR_Server__ClusterStateFile="$work/cluster.yaml" \
Logging__LogLevel__Default=Warning DOTNET_gcServer=0 \
  dotnet "$root/injector/bin/Release/net10.0/fluid-injector.dll" >"$work/injector.log" 2>&1 &
injector_pid=$!
for _ in $(seq 100); do curl -skf "https://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
curl -sk "https://127.0.0.1:$port/mutate" -H 'Content-Type: application/json' --data-binary @"$work/small.json" | grep -q '"patch"' \
  || { echo "the benchmark pod was not injected"; cat "$work/injector.log"; exit 1; }
url="https://127.0.0.1:$port"
bytes() { stat -c %s "$1"; }
echo "== machine: $(nproc) cores (shared); small review $(bytes "$work/small.json") B, huge review $(bytes "$work/huge.json") B"

source "$root/bench/tools/rounds.sh"
run() { # ROUND SIDE LoadClient-args...: one run; its p50, p99, errors and the injector's RSS peak
    local round="$1" side="$2" result
    shift 2
    peak_rss_reset "$injector_pid"
    result=$(load "$@" --label "$side" | tee -a "$work/runs.txt" | grep ^RESULT) || true
    [[ -n "$result" ]] || { echo "the $side run reported nothing; its output:" >&2; tail -5 "$work/runs.txt" >&2; exit 1; }
    read -r _ _ p50 p99 errors <<<"$result"
    record "$round" "$side" p50_ms "$p50"; record "$round" "$side" p99_ms "$p99"; record "$round" "$side" errors "$errors"
    record "$round" "$side" rss_mib "$(peak_rss_mib "$injector_pid")"
}

echo "== fixed rate 1000 req/s for ${seconds}s per run, keep-alive HTTPS, 32 connections (latency from each request's due time)"
echo "   warm-up: one unmeasured ${seconds}s run of each before round 1"
load --url "$url/healthz" --rate 1000 --duration "$seconds" --label warm-up >/dev/null || true
load --url "$url/mutate" --body "$work/small.json" --rate 1000 --duration "$seconds" --label warm-up >/dev/null || true
rounds_init "$work/rate.tsv"
for round in $(seq 1 "$bench_rounds"); do
    run "$round" healthz --url "$url/healthz" --rate 1000 --duration "$seconds"
    run "$round" mutate --url "$url/mutate" --body "$work/small.json" --rate 1000 --duration "$seconds"
    echo "round $round done (load $(load_average))"
done
rounds_summary --title "/mutate (small pod) vs /healthz at 1000 req/s" --reference healthz --contender mutate \
    --metric p99_ms:lower --target 0.77 --metric p50_ms:lower --metric errors --metric rss_mib

echo "== injection of a huge pod (1,500 env vars, 200 volumes) vs a small pod, 300 sequential admissions over one connection"
rounds_file="$work/pods.tsv"; : >"$rounds_file"
for round in $(seq 1 "$bench_rounds"); do
    run "$round" small --url "$url/mutate" --body "$work/small.json" --sequential 1 --count 300 --connections 1
    run "$round" huge --url "$url/mutate" --body "$work/huge.json" --sequential 1 --count 300 --connections 1
done
rounds_summary --title "huge vs small pod, sequential" --reference small --contender huge --metric p50_ms:lower --metric p99_ms:lower --metric rss_mib
rounds_finish
curl -sk "$url/metrics" | grep -E '^fluid_injector_admissions_total' || true
