#!/usr/bin/env bash
# Footprint of the sidecar, Native AOT next to the JIT build, in the same run:
# start -> /readyz (median of 20, warm cache of 10,000 blocks), idle RSS, RSS under 32 x 64 KiB range readers
# (sampled every 5 s), SIGTERM -> exit with a GET in flight, and a restart that must serve the exact bytes.
#
#   bash bench/footprint/run.sh                          # publishes AOT, builds JIT if missing; about 4 minutes
#   FOOTPRINT_LOAD_SECONDS=20 bash bench/footprint/run.sh
#   FOOTPRINT_AOT_BINARY=/path/fluid-sidecar bash bench/footprint/run.sh   # skip the publish
#
# Env: FOOTPRINT_LOAD_SECONDS (default 60), FOOTPRINT_STARTS (default 20), CONFIGURATION (default Release),
# FOOTPRINT_TIER (default 1: also the AOT binary with a shared tier that answers and with one that is down).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"
configuration="${CONFIGURATION:-Release}"
aot_binary="${FOOTPRINT_AOT_BINARY:-}"
jit_dll="$repo_root/sidecar/bin/$configuration/net10.0/fluid-sidecar.dll"

source bench/tools/install-peers.sh
need_debian wrk=wrk curl=curl clang=clang /usr/include/zlib.h=zlib1g-dev
need_python

if [[ -z "$aot_binary" ]]; then
    aot_dir="$repo_root/artifacts/footprint-aot"
    echo "==> dotnet publish sidecar -c $configuration -r linux-x64 (Native AOT) -> ${aot_dir#"$repo_root"/}"
    dotnet publish sidecar/Fluid.Serverless.Sidecar.csproj -c "$configuration" -r linux-x64 -o "$aot_dir" -nologo -clp:ErrorsOnly
    aot_binary="$aot_dir/fluid-sidecar"
fi
if [[ ! -f "$jit_dll" ]]; then
    echo "==> dotnet build sidecar -c $configuration (JIT)"
    dotnet build sidecar/Fluid.Serverless.Sidecar.csproj -c "$configuration" -nologo -clp:ErrorsOnly
fi
echo "AOT binary: $aot_binary ($(du -h "$aot_binary" | cut -f1))"

# The AOT binary again with a shared tier configured: once with a Redis-protocol engine that answers (redis-server on
# a loopback port) and once with one that does not (a closed port): neither may delay readiness or grow idle RSS.
tier_args=()
if [[ "${FOOTPRINT_TIER:-1}" == 1 ]]; then
    need_debian redis-server=redis-server
    tier_dir="$(mktemp -d)"
    tier_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    down_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    redis-server --port "$tier_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$tier_dir" --daemonize no >"$tier_dir/redis.log" 2>&1 &
    tier_pid=$!
    trap 'kill "$tier_pid" 2>/dev/null; rm -rf "$tier_dir"' EXIT
    until redis-cli -p "$tier_port" ping >/dev/null 2>&1; do sleep 0.1; done
    tier_args=(--build "aot+tier=$aot_binary" --tier "aot+tier=127.0.0.1:$tier_port"
               --build "aot+tier-down=$aot_binary" --tier "aot+tier-down=127.0.0.1:$down_port")
fi

# The first build is the reference of the ratio column: JIT, so the ratios read "AOT is x times the JIT".
python3 "$repo_root/bench/footprint/footprint.py" \
    --build "jit=dotnet $jit_dll" \
    --build "aot=$aot_binary" \
    "${tier_args[@]}" \
    --starts "${FOOTPRINT_STARTS:-20}" \
    --load-seconds "${FOOTPRINT_LOAD_SECONDS:-60}"
