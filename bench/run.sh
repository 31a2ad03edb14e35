#!/usr/bin/env bash
# Side-by-side benchmarks of the sidecar's S3 read path, each next to a reference measured in the same run, on
# loopback, in interleaved rounds. Run by hand, never by CI: it is slow and noisy. About 6-8 minutes with defaults.
#
#   bash bench/run.sh                      # JIT build (dotnet build -c Release first, or let this script build it)
#   FLUID_SIDECAR_BINARY=path/to/aot/fluid-sidecar bash bench/run.sh   # the Native AOT binary
#   BENCH_ROUNDS=5 BENCH_DURATION=5 BENCH_WARMUP=3 bash bench/run.sh   # rounds, seconds per wrk run, warm-up seconds
#   BENCH_PARTS="a b" bash bench/run.sh    # only some parts (a b c)
#   SIDECAR_ENV="DOTNET_GCDynamicAdaptationMode=0" bash bench/run.sh   # runtime settings A/B (bench/README.md)
#
# Method (bench/tools/rounds.sh): every figure runs BENCH_ROUNDS rounds, each round the reference then the sidecar
# (ABAB...), after one unmeasured warm-up run of BENCH_WARMUP seconds of the same load against each server. Prints
# every round, the median and min-max of each side and of the ratio, RSS peaks of both sides (VmHWM, reset per
# round), the sidecar's GCs per round (from /status), and the load average at start and end. When the reference
# alone spreads more than 15 % the verdict is refused ("NO VERDICT ... rerun").
#
# (a) 8 MiB whole-object GETs, sidecar (warm cache) vs nginx serving the same file: throughput ratio (target >= 0.9)
#     and (d) in the same rounds: the sidecar's RSS peak serving 256 MiB objects vs 8 MiB objects (must be flat)
# (b) random 64 KiB ranged GETs, 32 connections: requests/s ratio (target >= 0.8) and p99 of both
# (c) cold read of a 256 MiB object from s3rver behind a 20 ms-per-request latency proxy: sidecar (read-ahead) vs one
#     direct single-stream GET through the same proxy (target >= 2x); once with latency only, once with a per-stream
#     bandwidth cap as well (BENCH_STREAM_MIBPS, default 32), as a real store gives one stream tens of MiB/s. Each
#     round starts a fresh sidecar on an empty cache.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
duration="${BENCH_DURATION:-5}"
warmup="${BENCH_WARMUP:-3}"
parts=" ${BENCH_PARTS:-a b c} "
read -r -a sidecar_env <<<"${SIDECAR_ENV:-}"
cold_limit="${BENCH_COLD_LIMIT:-60}"   # seconds allowed for one cold 256 MiB read through the sidecar
latency_ms="${BENCH_LATENCY_MS:-20}"
if [[ -d "$HOME/.pyenv/shims" && ":$PATH:" != *":$HOME/.pyenv/shims:"* ]]; then
    export PATH="$HOME/.pyenv/shims:$PATH"
fi
export PATH="$PATH:/usr/sbin"

work="$(mktemp -d /tmp/fluid-bench.XXXXXX)"
chmod 755 "$work"   # nginx workers run as an unprivileged user and must read the data
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

say() { printf '%s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_for() { # URL [seconds] [pid that must stay alive]
    local deadline=$((SECONDS + ${2:-60}))
    until curl -sf -o /dev/null "$1"; do
        if ((SECONDS > deadline)); then say "timed out waiting for $1" >&2; return 1; fi
        if [[ -n "${3:-}" ]] && ! kill -0 "$3" 2>/dev/null; then say "process $3 exited while waiting for $1" >&2; return 1; fi
        sleep 0.1
    done
}

# --- tools -------------------------------------------------------------------------------------------------------------
source bench/tools/install-peers.sh
need_debian wrk=wrk nginx=nginx-light curl=curl
need_python
need_s3rver "$PWD"

source bench/tools/sidecar-command.sh
select_sidecar "$PWD"

start_sidecar() { # NAME DATASET_JSON -> sets sidecar_pid, sidecar_url
    local name="$1" dataset="$2" s3_port admin_port admin_local_port
    # Each sidecar gets its own local admin port: two run at once in (c), and the default (17482) is one port.
    s3_port="$(free_port)"; admin_port="$(free_port)"; admin_local_port="$(free_port)"
    mkdir -p "$work/$name-cache"
    cat >"$work/$name.json" <<JSON
{
  "s3": { "address": "127.0.0.1", "port": $s3_port },
  "admin": { "address": "127.0.0.1", "port": $admin_port, "localPort": $admin_local_port },
  "cache": { "directory": "$work/$name-cache", "quotaBytes": 2147483648, "minFreeBytes": 104857600 },
  "datasets": [ $dataset ]
}
JSON
    env "${sidecar_env[@]}" "${sidecar_cmd[@]}" --config "$work/$name.json" >"$work/$name.log" 2>&1 &
    sidecar_pid=$!
    pids+=("$sidecar_pid")
    sidecar_url="http://127.0.0.1:$s3_port"
    sidecar_admin_local_port="$admin_local_port"
    if ! wait_for "http://127.0.0.1:$admin_port/readyz" 60 "$sidecar_pid"; then
        say "sidecar '$name' did not become ready; its log:" >&2; cat "$work/$name.log" >&2; exit 1
    fi
}

wrk_field() { # FILE FIELD  (Requests/sec, Transfer/sec in MiB/s, p99 in ms)
    case "$2" in
        rps) awk '/^Requests\/sec:/ { print $2 }' "$1" ;;
        mibps) awk '/^Transfer\/sec:/ { v = $2; u = substr(v, length(v) - 1); n = v + 0;
                   if (u == "GB") n *= 1024; else if (u == "KB") n /= 1024; else if (u !~ /MB/) n /= 1048576;
                   printf "%.1f", n }' "$1" ;;
        p99) awk '$1 == "99%" { v = $2; n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[^m]s$/) n *= 1000; printf "%.2f", n }' "$1" ;;
        errors) awk '/Non-2xx or 3xx responses:/ { e += $NF } /Socket errors:/ { e += 1 } END { print e + 0 }' "$1" ;;
    esac
}

# --- data ----------------------------------------------------------------------------------------------------------------
section "setup"
mkdir -p "$work/data"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$work/data/object-8m.bin"
head -c $((256 * 1024 * 1024)) /dev/urandom >"$work/data/object-256m.bin"
size_8m=$((8 * 1024 * 1024)); size_256m=$((256 * 1024 * 1024))
say "sidecar: $sidecar_kind"
say "machine: $(nproc) cores; wrk runs ${duration}s each; everything on 127.0.0.1"
[[ ${#sidecar_env[@]} -eq 0 ]] || say "sidecar environment: ${sidecar_env[*]}"

nginx_port="$(free_port)"
mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    default_type application/octet-stream;
    server { listen 127.0.0.1:$nginx_port; root $work/data; }
}
NGINX
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
nginx_url="http://127.0.0.1:$nginx_port"
wait_for "$nginx_url/object-8m.bin"

start_sidecar local "{ \"name\": \"bench\", \"source\": \"local://$work/data\", \"immutable\": true }"
local_pid="$sidecar_pid"; local_url="$sidecar_url/bench"; local_admin_local_port="$sidecar_admin_local_port"
say "sidecar idle RSS: $(awk '/^VmRSS:/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$local_pid/status")"

# Warm the sidecar's cache and check both servers return the same bytes (and 206 for a range).
for object in object-8m.bin object-256m.bin; do
    expected="$(sha256sum <"$work/data/$object")"
    got="$(curl -sf "$local_url/$object" | sha256sum)"
    [[ "$got" == "$expected" ]] || { say "sidecar returned wrong bytes for $object" >&2; exit 1; }
done
for url in "$nginx_url/object-256m.bin" "$local_url/object-256m.bin"; do
    code="$(curl -s -o /dev/null -w '%{http_code}' -H 'Range: bytes=65536-131071' "$url")"
    [[ "$code" == 206 ]] || { say "$url answered $code to a Range request, expected 206" >&2; exit 1; }
done

# --- rounds ---------------------------------------------------------------------------------------------------------------
source bench/tools/rounds.sh
rounds_init "$work/rounds.tsv"
say "warm-up: before its first measured round of each figure, every server gets ${warmup}s of the same wrk load, not measured"
nginx_pids=("$(cat "$work/nginx/nginx.pid")" $(pgrep -P "$(cat "$work/nginx/nginx.pid")" || true))
sidecar_status_url="http://127.0.0.1:$local_admin_local_port/status"

gc_counts() { # -> "gen0 gen1 gen2 trims" of the sidecar now
    curl -sf "$sidecar_status_url" | python3 -c 'import json, sys; r = json.load(sys.stdin)["runtime"]; print(*r["gcCollections"][:3], r["memoryTrims"])'
}
record_gcs() { # ROUND BEFORE: the sidecar's collections during the round, by generation
    local -a before after
    read -r -a before <<<"$2"; read -r -a after <<<"$(gc_counts)"
    record "$1" sidecar gen0_gcs $((after[0] - before[0]))
    record "$1" sidecar gen1_gcs $((after[1] - before[1]))
    record "$1" sidecar gen2_gcs $((after[2] - before[2]))
    record "$1" sidecar memory_trims $((after[3] - before[3]))
}
measure() { # ROUND SIDE PIDS-VAR FIGURE-PREFIX WRK-ARGS...: one wrk run, its figures and the side's RSS peak
    local round="$1" side="$2" pids_var="$3[@]" prefix="$4" out gcs=""
    shift 4
    out="$work/$prefix-$side-$round.txt"
    peak_rss_reset "${!pids_var}"
    [[ "$side" != sidecar* ]] || gcs="$(gc_counts)"
    wrk "$@" >"$out"
    [[ -z "$gcs" ]] || record_gcs "$round" "$gcs"
    record "$round" "$side" rss_mib "$(peak_rss_mib "${!pids_var}")"
    record "$round" "$side" mibps "$(wrk_field "$out" mibps)"
    record "$round" "$side" rps "$(wrk_field "$out" rps)"
    record "$round" "$side" errors "$(wrk_field "$out" errors)"
    if grep -q 'Latency Distribution' "$out"; then record "$round" "$side" p99_ms "$(wrk_field "$out" p99)"; fi
}
sidecar_pids=("$local_pid")

# --- (a) 8 MiB whole-object GETs, and (d) RSS serving 256 MiB objects ---------------------------------------------------
if [[ "$parts" == *" a "* ]]; then
    section "(a) 8 MiB whole-object GETs, 4 connections, ${duration}s per run; (d) the sidecar's RSS on 256 MiB objects"
    wrk -t2 -c4 -d"${warmup}s" "$nginx_url/object-8m.bin" >/dev/null
    wrk -t2 -c4 -d"${warmup}s" "$local_url/object-8m.bin" >/dev/null
    wrk -t2 -c4 -d"${warmup}s" --timeout 30s "$local_url/object-256m.bin" >/dev/null
    rounds_file_all="$rounds_file"; rounds_file="$work/rounds-a.tsv"; : >"$rounds_file"
    for round in $(seq 1 "$bench_rounds"); do
        measure "$round" nginx nginx_pids a -t2 -c4 -d"${duration}s" --latency "$nginx_url/object-8m.bin"
        measure "$round" sidecar sidecar_pids a -t2 -c4 -d"${duration}s" --latency "$local_url/object-8m.bin"
        measure "$round" sidecar-256m sidecar_pids d -t2 -c4 -d"${duration}s" --timeout 30s "$local_url/object-256m.bin"
        say "round $round done (load $(load_average))"
    done
    rounds_summary --title "(a) 8 MiB GETs" --reference nginx --contender sidecar --metric mibps:higher --target 0.9 \
        --metric p99_ms:lower --metric rss_mib --metric errors --metric gen0_gcs --metric gen1_gcs --metric gen2_gcs --metric memory_trims
    # (d): the same process, 8 MiB objects as the reference, 256 MiB objects as the contender: "lower" RSS ratio
    # 8m/256m >= 0.8 means the peak grew at most 1.25x while objects grew 32x.
    sed 's/\tsidecar\t/\tsidecar-8m\t/' "$rounds_file" >"$work/rounds-d.tsv"
    python3 bench/tools/rounds.py "$work/rounds-d.tsv" --title "(d) sidecar RSS peak, 256 MiB vs 8 MiB objects" \
        --reference sidecar-8m --contender sidecar-256m --metric rss_mib:lower --target 0.8 --metric mibps
    rounds_file="$rounds_file_all"
fi

# --- (b) random 64 KiB ranges -------------------------------------------------------------------------------------------
if [[ "$parts" == *" b "* ]]; then
    section "(b) random 64 KiB ranged GETs over 256 MiB, 32 connections, ${duration}s per run"
    range_args=(-t2 -c32 --latency -s bench/wrk/random-range.lua)
    wrk "${range_args[@]}" -d"${warmup}s" "$nginx_url/object-256m.bin" -- "$size_256m" >/dev/null
    wrk "${range_args[@]}" -d"${warmup}s" "$local_url/object-256m.bin" -- "$size_256m" >/dev/null
    rounds_file_all="$rounds_file"; rounds_file="$work/rounds-b.tsv"; : >"$rounds_file"
    for round in $(seq 1 "$bench_rounds"); do
        measure "$round" nginx nginx_pids b "${range_args[@]}" -d"${duration}s" "$nginx_url/object-256m.bin" -- "$size_256m"
        measure "$round" sidecar sidecar_pids b "${range_args[@]}" -d"${duration}s" "$local_url/object-256m.bin" -- "$size_256m"
        say "round $round done (load $(load_average))"
    done
    rounds_summary --title "(b) random 64 KiB ranges" --reference nginx --contender sidecar --metric rps:higher --target 0.8 \
        --metric p99_ms:lower --metric rss_mib --metric errors --metric gen0_gcs --metric gen1_gcs --metric gen2_gcs --metric memory_trims
    rounds_file="$rounds_file_all"
fi

# --- (c) cold read through a latency proxy ------------------------------------------------------------------------------
# The remote is s3rver (npm, tests/node): it serves a range straight from its file. moto is no use here: it reads the
# whole object for every ranged GET (~0.5 s per 4 MiB range of a 256 MiB object), which would measure moto.
if [[ "$parts" == *" c "* ]]; then
section "(c) cold 256 MiB read from s3rver behind a proxy adding ${latency_ms} ms per request"
remote_port="$(free_port)"
mkdir -p "$work/s3rver"
node --openssl-legacy-provider tests/node/node_modules/s3rver/bin/s3rver.js -d "$work/s3rver" -a 127.0.0.1 -p "$remote_port" --silent >"$work/s3rver.log" 2>&1 &
pids+=($!)
until curl -s -o /dev/null "http://127.0.0.1:$remote_port/"; do sleep 0.1; done
python3 bench/tools/seed_remote.py "http://127.0.0.1:$remote_port" S3RVER S3RVER bench-remote object-256m.bin "$work/data/object-256m.bin" >/dev/null
# A different, small object: each fresh sidecar reads it once before the timed read (see cold_round).
python3 bench/tools/seed_remote.py "http://127.0.0.1:$remote_port" S3RVER S3RVER bench-remote warm-up-8m.bin "$work/data/object-8m.bin" >/dev/null
expected_256m="$(sha256sum <"$work/data/object-256m.bin")"
# The sidecar's S3 source reads the remote's credentials from the environment.
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

timed_get() { # URL -> seconds, or the limit when it did not finish; the bytes are checked
    local seconds
    if ! seconds="$(curl -sf --max-time "$cold_limit" -o "$work/cold.bin" -w '%{time_total}' "$1")"; then
        say "GET $1 did not finish within ${cold_limit}s: counted as ${cold_limit}s" >&2
        rm -f "$work/cold.bin"; echo "$cold_limit"; return
    fi
    [[ "$(sha256sum <"$work/cold.bin")" == "$expected_256m" ]] || { say "GET $1 returned wrong bytes" >&2; exit 1; }
    rm -f "$work/cold.bin"
    echo "$seconds"
}

cold_rounds() { # NAME STREAM_MIBPS: rounds of (direct GET, then a fresh sidecar on an empty cache)
    local name="$1" stream_mibps="$2" proxy_port proxy_url round seconds
    proxy_port="$(free_port)"
    python3 bench/tools/latency_proxy.py "$proxy_port" 127.0.0.1 "$remote_port" "$latency_ms" "$stream_mibps" >"$work/$name-proxy.log" 2>&1 &
    pids+=($!)
    until grep -q listening "$work/$name-proxy.log" 2>/dev/null; do sleep 0.1; done
    proxy_url="http://127.0.0.1:$proxy_port"
    rounds_file="$work/rounds-$name.tsv"; : >"$rounds_file"
    for round in $(seq 1 "$bench_rounds"); do
        record "$round" direct seconds "$(timed_get "$proxy_url/bench-remote/object-256m.bin")"
        rm -rf "$work/$name-cache"
        start_sidecar "$name" "{ \"name\": \"bench\", \"source\": \"s3://bench-remote/\", \"immutable\": true, \"options\": { \"endpoint\": \"$proxy_url\", \"region\": \"us-east-1\", \"pathStyle\": \"true\" } }"
        # "Cold" means the cache is cold, not the process: one GET of another object first, so a JIT build has
        # compiled the S3 client and read path and the figure is about fetching, as with the AOT binary. The 256 MiB
        # object's HEAD and every one of its blocks still go to the remote.
        curl -sf -o /dev/null "$sidecar_url/bench/warm-up-8m.bin" || { say "warm-up GET through the sidecar failed" >&2; exit 1; }
        peak_rss_reset "$sidecar_pid"
        seconds="$(timed_get "$sidecar_url/bench/object-256m.bin")"
        record "$round" sidecar seconds "$seconds"
        record "$round" sidecar rss_mib "$(peak_rss_mib "$sidecar_pid")"
        kill "$sidecar_pid" 2>/dev/null || true; wait "$sidecar_pid" 2>/dev/null || true
        say "round $round: direct $(awk -F'\t' -v r="$round" '$1 == r && $2 == "direct" { print $4 }' "$rounds_file") s, sidecar $seconds s (load $(load_average))"
    done
    rounds_summary --title "(c) cold 256 MiB, $name" --reference direct --contender sidecar --metric seconds:lower --target 2 --metric rss_mib
}

say "each round: one direct GET through the proxy, then a fresh sidecar on an empty cache (after one GET of another object)"
say "-- latency only (the loopback remote itself streams at ~150 MiB/s per connection)"
cold_rounds latency-only 0
stream_cap="${BENCH_STREAM_MIBPS:-32}"
say "-- latency and ${stream_cap} MiB/s per connection (a real object store's per-stream throughput)"
cold_rounds "capped-${stream_cap}mibps" "$stream_cap"
fi

section "done"
rounds_finish
