#!/usr/bin/env bash
# Shared tier benchmark: READERS sidecar processes, each with its own local cache, cold-read the same object at the
# same time from a remote behind bench/tools/latency_proxy.py, once without a tier and once with a Redis-protocol tier
# (Garnet by default); then one more sidecar reads it after them. The proxy counts the bytes the remote served.
# Prints figures and ratios measured in this run (no absolute thresholds).
#   bench/shared-cache/run.sh                       # 1 GiB object, 8 readers, 20 ms per request, 32 MiB/s per stream
#   SIZE_MB=256 bench/shared-cache/run.sh           # a smaller object (a loaded 2-core machine)
#   ENGINE=redis bench/shared-cache/run.sh          # a standalone redis-server instead of Garnet
#   FLUID_SIDECAR_BINARY=artifacts/aot-sidecar/fluid-sidecar bench/shared-cache/run.sh   # the Native AOT binary
#   READERS=8 LATENCY_MS=20 STREAM_MIBPS=32 TIER_TIMEOUT_MS=2000 TIER_LEASE_MS=30000 ...
# Needs moto-free peers only: s3rver (node), python3 with boto3, garnet-server (tests/run.sh installs it under
# ~/.fluid-tools/garnet) or redis-server. Binds only 127.0.0.1.
set -euo pipefail
SIZE_MB=${SIZE_MB:-1024}
READERS=${READERS:-8}
LATENCY_MS=${LATENCY_MS:-20}
STREAM_MIBPS=${STREAM_MIBPS:-32}
ENGINE=${ENGINE:-garnet}
# sharedCache.timeoutMilliseconds; empty = the product default (250 ms). A machine loaded far beyond its cores
# stretches tier calls past it: then every timed-out call is a miss and the figures measure the load, not the tier.
TIER_TIMEOUT_MS=${TIER_TIMEOUT_MS:-}
# sharedCache.leaseMilliseconds; empty = the default (5 s): how long a sidecar waits for another one's fill of a block
# before it fetches the block itself. A holder slowed down past it by the machine's load lets the waiters fetch too.
TIER_LEASE_MS=${TIER_LEASE_MS:-}
GARNET_SERVER=${GARNET_SERVER:-$HOME/.fluid-tools/garnet/garnet-server}
# Which of the numbered steps below to run; a step left out prints as "-". Step 3 (READERS x the object through the
# proxy, no tier) is the slowest: STEPS="1 4 5" repeats the tier figures against the solo read alone.
STEPS=${STEPS:-1 2 3 4 5 6}
step() { [[ " $STEPS " == *" $1 "* ]]; }
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/fluid-tier-bench.XXXXXX)
bucket=bench
pids=()
sidecar_pids=()

stop_sidecars() {
  local p
  for p in "${sidecar_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  sidecar_pids=()
}
# settle: the stopped sidecars' caches are dropped and written back before the next step. Eight readers leave 8 GiB of
# dirty cache pages behind; their write-back ran during the next step and, on 2 cores, took the tier run from 1.0x
# to 4x the object in remote bytes (its calls timed out behind the flush). Then wait for the load to come down.
settle() {
  local i
  rm -rf "$work"/*-cache
  sync
  for i in $(seq 60); do
    awk -v cores="$(nproc)" '{ exit !($1 < cores) }' /proc/loadavg && break
    sleep 2
  done
  echo "   settled: load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
cleanup() {
  set +e
  stop_sidecars
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [[ -n "${KEEP:-}" ]] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

source "$repo/bench/tools/install-peers.sh"
need_debian curl=curl openssl=openssl
need_python
need_s3rver "$repo"
case "$ENGINE" in
  garnet)
    if [[ ! -x "$GARNET_SERVER" ]]; then
      dotnet tool install garnet-server --version 2.2.12 --tool-path "$(dirname "$GARNET_SERVER")" >/dev/null
    fi ;;
  redis) need_debian redis-server=redis-server ;;
  *) echo "ENGINE=$ENGINE: expected garnet or redis" >&2; exit 2 ;;
esac

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { python3 - "$1" <<'PY'
import socket, sys, time
for _ in range(600):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close(); sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
}

echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
port=$(free_port)
mkdir -p "$work/s3rver"
node --openssl-legacy-provider "$repo/tests/node/node_modules/s3rver/bin/s3rver.js" -d "$work/s3rver" -a 127.0.0.1 -p "$port" --silent >"$work/remote.log" 2>&1 &
pids+=($!); remote_pid=$!
wait_port "$port"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
echo "== preparing: ${SIZE_MB} MiB object in s3://$bucket on s3rver"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$work/big.bin"
# OpenSSL's SHA-256 uses the CPU's SHA extensions (~1.5 GB/s here); coreutils' sha256sum does not (~350 MB/s), and
# would be the slowest part of every read: eight of them at once took the machine's two cores by themselves. Reads
# hash in the reader's own process (bench/tools/get_sha256.py): `curl | openssl` capped a read at 470-650 MiB/s.
sha256() { openssl dgst -sha256 -r | cut -d' ' -f1; }
expected=$(sha256 <"$work/big.bin")
python3 - "http://127.0.0.1:$port" "$bucket" "$work/big.bin" <<'PY'
import sys, boto3
from boto3.s3.transfer import TransferConfig
endpoint, bucket, big = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=endpoint)
s3.create_bucket(Bucket=bucket)
s3.upload_file(big, bucket, "big.bin", Config=TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=64 << 20))
PY
rm -f "$work/big.bin"

proxy_port=$(free_port)
python3 "$repo/bench/tools/latency_proxy.py" "$proxy_port" 127.0.0.1 "$port" "$LATENCY_MS" "$STREAM_MIBPS" "$work/proxy.count" >"$work/proxy.log" 2>&1 &
pids+=($!); proxy_pid=$!
wait_port "$proxy_port"
remote="http://127.0.0.1:$proxy_port"
proxy_bytes() { sleep 0.3; cut -d' ' -f1 "$work/proxy.count"; }

tier_port=$(free_port)
if [[ "$ENGINE" == garnet ]]; then
  # Memory for both objects the run writes (step 2 under its own prefix, then step 4) with room to spare: a Garnet log
  # that fills up slows every SET down, which showed up as timeouts. A 4 MiB block + header fits a 16 MiB page.
  "$GARNET_SERVER" --port "$tier_port" --bind 127.0.0.1 -m "$(( SIZE_MB * 3 + 256 ))m" -p 16m -i 64m >"$work/tier.log" 2>&1 &
else
  redis-server --port "$tier_port" --bind 127.0.0.1 --save "" --appendonly no --protected-mode no \
    --maxmemory "$(( SIZE_MB * 3 + 256 ))mb" --maxmemory-policy allkeys-lru >"$work/tier.log" 2>&1 &
fi
pids+=($!); tier_pid=$!
wait_port "$tier_port"
echo "== remote: s3rver behind latency_proxy.py ($LATENCY_MS ms per request, $STREAM_MIBPS MiB/s per connection); tier: $ENGINE on 127.0.0.1:$tier_port"

source "$repo/bench/tools/sidecar-command.sh"
source "$repo/bench/tools/rounds.sh"
select_sidecar "$repo"
echo "   sidecar: $sidecar_kind"

# start_sidecar NAME PREFIX: PREFIX empty = no tier. Writes NAME.s3 / NAME.admin with its ports.
start_sidecar() {
  local name="$1" prefix="$2" s3 admin admin_local tier_json=""
  # Every sidecar needs its own local admin port too: the default (17482) would be shared by all of them.
  s3=$(free_port); admin=$(free_port); admin_local=$(free_port)
  [[ -n "$prefix" ]] && tier_json=", \"sharedCache\": { \"engine\": \"redis\", \"endpoints\": [\"127.0.0.1:$tier_port\"], \"prefix\": \"$prefix\"${TIER_TIMEOUT_MS:+, \"timeoutMilliseconds\": $TIER_TIMEOUT_MS}${TIER_LEASE_MS:+, \"leaseMilliseconds\": $TIER_LEASE_MS} }"
  cat >"$work/$name.json" <<JSON
{
  "s3": { "address": "127.0.0.1", "port": $s3 },
  "admin": { "address": "127.0.0.1", "port": $admin, "localPort": $admin_local },
  "cache": { "directory": "$work/$name-cache", "minFreeBytes": 0 },
  "datasets": [ { "name": "$bucket", "source": "s3://$bucket/", "immutable": true,
                  "options": { "endpoint": "$remote", "region": "us-east-1", "pathStyle": "true" } } ]
  $tier_json
}
JSON
  "${sidecar_cmd[@]}" --config "$work/$name.json" >"$work/$name.log" 2>&1 &
  sidecar_pids+=($!)
  echo "$s3" >"$work/$name.s3"; echo "$admin" >"$work/$name.admin"
}
metric() { curl -s "http://127.0.0.1:$(cat "$work/$1.admin")/metrics" | awk -v n="$2" '$1 == n { print $2 }'; }
wait_ready() {
  local name
  for name in "$@"; do
    for _ in $(seq 600); do curl -sf "http://127.0.0.1:$(cat "$work/$name.admin")/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
    curl -sf "http://127.0.0.1:$(cat "$work/$name.admin")/readyz" >/dev/null || { echo "sidecar $name not ready"; cat "$work/$name.log"; exit 1; }
    # Ready does not wait for the tier (it connects in the background); a sidecar in service has long reached it.
    if grep -q sharedCache "$work/$name.json"; then
      for _ in $(seq 600); do [[ "$(metric "$name" fluid_sidecar_shared_tier_connected)" == 1 ]] && break; sleep 0.1; done
    fi
  done
}
# read_object NAME: GET the object through the sidecar, check its SHA-256, print the seconds it took.
read_object() {
  local name="$1" start end got
  start=$(date +%s.%N)
  got=$(python3 "$repo/bench/tools/get_sha256.py" "http://127.0.0.1:$(cat "$work/$name.s3")/$bucket/big.bin")
  end=$(date +%s.%N)
  [[ "$got" == "$expected" ]] || { echo "sidecar $name served wrong bytes ($got)" >&2; tail -20 "$work/$name.log" >&2; return 1; }
  echo "$end - $start" | bc -l
}
wait_writes() { # the tier's write-around is asynchronous: wait until every sidecar's queue is empty
  local name
  for name in "$@"; do
    for _ in $(seq 600); do [[ "$(metric "$name" fluid_sidecar_shared_tier_pending_writes)" == 0 ]] && break; sleep 0.1; done
  done
}

# Where the CPU of a step goes, so that a wall time can be read against what the machine's cores allow. Ticks of the
# whole machine (/proc/stat: user, nice, system, irq, softirq, steal) and of each long-lived process; the readers are
# short-lived Python processes, so they are what remains of the machine's ticks ("readers and the rest").
# cpu_ticks_of and machine_cpu_ticks are bench/tools/rounds.sh's.
cpu_mark() { cpu_at=("$(machine_cpu_ticks)" "$(cpu_ticks_of "${sidecar_pids[@]}")" "$(cpu_ticks_of "$tier_pid")" "$(cpu_ticks_of "$proxy_pid")" "$(cpu_ticks_of "$remote_pid")"); }
# cpu_since WALL: one line of CPU seconds since cpu_mark, and the floor the cores put under the wall time.
cpu_since() {
  local hz now=() i
  hz=$(getconf CLK_TCK)
  now=("$(machine_cpu_ticks)" "$(cpu_ticks_of "${sidecar_pids[@]}")" "$(cpu_ticks_of "$tier_pid")" "$(cpu_ticks_of "$proxy_pid")" "$(cpu_ticks_of "$remote_pid")")
  for i in 0 1 2 3 4; do now[i]=$(( now[i] - cpu_at[i] )); done
  awk -v hz="$hz" -v cores="$(nproc)" -v wall="$1" -v all="${now[0]}" -v sc="${now[1]}" -v tier="${now[2]}" -v proxy="${now[3]}" -v remote="${now[4]}" 'BEGIN {
    rest = all - sc - tier - proxy - remote; if (rest < 0) rest = 0
    printf "CPU %.1f s on %d cores (floor %.1f s, wall %.2f s = %.2fx the floor): sidecars %.1f, engine %.1f, proxy %.1f, s3rver %.1f, readers and the rest %.1f",
      all / hz, cores, all / hz / cores, wall, wall / (all / hz / cores), sc / hz, tier / hz, proxy / hz, remote / hz, rest / hz }'
}

# concurrent LABEL PREFIX: READERS fresh sidecars read the object at the same time; sets wall, remote_bytes and cpu.
concurrent() {
  local label="$1" prefix="$2" names=() readers=() i before start end
  for i in $(seq "$READERS"); do names+=("$label$i"); start_sidecar "$label$i" "$prefix"; done
  wait_ready "${names[@]}"
  before=$(proxy_bytes)
  cpu_mark
  start=$(date +%s.%N)
  for i in "${names[@]}"; do read_object "$i" >"$work/$i.time" & readers+=($!); done
  for i in "${readers[@]}"; do wait "$i"; done
  end=$(date +%s.%N)
  wall=$(echo "$end - $start" | bc -l)
  cpu=$(cpu_since "$wall")
  remote_bytes=$(( $(proxy_bytes) - before ))
}

size=$((SIZE_MB * 1024 * 1024))
run_id=$RANDOM
solo_cpu=-; none_cpu=-; tier_cpu=-
solo_time=; solo_bytes=; solotier_time=; solotier_bytes=; solotier_misses=-
none_time=; none_bytes=; tier_time=; tier_bytes=; ninth_time=; ninth_bytes=; ninth_hits=-
dropped=-; waits=-; errors=-; timeouts=-

if step 1; then
  echo "== 1. one sidecar, no tier, cold read alone"
  start_sidecar solo ""; wait_ready solo
  before=$(proxy_bytes); cpu_mark; solo_time=$(read_object solo); solo_cpu=$(cpu_since "$solo_time"); solo_bytes=$(( $(proxy_bytes) - before ))
  stop_sidecars
fi

if step 2; then
  echo "== 2. one sidecar, empty tier (every block misses), cold read alone"
  start_sidecar solotier "miss-$run_id/"; wait_ready solotier
  before=$(proxy_bytes); solotier_time=$(read_object solotier); solotier_bytes=$(( $(proxy_bytes) - before ))
  solotier_misses=$(metric solotier fluid_sidecar_shared_tier_misses_total)
  stop_sidecars
fi

if step 3; then
  settle
  echo "== 3. $READERS sidecars at once, no tier"
  concurrent none ""; none_time=$wall; none_bytes=$remote_bytes; none_cpu=$cpu
  stop_sidecars
fi

if step 4; then
  settle
  echo "== 4. $READERS sidecars at once, one $ENGINE tier"
  concurrent tier "run-$run_id/"; tier_time=$wall; tier_bytes=$remote_bytes; tier_cpu=$cpu
  wait_writes $(for i in $(seq "$READERS"); do echo "tier$i"; done)
  # One scrape per reader, kept for KEEP=1; the totals are summed from the kept files.
  for i in $(seq "$READERS"); do
    curl -s "http://127.0.0.1:$(cat "$work/tier$i.admin")/metrics" >"$work/tier$i.metrics" || true
  done
  total() { awk -v n="fluid_sidecar_shared_tier_$1_total" '$1 == n { s += $2 } END { print s + 0 }' "$work"/tier*.metrics; }
  dropped=$(total dropped_writes); waits=$(total lease_waits); errors=$(total errors); timeouts=$(total timeouts)
  stop_sidecars
fi

if step 5; then
  settle
  echo "== 5. a further sidecar afterwards, same tier"
  start_sidecar ninth "run-$run_id/"; wait_ready ninth
  before=$(proxy_bytes); ninth_time=$(read_object ninth); ninth_bytes=$(( $(proxy_bytes) - before ))
  ninth_hits=$(metric ninth fluid_sidecar_shared_tier_hits_total)
  stop_sidecars
fi

if step 6; then
  echo "== 6. tier round trip of a miss (GET of an absent block + SET NX PX of its lease), median of 2000"
  python3 - "$tier_port" <<'PY'
import socket, statistics, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
def cmd(*args):
    s.sendall(b"".join([f"*{len(args)}\r\n".encode()] + [f"${len(a)}\r\n{a}\r\n".encode() for a in args]))
    s.recv(256)
samples = []
for i in range(2000):
    t = time.perf_counter()
    cmd("GET", f"bench-miss/blk/{i}")
    cmd("SET", f"bench-miss/lease/{i}", "me", "NX", "PX", "5000")
    samples.append(time.perf_counter() - t)
samples.sort()
print(f"   median {statistics.median(samples)*1e3:.3f} ms, p99 {samples[int(len(samples)*0.99)]*1e3:.3f} ms per block")
PY
fi

# ratio A B SCALE: A / B, or "-" when either figure was not measured in this run.
ratio() { if [[ -n "$1" && -n "$2" ]]; then echo "scale=${3:-2}; $1 / $2" | bc -l; else echo "-"; fi; }
mib() { if [[ -n "$1" ]]; then echo "scale=1; $1 / 1048576" | bc -l; else echo "-"; fi; }
rate() { if [[ -n "$1" ]]; then echo "scale=0; $SIZE_MB / $1" | bc -l; else echo "-"; fi; }
row() { printf '%-44s %10s %14s %10s\n' "$1" "${2:--}" "$(mib "$3")" "$(ratio "$3" "$size")"; }
echo
echo "== results: ${SIZE_MB} MiB object, $READERS readers, load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-44s %10s %14s %10s\n' "" "wall s" "remote MiB" "x object"
row "one sidecar alone, no tier" "$solo_time" "$solo_bytes"
row "one sidecar alone, empty tier (all misses)" "$solotier_time" "$solotier_bytes"
row "$READERS sidecars at once, no tier" "$none_time" "$none_bytes"
row "$READERS sidecars at once, $ENGINE tier" "$tier_time" "$tier_bytes"
row "a further sidecar afterwards, $ENGINE tier" "$ninth_time" "$ninth_bytes"
echo
echo "remote bytes, $READERS at once: tier $(ratio "$tier_bytes" "$size")x the object vs no tier $(ratio "$none_bytes" "$size")x   (target <= 1.1x vs ~${READERS}x)"
echo "wall, $READERS at once vs one alone: tier $(ratio "$tier_time" "$solo_time")x, no tier $(ratio "$none_time" "$solo_time")x   (target with tier <= 1.5x)"
echo "further sidecar from the tier: $(rate "$ninth_time") MiB/s vs remote-paced $(rate "$solo_time") MiB/s = $(ratio "$solo_time" "$ninth_time")x   (target >= 3x); tier hits $ninth_hits blocks"
echo "where the CPU went: one alone: $solo_cpu"
echo "                    $READERS at once, no tier: $none_cpu"
echo "                    $READERS at once, $ENGINE tier: $tier_cpu"
echo "empty tier vs none, alone: $(ratio "$solotier_time" "$solo_time")x wall ($solotier_misses tier misses); tier run: $waits lease waits, $dropped writes dropped, $errors errors ($timeouts timeouts)"
