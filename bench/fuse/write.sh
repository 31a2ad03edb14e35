#!/usr/bin/env bash
# Write row of the FUSE benchmark: one SIZE_MB file written sequentially (1 MiB writes) and closed, into ONE bucket of
# ONE remote (s3rver by default, REMOTE=moto for moto), three ways in the same run:
#   fluid   the sidecar in fuse mode over a writable dataset (readOnly: false): close returns once the object is stored
#   rclone  `rclone mount --vfs-cache-mode writes` (uploads after close, in the background: timed until the object
#           is at the remote, since that is when another pod can read it)
#   aws     `aws s3 cp` of the same file from local disk
# Prints MiB/s and the ratios fluid/rclone and fluid/aws (measured in this run; no absolute thresholds).
#   SIZE_MB=1024 bench/fuse/write.sh     (default 1024)
#   FLUID_SIDECAR_BINARY=artifacts/aot-sidecar/fluid-sidecar bench/fuse/write.sh
# Needs root (FUSE), rclone, aws-cli, python3 with boto3 (and node s3rver, or moto_server). Binds only 127.0.0.1.
set -euo pipefail
SIZE_MB=${SIZE_MB:-1024}
REMOTE=${REMOTE:-s3rver}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/fluid-fuse-write-bench.XXXXXX)
bucket=bench
pids=()

cleanup() {
  set +e
  for m in "$work/fluid" "$work/rclone"; do
    mountpoint -q "$m" && umount -l "$m"
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

source "$repo/bench/tools/install-peers.sh"
need_debian curl=curl rclone=rclone fusermount3=fuse3 mountpoint=util-linux aws=awscli
need_python
[[ "$REMOTE" != s3rver ]] || need_s3rver "$repo"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
endpoint="http://127.0.0.1:$port"
case "$REMOTE" in
  moto)
    key=test
    moto_server -H 127.0.0.1 -p "$port" >"$work/remote.log" 2>&1 &
    pids+=($!) ;;
  s3rver)
    key=S3RVER
    mkdir -p "$work/s3rver"
    node --openssl-legacy-provider "$repo/tests/node/node_modules/s3rver/bin/s3rver.js" -d "$work/s3rver" -a 127.0.0.1 -p "$port" --silent >"$work/remote.log" 2>&1 &
    pids+=($!) ;;
  *) echo "REMOTE=$REMOTE: expected moto or s3rver" >&2; exit 2 ;;
esac
for _ in $(seq 300); do curl -s -o /dev/null "$endpoint" 2>/dev/null && break; sleep 0.1; done

export AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$key AWS_DEFAULT_REGION=us-east-1
mkdir -p "$work/local" "$work/fluid" "$work/rclone" "$work/rclone-cache"
echo "== preparing: ${SIZE_MB} MiB file, bucket s3://$bucket on $REMOTE ($endpoint)"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$work/local/big.bin"
python3 -c 'import sys, boto3; boto3.client("s3", endpoint_url=sys.argv[1]).create_bucket(Bucket=sys.argv[2])' "$endpoint" "$bucket"

echo "== mounting"
source "$repo/bench/tools/sidecar-command.sh"
select_sidecar "$repo"
echo "   fluid: $sidecar_kind"
cat >"$work/fluid.json" <<JSON
{
  "mode": "fuse",
  "s3": { "address": "127.0.0.1", "port": $(free_port) },
  "admin": { "address": "127.0.0.1", "port": $(free_port), "localPort": $(free_port) },
  "cache": { "directory": "$work/fluid-cache", "minFreeBytes": 0, "stagingBytes": $(((SIZE_MB + 64) * 1024 * 1024)) },
  "datasets": [ { "name": "$bucket", "source": "s3://$bucket/", "readOnly": false, "mountPath": "$work/fluid",
                  "options": { "endpoint": "$endpoint", "region": "us-east-1", "pathStyle": "true" } } ]
}
JSON
"${sidecar_cmd[@]}" --config "$work/fluid.json" >"$work/fluid.log" 2>&1 &
pids+=($!)
env -u AWS_CA_BUNDLE RCLONE_CONFIG_MOTO_TYPE=s3 RCLONE_CONFIG_MOTO_PROVIDER=Other RCLONE_CONFIG_MOTO_ENDPOINT="$endpoint" \
  RCLONE_CONFIG_MOTO_ACCESS_KEY_ID=$key RCLONE_CONFIG_MOTO_SECRET_ACCESS_KEY=$key \
  rclone mount "moto:$bucket" "$work/rclone" --vfs-cache-mode writes --vfs-write-back 0s --cache-dir "$work/rclone-cache" >"$work/rclone.log" 2>&1 &
pids+=($!)
for m in fluid rclone; do
  for _ in $(seq 300); do mountpoint -q "$work/$m" && break; sleep 0.1; done
  mountpoint -q "$work/$m" || { echo "mount $m did not come up"; cat "$work/$m.log" 2>/dev/null; exit 1; }
done

echo "== measuring"
python3 - "$work" "$endpoint" "$bucket" <<'PY'
import os, subprocess, sys, time, boto3
work, endpoint, bucket = sys.argv[1], sys.argv[2], sys.argv[3]
s3 = boto3.client("s3", endpoint_url=endpoint)
source = os.path.join(work, "local", "big.bin")
size = os.path.getsize(source)

def at_remote(key):
    try:
        return s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == size
    except s3.exceptions.ClientError:
        return False

def write_through(mount, key):
    # dd-like: 1 MiB writes, then close; then wait until the object is at the remote (rclone uploads after close).
    os.sync(); time.sleep(1)
    start = time.perf_counter()
    with open(source, "rb", buffering=0) as src, open(os.path.join(work, mount, key), "wb", buffering=0) as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    closed = time.perf_counter() - start
    while not at_remote(key):
        time.sleep(0.05)
    return size / (1 << 20) / closed, size / (1 << 20) / (time.perf_counter() - start)

rows = {"fluid": write_through("fluid", "w-fluid.bin"), "rclone (vfs writes)": write_through("rclone", "w-rclone.bin")}
os.sync(); time.sleep(1)
start = time.perf_counter()
subprocess.run(["aws", "--endpoint-url", endpoint, "s3", "cp", "--only-show-errors", source, f"s3://{bucket}/w-aws.bin"], check=True)
aws = size / (1 << 20) / (time.perf_counter() - start)
rows["aws s3 cp"] = (float("nan"), aws)
print(f"{'':20} {'write+close MiB/s':>18} {'until at remote MiB/s':>22}")
for name, (closed, durable) in rows.items():
    print(f"{name:20} {closed:18.0f} {durable:22.0f}")
f, r = rows["fluid"], rows["rclone (vfs writes)"]
print()
print(f"fluid/rclone: until at remote {f[1]/r[1]:.2f}x (target >= 1.0x)   fluid/aws s3 cp: {f[1]/aws:.2f}x")
PY
