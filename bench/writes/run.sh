#!/usr/bin/env bash
# Upload throughput through the sidecar vs directly to the remote, same client, same run. Run by hand.
#
#   bash bench/writes/run.sh                 # JIT build; FLUID_SIDECAR_BINARY=path/to/aot/fluid-sidecar for AOT
#   BENCH_UPLOAD_MIB=256 BENCH_ROUNDS=4 bash bench/writes/run.sh
#
# The remote is moto_server on loopback; the client is aws-cli v2 (/usr/bin/aws) with its default settings
# (multipart, 8 MiB parts, 10 concurrent requests), once to moto directly and once through a writable dataset of the
# sidecar that writes through to the same moto bucket. Prints the best wall time of each, the ratio
# (target: sidecar >= 0.8x the direct throughput) and the sidecar's RSS sampled during its uploads (must stay flat:
# uploads stream, no whole-object buffers). Every upload is checked by SHA-256 at moto.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"
size_mib="${BENCH_UPLOAD_MIB:-256}"
rounds="${BENCH_ROUNDS:-4}"
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

source bench/tools/sidecar-command.sh
select_sidecar "$PWD"

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1
unset AWS_ENDPOINT_URL_S3 AWS_CA_BUNDLE
moto_port="$(free_port)"
moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$moto_port/"
moto="http://127.0.0.1:$moto_port"
/usr/bin/aws --endpoint-url "$moto" s3 mb s3://bench >/dev/null

s3_port="$(free_port)"; admin_port="$(free_port)"
cat >"$work/sidecar.json" <<JSON
{
  "s3": { "address": "127.0.0.1", "port": $s3_port },
  "admin": { "address": "127.0.0.1", "port": $admin_port },
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
run_direct() { # ROUND
    local t
    t="$(upload "$moto" "s3://bench/direct/payload-$1.bin")"; check_at_moto "direct/payload-$1.bin"; drop_at_moto "direct/payload-$1.bin"
    [[ -z "$best_direct" ]] || awk -v a="$t" -v b="$best_direct" 'BEGIN { exit !(a < b) }' && best_direct="$t"
    direct_times+=("$t")
}
run_sidecar() { # ROUND
    local t sampler
    ( while kill -0 "$sidecar_pid" 2>/dev/null; do rss_kib "$sidecar_pid"; sleep 0.25; done ) >"$work/rss-$1.txt" &
    sampler=$!
    t="$(upload "$sidecar" "s3://uploads/payload-$1.bin")"; check_at_moto "through-sidecar/payload-$1.bin"; drop_at_moto "through-sidecar/payload-$1.bin"
    kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
    [[ -z "$best_sidecar" ]] || awk -v a="$t" -v b="$best_sidecar" 'BEGIN { exit !(a < b) }' && best_sidecar="$t"
    sidecar_times+=("$t")
    rss_samples+=("$(sort -n "$work/rss-$1.txt" | tail -1)")
}

# One warm-up upload (connections, a JIT build's first compilation), then rounds in alternating order (direct
# first in odd rounds, the sidecar first in even ones) so neither side always meets the machine in the same state.
/usr/bin/aws --endpoint-url "$sidecar" s3 cp --only-show-errors "$work/payload.bin" "s3://uploads/warm-up.bin"; drop_at_moto "through-sidecar/warm-up.bin"
best_direct=""; best_sidecar=""; rss_samples=(); direct_times=(); sidecar_times=()
for round in $(seq 1 "$rounds"); do
    if ((round % 2)); then run_direct "$round"; run_sidecar "$round"; else run_sidecar "$round"; run_direct "$round"; fi
    echo "round $round: direct ${direct_times[-1]}s, sidecar ${sidecar_times[-1]}s, sidecar peak RSS $((${rss_samples[-1]} / 1024)) MiB"
done

direct_mibps="$(awk -v s="$size_mib" -v t="$best_direct" 'BEGIN { printf "%.0f", s / t }')"
sidecar_mibps="$(awk -v s="$size_mib" -v t="$best_sidecar" 'BEGIN { printf "%.0f", s / t }')"
ratio="$(awk -v a="$sidecar_mibps" -v b="$direct_mibps" 'BEGIN { printf "%.2f", a / b }')"
echo
echo "== upload of ${size_mib} MiB with aws-cli v2 (best of $rounds), bytes verified at moto"
printf '%-28s %10s %10s\n' "" "seconds" "MiB/s"
printf '%-28s %10s %10s\n' "direct to moto" "$best_direct" "$direct_mibps"
printf '%-28s %10s %10s\n' "through the sidecar" "$best_sidecar" "$sidecar_mibps"
# Each round's two uploads run back to back, so they share the machine's load of the moment: the median of the
# per-round ratios is the headline figure on a shared machine; the best-of ratio is printed next to it.
round_ratios=(); for i in "${!direct_times[@]}"; do round_ratios+=("$(awk -v d="${direct_times[$i]}" -v s="${sidecar_times[$i]}" 'BEGIN { printf "%.2f", d / s }')"); done
median_ratio="$(printf '%s\n' "${round_ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
echo "per round: direct ${direct_times[*]} s; sidecar ${sidecar_times[*]} s; ratios ${round_ratios[*]}"
echo "ratio sidecar/direct, median of rounds: $median_ratio (target >= 0.8: $(awk -v r="$median_ratio" 'BEGIN { print (r >= 0.8) ? "meets" : "BELOW" }')); best-of ratio: $ratio"
echo "sidecar RSS (MiB): idle $((idle_rss_kib / 1024)), peak per round $(for r in "${rss_samples[@]}"; do printf '%d ' $((r / 1024)); done)(flat across rounds and sizes = streaming)"

# One single PUT of BENCH_SINGLE_PUT_MIB (default 1 GiB, S3 allows 5 GiB) through the sidecar with aws-cli v2's
# `s3api put-object` (no multipart): the body streams on to the remote, so the sidecar's RSS stays near idle.
single_mib="${BENCH_SINGLE_PUT_MIB:-1024}"
head -c $((single_mib * 1024 * 1024)) /dev/urandom >"$work/payload.bin"
want="$(sha256sum "$work/payload.bin" | cut -d' ' -f1)"
( while kill -0 "$sidecar_pid" 2>/dev/null; do rss_kib "$sidecar_pid"; sleep 0.25; done ) >"$work/rss-single.txt" &
sampler=$!
start=$(date +%s.%N)
/usr/bin/aws --endpoint-url "$sidecar" s3api put-object --bucket uploads --key single-put.bin --body "$work/payload.bin" >/dev/null
end=$(date +%s.%N)
kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
check_at_moto "through-sidecar/single-put.bin"; drop_at_moto "through-sidecar/single-put.bin"
echo "single PUT of ${single_mib} MiB (s3api put-object) through the sidecar: $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }') s," \
    "sidecar RSS (MiB): idle $((idle_rss_kib / 1024)), peak $(( $(sort -n "$work/rss-single.txt" | tail -1) / 1024 ))"
