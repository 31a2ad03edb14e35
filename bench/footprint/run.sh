#!/usr/bin/env bash
# Footprint of the sidecar, Native AOT next to the JIT build, in the same run:
# start -> /readyz (median of 20, warm cache of 10,000 blocks), idle RSS, RSS under 32 x 64 KiB range readers
# (sampled every 5 s), SIGTERM -> exit with a GET in flight, and a restart that must serve the exact bytes.
#
#   bash bench/footprint/run.sh                          # publishes AOT, builds JIT if missing; about 4 minutes
#   FOOTPRINT_LOAD_SECONDS=20 bash bench/footprint/run.sh
#   FOOTPRINT_AOT_BINARY=/path/fluid-sidecar bash bench/footprint/run.sh   # skip the publish
#
# Env: FOOTPRINT_LOAD_SECONDS (default 60), FOOTPRINT_STARTS (default 20), CONFIGURATION (default Release).
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

# The first build is the reference of the ratio column: JIT, so the ratios read "AOT is x times the JIT".
exec python3 "$repo_root/bench/footprint/footprint.py" \
    --build "jit=dotnet $jit_dll" \
    --build "aot=$aot_binary" \
    --starts "${FOOTPRINT_STARTS:-20}" \
    --load-seconds "${FOOTPRINT_LOAD_SECONDS:-60}"
