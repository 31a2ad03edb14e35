#!/usr/bin/env bash
# Throughput in 1 s windows from the moment a fresh sidecar answers /readyz: a serverless pod's sidecar must serve
# at full speed within its first second, not after a warm-up. Run by hand, never by CI.
#
#   bash bench/startup-windows/run.sh                 # JIT build; FLUID_SIDECAR_BINARY=path/to/aot/fluid-sidecar for AOT
#   BENCH_ROUNDS=5 BENCH_WINDOWS=10 bash bench/startup-windows/run.sh
#   SIDECAR_ENV="DOTNET_GCDynamicAdaptationMode=0" bash bench/startup-windows/run.sh   # runtime settings A/B
#
# Each round (bench/tools/rounds.sh: ABAB..., nginx then the sidecar) starts the server fresh, waits until it is
# ready (nginx: its first answer; the sidecar: /readyz) and runs BENCH_WINDOWS back-to-back `wrk -d1s` windows of
# random 64 KiB ranges (32 connections) over a 256 MiB object. The sidecar's block cache is on disk and warm (filled
# once before the rounds, as a prefetched pod's would be); only the process is new. nginx is the reference of what
# a fresh server and the load generator do in a first window. Prints the median (min-max) of every window for both,
# and the sidecar's first window over its own steady state (median of the windows from the fourth on), target >= 0.9.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"
windows="${BENCH_WINDOWS:-10}"
read -r -a sidecar_env <<<"${SIDECAR_ENV:-}"
source bench/tools/install-peers.sh
need_debian wrk=wrk nginx=nginx-light curl=curl
source bench/tools/sidecar-command.sh
select_sidecar "$PWD"
source bench/tools/rounds.sh

work="$(mktemp -d /tmp/fluid-startup.XXXXXX)"
chmod 755 "$work"   # nginx workers run as an unprivileged user and must read the data
server_pid=""
cleanup() { [[ -z "$server_pid" ]] || kill "$server_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
until_ready() { # URL PID
    local deadline=$((SECONDS + 60))
    until curl -sf -o /dev/null "$1"; do
        kill -0 "$2" 2>/dev/null || { echo "process $2 exited before $1 answered" >&2; return 1; }
        ((SECONDS < deadline)) || { echo "timed out waiting for $1" >&2; return 1; }
        sleep 0.02
    done
}
stop_server() { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=""; }

mkdir -p "$work/data" "$work/nginx/logs" "$work/cache"
size=$((256 * 1024 * 1024))
head -c "$size" /dev/urandom >"$work/data/object-256m.bin"
nginx_port="$(free_port)"
cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000; default_type application/octet-stream;
    server { listen 127.0.0.1:$nginx_port; root $work/data; }
}
NGINX
s3_port="$(free_port)"; admin_port="$(free_port)"; admin_local_port="$(free_port)"
cat >"$work/sidecar.json" <<JSON
{
  "s3": { "address": "127.0.0.1", "port": $s3_port },
  "admin": { "address": "127.0.0.1", "port": $admin_port, "localPort": $admin_local_port },
  "cache": { "directory": "$work/cache", "quotaBytes": 2147483648, "minFreeBytes": 104857600 },
  "datasets": [ { "name": "bench", "source": "local://$work/data", "immutable": true } ]
}
JSON
start_nginx() { nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' & server_pid=$!; until_ready "http://127.0.0.1:$nginx_port/object-256m.bin" "$server_pid"; }
start_sidecar() { env "${sidecar_env[@]}" "${sidecar_cmd[@]}" --config "$work/sidecar.json" >>"$work/sidecar.log" 2>&1 & server_pid=$!; until_ready "http://127.0.0.1:$admin_port/readyz" "$server_pid"; }

echo "sidecar: $sidecar_kind${SIDECAR_ENV:+ with $SIDECAR_ENV}; machine: $(nproc) cores; $windows windows of 1 s per start"
# Fill the block cache once, then stop: every measured start finds it warm on disk.
start_sidecar
curl -sf -o /dev/null "http://127.0.0.1:$s3_port/bench/object-256m.bin"
stop_server

windows_of() { # ROUND SIDE URL: BENCH_WINDOWS back-to-back 1 s windows from now
    local w rps
    for w in $(seq 1 "$windows"); do
        wrk -t2 -c32 -d1s -s bench/wrk/random-range.lua "$3" -- "$size" >"$work/w.txt"
        rps="$(awk '/^Requests\/sec:/ { print $2 }' "$work/w.txt")"
        record "$1" "$2" "$(printf 'w%02d' "$w")" "$rps"
    done
    python3 - "$rounds_file" "$1" "$2" <<'PY' >>"$rounds_file"
import statistics, sys
path, round_, side = sys.argv[1], sys.argv[2], sys.argv[3]
rows = {m: float(v) for r, s, m, v in (line.rstrip("\n").split("\t") for line in open(path)) if r == round_ and s == side and m.startswith("w")}
steady = statistics.median([v for m, v in rows.items() if int(m[1:]) >= 4] or [max(rows.values())])
print(f"{round_}\t{side}\tfirst_over_steady\t{rows['w01'] / steady if steady else 0:.3f}")
PY
}

rounds_init "$work/rounds.tsv"
for round in $(seq 1 "$bench_rounds"); do
    started=$(date +%s.%N); start_nginx; ready=$(date +%s.%N)
    record "$round" nginx ready_ms "$(awk -v a="$started" -v b="$ready" 'BEGIN { printf "%.0f", (b - a) * 1000 }')"
    windows_of "$round" nginx "http://127.0.0.1:$nginx_port/object-256m.bin"
    stop_server
    started=$(date +%s.%N); start_sidecar; ready=$(date +%s.%N)
    record "$round" sidecar ready_ms "$(awk -v a="$started" -v b="$ready" 'BEGIN { printf "%.0f", (b - a) * 1000 }')"
    windows_of "$round" sidecar "http://127.0.0.1:$s3_port/bench/object-256m.bin"
    record "$round" sidecar gen2_gcs_since_start "$(curl -sf "http://127.0.0.1:$admin_local_port/status" | python3 -c 'import json, sys; print(json.load(sys.stdin)["runtime"]["gcCollections"][2])')"
    stop_server
    echo "round $round done (load $(load_average))"
done

window_metrics=(); for w in $(seq 1 "$windows"); do window_metrics+=(--metric "$(printf 'w%02d' "$w")":higher); done
rounds_summary --compact --title "req/s per 1 s window after ready" --reference nginx --contender sidecar "${window_metrics[@]}"
rounds_summary --title "start" --reference nginx --contender sidecar --metric ready_ms --metric first_over_steady --metric gen2_gcs_since_start
python3 - "$rounds_file" <<'PY'
import statistics, sys
values = [float(v) for r, s, m, v in (line.rstrip("\n").split("\t") for line in open(sys.argv[1])) if s == "sidecar" and m == "first_over_steady"]
median = statistics.median(values)
print(f"sidecar first window / its steady state: median {median:.2f} (target >= 0.9: {'meets' if median >= 0.9 else 'BELOW'})")
PY
rounds_finish
