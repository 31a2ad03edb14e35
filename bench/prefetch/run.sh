#!/usr/bin/env bash
# Prefetch and live-switch benchmarks, each next to a reference measured in the same run. Run by hand,
# never by CI. Everything listens on 127.0.0.1; every process started here is killed on exit.
#
#   bash bench/prefetch/run.sh
#   BENCH_SMALL_COUNT=500 BENCH_LARGE_COUNT=1 bash bench/prefetch/run.sh      # a quicker, smaller run
#   BENCH_PREFETCH_WORKERS=8 BENCH_SPAN_BYTES=4194304 bash bench/prefetch/run.sh   # the old settings: 8 workers, one GET per block
#   BENCH_SKIP_BUILD=1 ...   # reuse the last Release build of PrefetchBench
#
# (a) prefetch of 2,000 x 256 KiB objects from moto behind a proxy adding 20 ms per request, into the sidecar's
#     DiskBlockCache, vs /usr/bin/aws s3 sync (aws-cli v2, default settings) of the same prefix through the same
#     proxy into a directory. Target: prefetch time <= 0.8x the aws-cli time.
# (b) the same for 4 x 256 MiB objects.
# (c) time from kubelet's atomic swap of the downward-API file to the first request the S3 endpoint serves from the
#     new source (median of BENCH_SWITCH_TRIALS), with file events + 1 s poll, next to the poll alone.
# Every byte is checked: aws-cli's files by sha256sum, the prefetched blocks by reading them back through the cache
# (SHA-256 per object, and zero reads may reach the remote).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"
latency_ms="${BENCH_LATENCY_MS:-20}"
small_count="${BENCH_SMALL_COUNT:-2000}"
small_bytes="${BENCH_SMALL_BYTES:-262144}"
large_count="${BENCH_LARGE_COUNT:-4}"
large_bytes="${BENCH_LARGE_BYTES:-268435456}"
workers="${BENCH_PREFETCH_WORKERS:-32}"   # the product default (prefetch.workers)
block_bytes="${BENCH_BLOCK_BYTES:-4194304}"   # the cache's block size (cache.blockSizeBytes); 4 MiB is the default
switch_trials="${BENCH_SWITCH_TRIALS:-10}"
aws_cli="${BENCH_AWS_CLI:-/usr/bin/aws}"
if [[ -d "$HOME/.pyenv/shims" && ":$PATH:" != *":$HOME/.pyenv/shims:"* ]]; then
    export PATH="$HOME/.pyenv/shims:$PATH"
fi

work="$(mktemp -d /tmp/fluid-prefetch-bench.XXXXXX)"
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
field() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"$1"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

source bench/tools/install-peers.sh
need_debian curl=curl /usr/bin/aws=awscli
need_python
[[ -x "$aws_cli" ]] || { say "$aws_cli not found" >&2; exit 1; }
t0="$(date +%s.%N)"; aws_version="$("$aws_cli" --version 2>&1)"; t1="$(date +%s.%N)"
aws_start="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
say "aws-cli: $aws_version (process start-up alone: ${aws_start} s, included in its times below;"
say "         prefetch is timed from the job's start inside a running sidecar, listing included)"

say "building bench/prefetch/PrefetchBench (Release)"
[[ -n "${BENCH_SKIP_BUILD:-}" ]] || dotnet build bench/prefetch/PrefetchBench/PrefetchBench.csproj -c Release -nologo -clp:ErrorsOnly >/dev/null
bench_dll="bench/prefetch/PrefetchBench/bin/Release/net10.0/PrefetchBench.dll"

moto_port="$(free_port)"
moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
until curl -sf -o /dev/null "http://127.0.0.1:$moto_port/moto-api/"; do sleep 0.2; done
proxy_port="$(free_port)"
python3 bench/tools/latency_proxy.py "$proxy_port" 127.0.0.1 "$moto_port" "$latency_ms" >"$work/proxy.log" 2>&1 &
pids+=($!)
until grep -q listening "$work/proxy.log" 2>/dev/null; do sleep 0.1; done
remote="http://127.0.0.1:$proxy_port"

say "seeding moto: $small_count x $small_bytes B, $large_count x $large_bytes B"
python3 bench/prefetch/seed.py "http://127.0.0.1:$moto_port" prefetch-bench "$small_count" "$small_bytes" "$large_count" "$large_bytes" "$work"

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null   # aws-cli defaults, whatever ~/.aws holds

run_pair() { # NAME PREFIX -> prints both times and the ratio
    local name="$1" prefix="$2" dest="$work/sync-$1" cache="$work/cache-$1" t0 t1 aws_s out pf_s
    section "($name) $prefix: prefetch ($workers workers, $((block_bytes / 1048576)) MiB blocks) vs aws s3 sync, ${latency_ms} ms per request"

    t0="$(now)"
    "$aws_cli" s3 sync "s3://prefetch-bench/$prefix" "$dest" --endpoint-url "$remote" --only-show-errors
    t1="$(now)"
    aws_s="$(elapsed "$t0" "$t1")"
    (cd "$dest" && awk -v p="$prefix" '{ sub("^" p, "", $3); print $1 "  " $3 }' "$work/$name.expected" | sha256sum -c --quiet) \
        || { say "aws s3 sync produced wrong bytes" >&2; exit 1; }
    rm -rf "$dest"

    out="$(dotnet "$bench_dll" prefetch "$remote" prefetch-bench "$prefix" "$cache" "$workers" "$work/$name.expected" "$block_bytes")" \
        || { say "prefetch failed or read back wrong bytes: $out" >&2; exit 1; }
    pf_s="$(field "$out" seconds)"
    rm -rf "$cache"

    say "aws s3 sync: ${aws_s} s"
    say "prefetch:    ${pf_s} s  ($out)"
    say "ratio prefetch/aws = $(ratio "$pf_s" "$aws_s")  (target <= 0.80)"
}

run_pair small small/
run_pair large large/

section "(c) config file change -> first request served from the new source ($switch_trials switches)"
mkdir -p "$work/switch-events" "$work/switch-poll"
events="$(dotnet "$bench_dll" switch "$work/switch-events" "$switch_trials" true)"
poll="$(dotnet "$bench_dll" switch "$work/switch-poll" "$switch_trials" false)"
say "file events + 1 s poll: $events"
say "poll only (reference):  $poll"
say "ratio median events/poll = $(ratio "$(field "$events" median_ms)" "$(field "$poll" median_ms)")  (bound: max <= 2000 ms either way)"
