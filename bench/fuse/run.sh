#!/usr/bin/env bash
# Side-by-side FUSE benchmark over ONE bucket of ONE remote (s3rver by default, REMOTE=moto for moto): Fluid's FUSE
# view (the sidecar binary in fuse mode) vs `rclone mount --vfs-cache-mode full`, s3fs, and the same file on local
# disk. Prints figures and ratios (measured in this run; no absolute thresholds).
#   FLUID_SIDECAR_BINARY=artifacts/aot-sidecar/fluid-sidecar bench/fuse/run.sh   # the Native AOT binary that ships
#   SIZE_MB=1024 SMALL_FILES=10000 RANDOM_READS=10000 bench/fuse/run.sh
#   REMOTE=moto bench/fuse/run.sh                  # moto instead (see below)
#   FLUID_SPAN_BYTES=4194304 bench/fuse/run.sh     # cache.fetchSpanBytes (default 64 MiB; 4 MiB = one GET per block)
#   FLUID_READ_AHEAD_STREAMS=16 bench/fuse/run.sh   # cache.readAheadStreams (default 8)
#   NO_S3FS=1 ...                                   # fluid and rclone only (s3fs reads 1 GiB from moto at ~12 MiB/s)
#   LATENCY_MS=20 STREAM_MIBPS=64 ...               # every contender reads through bench/tools/latency_proxy.py:
#                                                   # 20 ms per request, each connection paced to 64 MiB/s (a real
#                                                   # object store's per-stream rate; loopback streams are CPU-bound)
#   BENCH_ROUNDS=5 ...                              # rounds (bench/tools/rounds.sh)
# Method: BENCH_ROUNDS rounds; every round mounts every contender afresh on an EMPTY cache (so "cold" is cold in
# every round), reads a separate 4 MiB warm-up object through each mount (process start, a JIT build's first
# compilation; not measured), then measures fluid, rclone, s3fs in that order (ABAB...). Prints every round, the
# median and min-max of each side and of the ratio, each process's RSS peak per round (VmHWM, reset at mount), and
# the load average at start and end; no verdict when the reference spreads more than 15 %. For the small-file phase it
# also prints the remote's CPU over that phase's wall time (remote_cpu_pct_small_files): s3rver and moto serve on one
# core, so near 100 % the remote sets the pace for both contenders; and the whole machine's CPU over the same time
# (machine_cpu_pct_small_files, 100 % per core), which says when the cores were the limit instead; then the same files
# read again from the contender's cache (small_files_warm_per_s): the mount's own cost per file, without a remote.
# Needs root (FUSE), moto_server, rclone, s3fs, python3 with boto3. Binds only 127.0.0.1.
set -euo pipefail
SIZE_MB=${SIZE_MB:-1024}
# s3rver by default, as in bench/run.sh (c): it serves a range from its file, like S3 and MinIO. moto reads the whole
# object for every ranged GET (~0.5 s per GET of a 1 GiB object), which charges any ranged reader per request.
REMOTE=${REMOTE:-s3rver}
SMALL_FILES=${SMALL_FILES:-10000}
RANDOM_READS=${RANDOM_READS:-10000}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/fluid-fuse-bench.XXXXXX)
bucket=bench
pids=()

cleanup() {
  set +e
  for m in "$work/fluid" "$work/rclone" "$work/s3fs"; do
    mountpoint -q "$m" && umount -l "$m"
  done
  for p in ${mount_pid[@]+"${mount_pid[@]}"} "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

source "$repo/bench/tools/install-peers.sh"
need_debian curl=curl rclone=rclone s3fs=s3fs fusermount3=fuse3 mountpoint=util-linux
need_python
[[ "$REMOTE" != s3rver ]] || need_s3rver "$repo"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
endpoint="http://127.0.0.1:$port"
case "$REMOTE" in
  moto)
    key=test
    # The request recorder counts what each contender asks of the remote (started just before measuring).
    MOTO_ENABLE_RECORDING=True MOTO_RECORDER_FILEPATH="$work/moto-recording.jsonl" \
      moto_server -H 127.0.0.1 -p "$port" >"$work/remote.log" 2>&1 &
    remote_pid=$!; pids+=("$remote_pid") ;;
  s3rver)
    # s3rver serves a range straight from its file (moto materialises the whole object for every ranged GET).
    key=S3RVER
    mkdir -p "$work/s3rver"
    node --openssl-legacy-provider "$repo/tests/node/node_modules/s3rver/bin/s3rver.js" -d "$work/s3rver" -a 127.0.0.1 -p "$port" --silent >"$work/remote.log" 2>&1 &
    remote_pid=$!; pids+=("$remote_pid") ;;
  *) echo "REMOTE=$REMOTE: expected moto or s3rver" >&2; exit 2 ;;
esac
for _ in $(seq 300); do curl -s -o /dev/null "$endpoint" 2>/dev/null && break; sleep 0.1; done

export AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$key AWS_DEFAULT_REGION=us-east-1
mkdir -p "$work/local" "$work/fluid" "$work/rclone" "$work/s3fs" "$work/rclone-cache" "$work/s3fs-cache"
echo "== preparing: ${SIZE_MB} MiB file and ${SMALL_FILES} x 16 KiB files in s3://$bucket on $REMOTE ($endpoint)"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$work/local/big.bin"
python3 - "$endpoint" "$bucket" "$work/local/big.bin" "$SMALL_FILES" <<'PY'
import sys, os, boto3
from concurrent.futures import ThreadPoolExecutor
from boto3.s3.transfer import TransferConfig
endpoint, bucket, big, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s3 = boto3.client("s3", endpoint_url=endpoint)
s3.create_bucket(Bucket=bucket)
s3.upload_file(big, bucket, "big.bin", Config=TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=64 << 20))
s3.put_object(Bucket=bucket, Key="warm-up.bin", Body=os.urandom(4 << 20))
payload = os.urandom(16 * 1024)
with ThreadPoolExecutor(8) as pool:
    list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key=f"small/f{i:05d}.bin", Body=payload), range(count)))
PY

if [[ -n "${LATENCY_MS:-}${STREAM_MIBPS:-}" ]]; then
  # Seeding above went direct; every reader below goes through the same proxy, so all see the same remote.
  proxy_port=$(free_port)
  python3 "$repo/bench/tools/latency_proxy.py" "$proxy_port" 127.0.0.1 "$port" "${LATENCY_MS:-0}" "${STREAM_MIBPS:-0}" "$work/proxy.counts" >"$work/proxy.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q listening "$work/proxy.log" 2>/dev/null && break; sleep 0.1; done
  endpoint="http://127.0.0.1:$proxy_port"
  echo "== remote through latency_proxy.py: ${LATENCY_MS:-0} ms per request, ${STREAM_MIBPS:-0} MiB/s per connection (0 = no cap)"
fi

echo "== building and mounting"
# Fluid is the sidecar itself (FLUID_SIDECAR_BINARY: the Native AOT binary that ships; default: the JIT build) in
# fuse mode, so the figures are the product's, with its runtime settings (GC, thread pool).
source "$repo/bench/tools/sidecar-command.sh"
select_sidecar "$repo"
echo "   fluid: $sidecar_kind"
# FLUID_SPAN_BYTES: cache.fetchSpanBytes (the longest range one GET fetches); unset = the product default.
# FLUID_READ_AHEAD_STREAMS: cache.readAheadStreams (parallel ranged GETs per sequential reader); unset = the default.
span_json=""; [[ -n "${FLUID_SPAN_BYTES:-}" ]] && span_json=", \"fetchSpanBytes\": $FLUID_SPAN_BYTES"
[[ -n "${FLUID_READ_AHEAD_STREAMS:-}" ]] && span_json="$span_json, \"readAheadStreams\": $FLUID_READ_AHEAD_STREAMS"
cat >"$work/fluid.json" <<JSON
{
  "mode": "fuse",
  "s3": { "address": "127.0.0.1", "port": $(free_port) },
  "admin": { "address": "127.0.0.1", "port": $(free_port), "localPort": $(free_port) },
  "cache": { "directory": "$work/fluid-cache", "minFreeBytes": 0 $span_json },
  "datasets": [ { "name": "$bucket", "source": "s3://$bucket/", "immutable": true, "mountPath": "$work/fluid",
                  "options": { "endpoint": "$endpoint", "region": "us-east-1", "pathStyle": "true" } } ]
}
JSON
source "$repo/bench/tools/rounds.sh"
mounts="fluid rclone"; [[ -n "${NO_S3FS:-}" ]] || mounts="$mounts s3fs"
declare -A mount_pid
# Every contender on an empty cache. The previous round's caches are moved aside, not deleted, until the run ends:
# on an ext4 without a journal (this machine's disk) creating a file scans past every inode freed in the last minutes
# (`recently_deleted` in the kernel), and each contender creates a cache file per small object. Deleting 10,000 cache
# files just before a round made that scan up to 45 % of the sidecar's CPU (perf), a cost of the bench, not of a pod.
mount_all() {
  local aside; aside="$work/previous-caches/$(date +%s%N)"; mkdir -p "$aside"
  for cache in fluid-cache rclone-cache s3fs-cache; do [[ ! -e "$work/$cache" ]] || mv "$work/$cache" "$aside/"; done
  mkdir -p "$work/rclone-cache" "$work/s3fs-cache"
  "${sidecar_cmd[@]}" --config "$work/fluid.json" >>"$work/fluid.log" 2>&1 &
  mount_pid[fluid]=$!
  env -u AWS_CA_BUNDLE RCLONE_CONFIG_MOTO_TYPE=s3 RCLONE_CONFIG_MOTO_PROVIDER=Other RCLONE_CONFIG_MOTO_ENDPOINT="$endpoint" \
    RCLONE_CONFIG_MOTO_ACCESS_KEY_ID=$key RCLONE_CONFIG_MOTO_SECRET_ACCESS_KEY=$key \
    rclone mount "moto:$bucket" "$work/rclone" --vfs-cache-mode full --cache-dir "$work/rclone-cache" --read-only >>"$work/rclone.log" 2>&1 &
  mount_pid[rclone]=$!
  if [[ -z "${NO_S3FS:-}" ]]; then
    # -f: stay in the foreground, so its pid is the process whose RSS is read.
    s3fs "$bucket" "$work/s3fs" -f -o url="$endpoint" -o use_path_request_style -o passwd_file="$work/s3fs.passwd" \
      -o use_cache="$work/s3fs-cache" -o ro >>"$work/s3fs.log" 2>&1 &
    mount_pid[s3fs]=$!
  fi
  for m in $mounts; do
    for _ in $(seq 300); do [ -e "$work/$m/big.bin" ] && break; sleep 0.1; done
    [ -e "$work/$m/big.bin" ] || { echo "mount $m did not come up"; tail -20 "$work/$m.log" 2>/dev/null; exit 1; }
    head -c $((4 << 20)) "$work/$m/warm-up.bin" >/dev/null
    peak_rss_reset "${mount_pid[$m]}"
  done
}
unmount_all() {
  for m in $mounts; do
    mountpoint -q "$work/$m" && umount "$work/$m" 2>/dev/null || umount -l "$work/$m" 2>/dev/null || true
    kill "${mount_pid[$m]}" 2>/dev/null || true; wait "${mount_pid[$m]}" 2>/dev/null || true
  done
}
echo "$key:$key" >"$work/s3fs.passwd"; chmod 600 "$work/s3fs.passwd"

# Remote requests per contender: counted by the latency proxy when there is one, else by moto's request recorder;
# s3rver without the proxy has no counter (not recorded).
counter=none
if [[ -n "${proxy_port:-}" ]]; then counter="proxy:$work/proxy.counts"; elif [[ "$REMOTE" == moto ]]; then counter="moto:http://127.0.0.1:$port"; fi
echo "== measuring (warm-up: a 4 MiB object read through every fresh mount before its round, not measured)"
rounds_init "$work/rounds.tsv"
for round in $(seq 1 "$bench_rounds"); do
  mount_all
  python3 - "$work" "$RANDOM_READS" "$round" "$counter" "$remote_pid" $mounts >>"$rounds_file" <<'PY'
import os, sys, time, random, urllib.request
work, random_reads, round_, counter, remote_pid, mounts = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]
def remote_cpu_seconds():
    """CPU the remote's process has used (user + system, /proc/PID/stat fields 14 and 15)."""
    with open(f"/proc/{remote_pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
def machine_cpu_seconds():
    """CPU the whole machine has used (/proc/stat: user, nice, system, irq, softirq, steal)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return sum(int(fields[i]) for i in (1, 2, 3, 6, 7, 8)) / os.sysconf("SC_CLK_TCK")
def remote_requests():
    """Requests the remote has received so far, or None when nothing counts them."""
    kind, _, where = counter.partition(":")
    if kind == "proxy":
        time.sleep(0.3)  # the proxy writes its counts every 100 ms
        with open(where) as f: return int(f.read().split()[1])
    if kind == "moto":
        with urllib.request.urlopen(where + "/moto-api/recorder/download-recording") as r:
            return sum(1 for line in r.read().decode().splitlines() if line.strip() and "/moto-api/" not in line)
    return None
if counter.startswith("moto:"):
    base = counter[5:]
    for action in ("reset-recording", "start-recording"):
        urllib.request.urlopen(urllib.request.Request(f"{base}/moto-api/recorder/{action}", method="POST")).close()
def seq(path):
    start = time.perf_counter(); total = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk: break
            total += len(chunk)
    return total / (1 << 20) / (time.perf_counter() - start)
def rand(path):
    size = os.path.getsize(path); rng = random.Random(42)
    fd = os.open(path, os.O_RDONLY)
    try:
        start = time.perf_counter()
        for _ in range(random_reads):
            os.pread(fd, 4096, rng.randrange(0, size - 4096))
        return random_reads / (time.perf_counter() - start)
    finally:
        os.close(fd)
def small(root):
    start = time.perf_counter(); n = 0
    for name in sorted(os.listdir(root)):
        with open(os.path.join(root, name), "rb") as f: f.read(); n += 1
    return n / (time.perf_counter() - start)
def record(side, metric, value):
    print(f"{round_}\t{side}\t{metric}\t{value:.1f}", flush=True)
for name in mounts:
    big = os.path.join(work, name, "big.bin")
    # Flush dirty pages first (seeding, the local copy, the previous mount's cache files): otherwise whoever reads
    # first pays for the others' writeback (every contender writes its cache to this disk).
    os.sync(); time.sleep(1)
    before = remote_requests()
    record(name, "cold_mibps", seq(big)); record(name, "warm_mibps", seq(big))
    record(name, "random_4k_ops", rand(big))
    # The remote's CPU over the small-file phase's wall time: s3rver and moto serve on one core, so near 100 % the
    # remote is what sets files/s, and the ratio can be no better than the ratio of requests per file.
    # The machine's CPU over the same time says whether its cores, rather than the remote, were the limit.
    cpu_before, machine_before, start = remote_cpu_seconds(), machine_cpu_seconds(), time.perf_counter()
    record(name, "small_files_per_s", small(os.path.join(work, name, "small")))
    wall = time.perf_counter() - start
    record(name, "remote_cpu_pct_small_files", 100 * (remote_cpu_seconds() - cpu_before) / wall)
    record(name, "machine_cpu_pct_small_files", 100 * (machine_cpu_seconds() - machine_before) / wall)
    # The same files again, now cached: what one file's open/read/close costs through the mount without a remote.
    record(name, "small_files_warm_per_s", small(os.path.join(work, name, "small")))
    after = remote_requests()
    if before is not None:
        record(name, "remote_requests", after - before)
local = os.path.join(work, "local", "big.bin")
record("local", "warm_mibps", seq(local)); record("local", "random_4k_ops", rand(local))
PY
  for m in $mounts; do record "$round" "$m" rss_mib "$(peak_rss_mib "${mount_pid[$m]}")"; done
  unmount_all
  echo "round $round done (load $(load_average))"
done

echo
echo "== fluid vs rclone (targets: cold >= 1.5x, warm >= 3x, small files >= 3x)"
for metric in cold_mibps warm_mibps random_4k_ops small_files_per_s small_files_warm_per_s; do
  rounds_summary --title "$metric" --reference rclone --contender fluid --metric "$metric:higher"
done
rounds_summary --reference rclone --contender fluid --metric rss_mib
rounds_summary --reference rclone --contender fluid --metric remote_cpu_pct_small_files --metric machine_cpu_pct_small_files
if [[ "$counter" != none ]]; then
  rounds_summary --title "remote requests (cold + warm + random + small files)" --reference rclone --contender fluid --metric remote_requests:lower
fi
if [[ -z "${NO_S3FS:-}" ]]; then
  echo "== fluid vs s3fs"
  rounds_summary --compact --reference s3fs --contender fluid --metric cold_mibps:higher --metric warm_mibps:higher \
    --metric random_4k_ops:higher --metric small_files_per_s:higher --metric rss_mib:lower
fi
echo "== fluid vs the same file on local disk, page-cached (target: warm >= 0.5x)"
rounds_summary --compact --reference local --contender fluid --metric warm_mibps:higher --metric random_4k_ops:higher
rounds_finish
