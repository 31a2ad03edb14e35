#!/usr/bin/env bash
# Side-by-side benchmarks of the sidecar's S3 read path, each next to a reference measured in the same run, on
# loopback. Run by hand, never by CI: it is slow and noisy. Total runtime about 3-4 minutes.
#
#   bash bench/run.sh                      # JIT build (dotnet build -c Release first, or let this script build it)
#   FLUID_SIDECAR_BINARY=path/to/aot/fluid-sidecar bash bench/run.sh   # the Native AOT binary
#   BENCH_DURATION=5 bash bench/run.sh     # seconds per wrk run (default 10)
#
# (a) 8 MiB whole-object GETs, sidecar (warm cache) vs nginx serving the same file: throughput ratio (target >= 0.8)
# (b) random 64 KiB ranged GETs, 32 connections: requests/s ratio (target >= 0.6) and p99 of both
# (c) cold read of a 256 MiB object from s3rver behind a 20 ms-per-request latency proxy: sidecar (read-ahead) vs one
#     direct single-stream GET through the same proxy (target >= 2x); once with latency only, once with a per-stream
#     bandwidth cap as well (BENCH_STREAM_MIBPS, default 32), as a real store gives one stream tens of MiB/s
# (d) sidecar RSS: idle, and peak while serving 8 MiB objects vs 256 MiB objects (must not grow with object size)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
duration="${BENCH_DURATION:-10}"
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
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r !~ /^</ && r + 0 >= t + 0) ? "meets" : "BELOW" }'; }

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

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# Samples a process's RSS every 100 ms into FILE until the sampler is killed.
start_rss_sampler() { # PID FILE
    (while kill -0 "$1" 2>/dev/null; do rss_kib "$1" >>"$2"; sleep 0.1; done) &
    sampler_pid=$!
}
stop_rss_sampler() { # FILE -> peak MiB
    kill "$sampler_pid" 2>/dev/null || true
    wait "$sampler_pid" 2>/dev/null || true
    sort -n "$1" | tail -n1 | awk '{ printf "%.1f", $1 / 1024 }'
}

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
    "${sidecar_cmd[@]}" --config "$work/$name.json" >"$work/$name.log" 2>&1 &
    sidecar_pid=$!
    pids+=("$sidecar_pid")
    sidecar_url="http://127.0.0.1:$s3_port"
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
local_pid="$sidecar_pid"; local_url="$sidecar_url/bench"
idle_rss="$(awk '{ printf "%.1f", $1 / 1024 }' <<<"$(rss_kib "$local_pid")")"

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

# --- (a) 8 MiB whole-object GETs ----------------------------------------------------------------------------------------
section "(a) 8 MiB whole-object GETs, 4 connections, ${duration}s"
wrk -t2 -c4 -d"${duration}s" "$nginx_url/object-8m.bin" >"$work/a-nginx.txt"
start_rss_sampler "$local_pid" "$work/rss-8m.txt"
wrk -t2 -c4 -d"${duration}s" "$local_url/object-8m.bin" >"$work/a-sidecar.txt"
rss_8m="$(stop_rss_sampler "$work/rss-8m.txt")"
a_nginx="$(wrk_field "$work/a-nginx.txt" mibps)"; a_sidecar="$(wrk_field "$work/a-sidecar.txt" mibps)"
a_ratio="$(ratio "$a_sidecar" "$a_nginx")"
printf '%-10s %10s MiB/s  %8s req/s  errors %s\n' nginx "$a_nginx" "$(wrk_field "$work/a-nginx.txt" rps)" "$(wrk_field "$work/a-nginx.txt" errors)"
printf '%-10s %10s MiB/s  %8s req/s  errors %s\n' sidecar "$a_sidecar" "$(wrk_field "$work/a-sidecar.txt" rps)" "$(wrk_field "$work/a-sidecar.txt" errors)"
say "ratio sidecar/nginx: $a_ratio (target >= 0.8: $(verdict "$a_ratio" 0.8))"

# --- (d, part) 256 MiB whole-object GETs right after the 8 MiB ones: RSS must not grow with object size ---
section "(d) RSS while serving 256 MiB whole objects, 4 connections, ${duration}s"
start_rss_sampler "$local_pid" "$work/rss-256m.txt"
wrk -t2 -c4 -d"${duration}s" --timeout 30s "$local_url/object-256m.bin" >"$work/d-sidecar.txt"
rss_256m="$(stop_rss_sampler "$work/rss-256m.txt")"
say "sidecar $(wrk_field "$work/d-sidecar.txt" mibps) MiB/s on 256 MiB objects"

# --- (b) random 64 KiB ranges -------------------------------------------------------------------------------------------
section "(b) random 64 KiB ranged GETs over 256 MiB, 32 connections, ${duration}s"
wrk -t2 -c32 -d"${duration}s" --latency -s bench/wrk/random-range.lua "$nginx_url/object-256m.bin" -- "$size_256m" >"$work/b-nginx.txt"
start_rss_sampler "$local_pid" "$work/rss-ranges.txt"
wrk -t2 -c32 -d"${duration}s" --latency -s bench/wrk/random-range.lua "$local_url/object-256m.bin" -- "$size_256m" >"$work/b-sidecar.txt"
rss_ranges="$(stop_rss_sampler "$work/rss-ranges.txt")"
b_nginx="$(wrk_field "$work/b-nginx.txt" rps)"; b_sidecar="$(wrk_field "$work/b-sidecar.txt" rps)"
b_ratio="$(ratio "$b_sidecar" "$b_nginx")"
printf '%-10s %10s req/s  p99 %8s ms  errors %s\n' nginx "$b_nginx" "$(wrk_field "$work/b-nginx.txt" p99)" "$(wrk_field "$work/b-nginx.txt" errors)"
printf '%-10s %10s req/s  p99 %8s ms  errors %s\n' sidecar "$b_sidecar" "$(wrk_field "$work/b-sidecar.txt" p99)" "$(wrk_field "$work/b-sidecar.txt" errors)"
say "ratio sidecar/nginx: $b_ratio (target >= 0.6: $(verdict "$b_ratio" 0.6))"

# --- (c) cold read through a latency proxy ------------------------------------------------------------------------------
# The remote is s3rver (npm, tests/node): it serves a range straight from its file. moto is no use here: it reads the
# whole object for every ranged GET (~0.5 s per 4 MiB range of a 256 MiB object), which would measure moto.
section "(c) cold 256 MiB read from s3rver behind a proxy adding ${latency_ms} ms per request"
remote_port="$(free_port)"
mkdir -p "$work/s3rver"
node --openssl-legacy-provider tests/node/node_modules/s3rver/bin/s3rver.js -d "$work/s3rver" -a 127.0.0.1 -p "$remote_port" --silent >"$work/s3rver.log" 2>&1 &
pids+=($!)
until curl -s -o /dev/null "http://127.0.0.1:$remote_port/"; do sleep 0.1; done
python3 bench/tools/seed_remote.py "http://127.0.0.1:$remote_port" S3RVER S3RVER bench-remote object-256m.bin "$work/data/object-256m.bin" >/dev/null
# A different, small object: the sidecar reads it once before the timed read (see cold_read).
python3 bench/tools/seed_remote.py "http://127.0.0.1:$remote_port" S3RVER S3RVER bench-remote warm-up-8m.bin "$work/data/object-8m.bin" >/dev/null
expected_256m="$(sha256sum <"$work/data/object-256m.bin")"
# The sidecar's S3 source reads the remote's credentials from the environment.
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

cold_read() { # NAME STREAM_MIBPS -> sets c_direct c_cold c_ratio rss_cold
    local name="$1" stream_mibps="$2" proxy_port proxy_url
    proxy_port="$(free_port)"
    python3 bench/tools/latency_proxy.py "$proxy_port" 127.0.0.1 "$remote_port" "$latency_ms" "$stream_mibps" >"$work/$name-proxy.log" 2>&1 &
    pids+=($!)
    until grep -q listening "$work/$name-proxy.log" 2>/dev/null; do sleep 0.1; done
    proxy_url="http://127.0.0.1:$proxy_port"

    c_direct="$(curl -sf -o "$work/direct.bin" -w '%{time_total}' "$proxy_url/bench-remote/object-256m.bin")"
    [[ "$(sha256sum <"$work/direct.bin")" == "$expected_256m" ]] || { say "direct GET returned wrong bytes" >&2; exit 1; }
    rm -f "$work/direct.bin"

    start_sidecar "$name" "{ \"name\": \"bench\", \"source\": \"s3://bench-remote/\", \"immutable\": true, \"options\": { \"endpoint\": \"$proxy_url\", \"region\": \"us-east-1\", \"pathStyle\": \"true\" } }"
    # "Cold" means the cache is cold, not the process: one GET of another object first, so a JIT build has compiled
    # the S3 client and read path (~0.6 s of a 1-2 s read otherwise) and the figure is about fetching, as with the AOT
    # binary. The 256 MiB object's HEAD and every one of its blocks still go to the remote.
    curl -sf -o /dev/null "$sidecar_url/bench/warm-up-8m.bin" || { say "warm-up GET through the sidecar failed" >&2; exit 1; }
    start_rss_sampler "$sidecar_pid" "$work/$name-rss.txt"
    # Bounded so a slow build cannot blow the bench's time budget; a timeout is reported, not hidden.
    if ! c_cold="$(curl -sf --max-time "$cold_limit" -o "$work/cold.bin" -w '%{time_total}' "$sidecar_url/bench/object-256m.bin")"; then
        rss_cold="$(stop_rss_sampler "$work/$name-rss.txt")"
        kill "$sidecar_pid" 2>/dev/null || true
        c_cold="$cold_limit"; c_ratio="<$(ratio "$c_direct" "$cold_limit")"
        printf '%-34s %8.2f s\n' "direct single-stream GET" "$c_direct"
        say "sidecar cold (read-ahead): did not finish within ${cold_limit}s (peak RSS $rss_cold MiB)"
        say "speed-up sidecar/direct: $c_ratio (target >= 2: BELOW)"
        return
    fi
    rss_cold="$(stop_rss_sampler "$work/$name-rss.txt")"
    [[ "$(sha256sum <"$work/cold.bin")" == "$expected_256m" ]] || { say "sidecar cold read returned wrong bytes" >&2; exit 1; }
    rm -f "$work/cold.bin"
    kill "$sidecar_pid" 2>/dev/null || true
    c_ratio="$(ratio "$c_direct" "$c_cold")"
    printf '%-34s %8.2f s  %8.1f MiB/s\n' "direct single-stream GET" "$c_direct" "$(awk -v t="$c_direct" 'BEGIN { print 256 / t }')"
    printf '%-34s %8.2f s  %8.1f MiB/s  (peak RSS %s MiB)\n' "sidecar cold (read-ahead)" "$c_cold" "$(awk -v t="$c_cold" 'BEGIN { print 256 / t }')" "$rss_cold"
    say "speed-up sidecar/direct: $c_ratio (target >= 2: $(verdict "$c_ratio" 2))"
}

say "-- latency only (the loopback remote itself streams at ~150 MiB/s per connection)"
cold_read remote-latency 0
c1_ratio="$c_ratio"
stream_cap="${BENCH_STREAM_MIBPS:-32}"
say "-- latency and ${stream_cap} MiB/s per connection (a real object store's per-stream throughput)"
cold_read remote-capped "$stream_cap"
c2_ratio="$c_ratio"

# --- summary -------------------------------------------------------------------------------------------------------------
section "(d) sidecar RSS (MiB)"
printf 'idle %s | peak serving 8 MiB objects %s | 64 KiB ranges %s | 256 MiB objects %s | cold 256 MiB fill %s\n' \
    "$idle_rss" "$rss_8m" "$rss_ranges" "$rss_256m" "$rss_cold"
d_ratio="$(ratio "$rss_256m" "$rss_8m")"
# verdict() compares numbers; a "<x" ratio (a timeout) reads as 0 there, i.e. BELOW.
say "RSS 256 MiB objects / 8 MiB objects: $d_ratio (flat means ~1; object size grew 32x)"

section "summary"
printf '%-44s %8s  %s\n' "8 MiB GET throughput sidecar/nginx" "$a_ratio" "target >= 0.8 $(verdict "$a_ratio" 0.8)"
printf '%-44s %8s  %s\n' "64 KiB random range req/s sidecar/nginx" "$b_ratio" "target >= 0.6 $(verdict "$b_ratio" 0.6)"
printf '%-44s %8s  %s\n' "cold 256 MiB speed-up, latency only" "$c1_ratio" "target >= 2 $(verdict "$c1_ratio" 2)"
printf '%-44s %8s  %s\n' "cold 256 MiB speed-up, latency + stream cap" "$c2_ratio" "target >= 2 $(verdict "$c2_ratio" 2)"
printf '%-44s %8s  %s\n' "RSS growth 256 MiB vs 8 MiB objects" "$d_ratio" "target <= 1.25 $(awk -v r="$d_ratio" 'BEGIN { print (r + 0 <= 1.25) ? "meets" : "ABOVE" }')"
