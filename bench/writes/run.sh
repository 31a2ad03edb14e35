#!/usr/bin/env bash
# Upload throughput through the sidecar vs directly to the remote, same client, same run. Run by hand.
#
#   bash bench/writes/run.sh                 # JIT build; FLUID_SIDECAR_BINARY=path/to/aot/fluid-sidecar for AOT
#   BENCH_UPLOAD_MIB=256 BENCH_ROUNDS=5 bash bench/writes/run.sh
#
# The remote is moto_server on loopback; the client is aws-cli v2 (/usr/bin/aws) with its default settings
# (multipart, 8 MiB parts, 10 concurrent requests), once to moto directly and once through a writable dataset of the
# sidecar that writes through to the same moto bucket. Method (bench/tools/rounds.sh): one unmeasured warm-up
# upload through the sidecar, then BENCH_ROUNDS interleaved rounds (direct, then through the sidecar); every round,
# the median and min-max of each side and of the ratio (target: sidecar >= 0.95x the direct throughput), the RSS
# peaks (VmHWM, reset per upload) of the sidecar and of moto in both sides' uploads (the sidecar's must stay flat:
# uploads stream, no whole-object buffers), where each upload's CPU went (the machine, moto, the sidecar, aws-cli
# and the rest) and the floor that CPU puts under its wall time on this machine's cores, load average at start and
# end. Every upload is checked by SHA-256 at moto.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"
size_mib="${BENCH_UPLOAD_MIB:-256}"
[[ -d "$HOME/.pyenv/shims" ]] && export PATH="$HOME/.pyenv/shims:$PATH"
source bench/tools/install-peers.sh
need_debian curl=curl /usr/bin/aws=awscli
need_python

work="$(mktemp -d /tmp/fluid-bench-writes.XXXXXX)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { local deadline=$((SECONDS + 60)); until curl -sf -o /dev/null "$1"; do ((SECONDS < deadline)) || { echo "timed out: $1" >&2; return 1; }; sleep 0.1; done; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
source bench/tools/rounds.sh

source bench/tools/sidecar-command.sh
select_sidecar "$PWD"

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1
unset AWS_ENDPOINT_URL_S3 AWS_CA_BUNDLE
moto_port="$(free_port)"
moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
moto_pid=$!; pids+=("$moto_pid")
wait_for "http://127.0.0.1:$moto_port/"
moto="http://127.0.0.1:$moto_port"
/usr/bin/aws --endpoint-url "$moto" s3 mb s3://bench >/dev/null

s3_port="$(free_port)"; admin_port="$(free_port)"; admin_local_port="$(free_port)"
cat >"$work/sidecar.json" <<JSON
{
  "s3": { "address": "127.0.0.1", "port": $s3_port },
  "admin": { "address": "127.0.0.1", "port": $admin_port, "localPort": $admin_local_port },
  "cache": { "directory": "$work/cache", "quotaBytes": 1073741824, "minFreeBytes": 104857600 },
  "datasets": [ { "name": "uploads", "source": "s3://bench/through-sidecar/", "readOnly": false,
                  "options": { "endpoint": "$moto", "region": "us-east-1", "accessKeyId": "bench", "secretAccessKey": "bench" } } ]
}
JSON
"${sidecar_cmd[@]}" --config "$work/sidecar.json" >"$work/sidecar.log" 2>&1 &
sidecar_pid=$!; pids+=("$sidecar_pid")
wait_for "http://127.0.0.1:$admin_port/readyz" || { cat "$work/sidecar.log" >&2; exit 1; }
sidecar="http://127.0.0.1:$s3_port"

idle_rss_kib="$(rss_kib "$sidecar_pid")"
head -c $((size_mib * 1024 * 1024)) /dev/urandom >"$work/payload.bin"
want="$(sha256sum "$work/payload.bin" | cut -d' ' -f1)"

upload() { # ENDPOINT URI -> seconds
    local start end
    start=$(date +%s.%N)
    /usr/bin/aws --endpoint-url "$1" s3 cp --only-show-errors "$work/payload.bin" "$2"
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}
check_at_moto() { # KEY
    local got
    got="$(/usr/bin/aws --endpoint-url "$moto" s3 cp --only-show-errors "s3://bench/$1" - | sha256sum | cut -d' ' -f1)"
    [[ "$got" == "$want" ]] || { echo "SHA-256 mismatch at moto for $1: $got != $want" >&2; exit 1; }
}

drop_at_moto() { # KEY: moto keeps every object in memory; left there, each round would run against a fuller moto
    /usr/bin/aws --endpoint-url "$moto" s3 rm --only-show-errors "s3://bench/$1"
}
run_side() { # ROUND SIDE ENDPOINT URI KEY-AT-MOTO: one upload, its seconds and MiB/s, RSS peaks and CPU seconds
    local t at_start=() used=()
    peak_rss_reset "$sidecar_pid" "$moto_pid"
    at_start=("$(machine_cpu_ticks)" "$(cpu_ticks_of "$sidecar_pid")" "$(cpu_ticks_of "$moto_pid")")
    t="$(upload "$3" "$4")"
    used=($(( $(machine_cpu_ticks) - at_start[0] )) $(( $(cpu_ticks_of "$sidecar_pid") - at_start[1] )) $(( $(cpu_ticks_of "$moto_pid") - at_start[2] )))
    check_at_moto "$5"
    # Where the upload's CPU went: the cores put a floor of (machine CPU / cores) under its wall time.
    record "$1" "$2" cpu_s "$(ticks_to_seconds "${used[0]}")"
    record "$1" "$2" moto_cpu_s "$(ticks_to_seconds "${used[2]}")"
    record "$1" "$2" sidecar_cpu_s "$(ticks_to_seconds "${used[1]}")"
    record "$1" "$2" client_and_rest_cpu_s "$(ticks_to_seconds $((used[0] - used[1] - used[2])))"
    record "$1" "$2" wall_over_cpu_floor "$(awk -v t="$t" -v c="$(ticks_to_seconds "${used[0]}")" -v n="$(nproc)" 'BEGIN { printf "%.2f", t / (c / n) }')"
    record "$1" "$2" sidecar_rss_mib "$(peak_rss_mib "$sidecar_pid")"
    record "$1" "$2" moto_rss_mib "$(peak_rss_mib "$moto_pid")"
    drop_at_moto "$5"
    record "$1" "$2" seconds "$t"
    record "$1" "$2" mibps "$(awk -v s="$size_mib" -v t="$t" 'BEGIN { printf "%.1f", s / t }')"
}

# One warm-up upload (connections, a JIT build's first compilation), then interleaved rounds.
/usr/bin/aws --endpoint-url "$sidecar" s3 cp --only-show-errors "$work/payload.bin" "s3://uploads/warm-up.bin"; drop_at_moto "through-sidecar/warm-up.bin"
echo "warm-up: one unmeasured ${size_mib} MiB upload through the sidecar (the direct path has no server of ours to warm)"
rounds_init "$work/rounds.tsv"
for round in $(seq 1 "$bench_rounds"); do
    run_side "$round" direct "$moto" "s3://bench/direct/payload-$round.bin" "direct/payload-$round.bin"
    run_side "$round" sidecar "$sidecar" "s3://uploads/payload-$round.bin" "through-sidecar/payload-$round.bin"
    echo "round $round done (load $(load_average))"
done
echo
echo "== upload of ${size_mib} MiB with aws-cli v2, bytes verified at moto; sidecar idle RSS $((idle_rss_kib / 1024)) MiB"
rounds_summary --title "through the sidecar vs direct to moto" --reference direct --contender sidecar \
    --metric mibps:higher --target 0.95 --metric sidecar_rss_mib --metric moto_rss_mib \
    --metric cpu_s --metric moto_cpu_s --metric sidecar_cpu_s --metric client_and_rest_cpu_s --metric wall_over_cpu_floor

# One single PUT of BENCH_SINGLE_PUT_MIB (default 1 GiB, S3 allows 5 GiB) through the sidecar with aws-cli v2's
# `s3api put-object` (no multipart): the body streams on to the remote, so the sidecar's RSS stays near idle.
single_mib="${BENCH_SINGLE_PUT_MIB:-1024}"
head -c $((single_mib * 1024 * 1024)) /dev/urandom >"$work/payload.bin"
want="$(sha256sum "$work/payload.bin" | cut -d' ' -f1)"
peak_rss_reset "$sidecar_pid"
start=$(date +%s.%N)
/usr/bin/aws --endpoint-url "$sidecar" s3api put-object --bucket uploads --key single-put.bin --body "$work/payload.bin" >/dev/null
end=$(date +%s.%N)
single_peak="$(peak_rss_mib "$sidecar_pid")"
check_at_moto "through-sidecar/single-put.bin"; drop_at_moto "through-sidecar/single-put.bin"
echo "single PUT of ${single_mib} MiB (s3api put-object) through the sidecar: $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }') s," \
    "sidecar RSS (MiB): idle $((idle_rss_kib / 1024)), peak $single_peak"
rounds_finish
