#!/usr/bin/env bash
# End-to-end: inject a sample pod with the offline injector, then run the injected spec's containers as processes
# (tests/e2e/kubelet.py stands in for kubelet) in one network namespace, against moto, and check what a user would:
# the Job's pod succeeds, the app's bytes (file path and S3 endpoint) equal the remote's, the sidecar started first
# and stopped on SIGTERM once the app was done. Variants: copy (ECI profile), fuse, s3. Needs root (netns, mounts).
# Usage: tests/e2e/run.sh [variant...]    (default: copy s3 fuse legacy; legacy = the non-native sidecar form)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VARIANTS=("${@:-copy s3 fuse legacy}")
read -r -a VARIANTS <<<"${VARIANTS[*]}"
CONFIGURATION="${CONFIGURATION:-Release}"
INJECTOR="$REPO/injector/bin/$CONFIGURATION/net10.0/fluid-injector.dll"
# FLUID_SIDECAR_BINARY: another build of the sidecar, e.g. the Native AOT one (artifacts/aot-sidecar/fluid-sidecar).
SIDECAR="${FLUID_SIDECAR_BINARY:-$REPO/sidecar/bin/$CONFIGURATION/net10.0/fluid-sidecar}"
PYTHON="$(command -v python3)"
MOTO_PORT=15000   # inside a fresh network namespace every port is free; nothing else listens there

[[ $(id -u) == 0 ]] || { echo "e2e: needs root (ip netns, mount namespaces, FUSE)"; exit 1; }
for need in "$INJECTOR" "$SIDECAR"; do
  [[ -e $need ]] || { echo "e2e: $need is missing: run 'dotnet build -c $CONFIGURATION' on the injector and sidecar first"; exit 1; }
done
"$PYTHON" -c 'import yaml, boto3' || { echo "e2e: python3 needs PyYAML and boto3"; exit 1; }
for tool in moto_server kubectl ip unshare nsenter mount; do
  command -v "$tool" >/dev/null || { echo "e2e: $tool is not on PATH"; exit 1; }
done

NS="fluid-e2e-$$"
WORK="$(mktemp -d /tmp/fluid-e2e.XXXXXX)"
# The copy-mode sidecar runs as the image's non-root user: like an image's /app, its binary must be reachable by that
# user whatever the permissions of the checkout (a clone in a 0700 `mktemp -d` directory is not).
chmod 755 "$WORK"
mkdir -p "$WORK/image"
cp -a "$(dirname "$SIDECAR")/." "$WORK/image/"
chmod -R a+rX "$WORK/image"
SIDECAR="$WORK/image/$(basename "$SIDECAR")"
MOTO_PID=""
cleanup() {
  local code=$?
  set +e
  if [[ -n $MOTO_PID ]]; then kill "$MOTO_PID" 2>/dev/null; wait "$MOTO_PID" 2>/dev/null; fi
  ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null || true   # only processes in our own namespace
  ip netns del "$NS" 2>/dev/null || true
  # Mount points kubelet.py created on this machine (/data, ...): only the ones it recorded, only if empty.
  cat "$WORK"/*/root/created-mount-points 2>/dev/null | sort -u | while read -r dir; do
    [[ -d $dir ]] && find "$dir" -depth -type d -empty -delete
  done
  if [[ $code == 0 && -z ${E2E_KEEP:-} ]]; then rm -rf "$WORK"; else echo "e2e: logs kept in $WORK"; fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$SECONDS
ip netns add "$NS"
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

# The remote store runs inside the pod's network namespace, so the sidecar reaches it on 127.0.0.1 like any remote.
MOTO_RECORDER_FILEPATH="$WORK/moto-recording.jsonl" ip netns exec "$NS" moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!   # ip netns exec execs moto_server: this is moto's own pid
in_ns "$PYTHON" "$HERE/seed.py" "http://127.0.0.1:$MOTO_PORT" "$WORK/expected.json"

# The cluster: the sample Dataset + Secret, pointed at this moto, with an access key id of its own: moto's recording
# then shows whether the sidecar signed with the Secret's key (secretKeyRef -> env -> sidecar config -> SigV4).
ACCESS_KEY="E2EKEYFROMSECRET$$"
sed -e "s#endpoint: http://moto[^ ]*#endpoint: http://127.0.0.1:$MOTO_PORT#" -e "s#accessKeyId: testing#accessKeyId: $ACCESS_KEY#" \
  "$REPO/samples/datasets/s3-dataset.yaml" >"$WORK/cluster.yaml"
grep -q "endpoint: http://127.0.0.1:$MOTO_PORT" "$WORK/cluster.yaml" && grep -q "accessKeyId: $ACCESS_KEY" "$WORK/cluster.yaml" \
  || { echo "e2e: could not point samples/datasets/s3-dataset.yaml at moto"; exit 1; }

# The sidecar image's USER, from its Dockerfile: the copy-mode sidecar runs as that non-root user, as in a cluster.
SIDECAR_USER="$(sed -n 's/^USER[[:space:]]\+\([0-9]\+:[0-9]\+\).*/\1/p' "$REPO/Dockerfile.sidecar" | tail -1)"
[[ -n $SIDECAR_USER ]] || { echo "e2e: no numeric USER uid:gid in Dockerfile.sidecar"; exit 1; }
SIDECAR_IMAGE="fluid-serverless/sidecar"   # the injector's default Injector:SidecarImage, without the tag

# The reader sample as a user deploys it (kustomize turns reader.py into a ConfigMap).
kubectl kustomize "$REPO/samples/reader" >"$WORK/reader.yaml"

# variant -> pod manifest, extra pod-template annotations (JSON), expected mode, native sidecar expected
pod_for() {
  case $1 in
    copy)   echo "$WORK/reader.yaml" '{"serverless.fluid.io/platform":"eci"}' copy true ;;
    fuse)   echo "$WORK/reader.yaml" '{}' fuse true ;;
    s3)     echo "$HERE/pods/s3-job.yaml" '{}' s3 true ;;
    legacy) echo "$HERE/pods/s3-job.yaml" '{"serverless.fluid.io/native-sidecar":"false"}' s3 false ;;
    *) echo "e2e: unknown variant '$1' (copy, fuse, s3, legacy)" >&2; return 1 ;;
  esac
}

failed=0
summary=()
for variant in "${VARIANTS[@]}"; do
  read -r manifest annotations mode native < <(pod_for "$variant")
  dir="$WORK/$variant"; mkdir -p "$dir/root"
  "$PYTHON" - "$manifest" "$annotations" "$dir/pod.yaml" <<'PY'
import json, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for d in docs:
    if d.get("kind") == "Job":
        d["spec"]["template"]["metadata"].setdefault("annotations", {}).update(json.loads(sys.argv[2]))
yaml.safe_dump_all(docs, open(sys.argv[3], "w"), sort_keys=False)
PY
  echo "== $variant: inject $(basename "$manifest") (+ $annotations)"
  dotnet "$INJECTOR" inject -f "$dir/pod.yaml" --cluster "$WORK/cluster.yaml" >"$dir/injected.yaml"
  echo "== $variant: run the injected pod"
  moto_before=$(wc -l <"$WORK/moto.log")
  recorded_before=0; [[ -f $WORK/moto-recording.jsonl ]] && recorded_before=$(wc -l <"$WORK/moto-recording.jsonl")
  set +e
  in_ns unshare --mount --propagation private "$PYTHON" "$HERE/kubelet.py" run --pod "$dir/injected.yaml" \
    --cluster "$WORK/cluster.yaml" --root "$dir/root" --sidecar-binary "$SIDECAR" --result "$dir/result.json" \
    --app-timeout 60 --image-user "$SIDECAR_IMAGE=$SIDECAR_USER"
  set -e
  tail -n +"$((moto_before + 1))" "$WORK/moto.log" >"$dir/moto-requests.log"
  { tail -n +"$((recorded_before + 1))" "$WORK/moto-recording.jsonl" 2>/dev/null || true; } >"$dir/moto-recording.jsonl"
  app_log="$(ls "$dir"/root/logs/*.log 2>/dev/null | grep -v fluid-serverless-sidecar | head -1 || true)"
  if [[ -n $app_log ]]; then sed 's/^/   app| /' "$app_log" | tail -12; else app_log=/dev/null; fi
  if line="$("$PYTHON" "$HERE/check.py" "$variant" "$mode" "$native" "$dir/injected.yaml" "$dir/result.json" "$app_log" "$WORK/expected.json" "$dir/moto-requests.log" \
      "$dir/moto-recording.jsonl" "$ACCESS_KEY")"; then
    :
  else
    failed=$((failed + 1))
    echo "-- sidecar log (last 30 lines):"; tail -30 "$dir/root/logs/fluid-serverless-sidecar.log" || true
  fi
  summary+=("$line")
done

echo
echo "== end-to-end summary ($((SECONDS - started)) s)"
printf '%s\n' "${summary[@]}"
echo "$(( ${#VARIANTS[@]} - failed )) passed, $failed failed"
[[ $failed == 0 ]]
