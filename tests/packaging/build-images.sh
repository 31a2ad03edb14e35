#!/usr/bin/env bash
# Builds Dockerfile.sidecar and Dockerfile.injector with the Docker engine from Debian, with no image registry:
#   1. installs docker.io and debootstrap if missing, starts dockerd if none answers (no bridge, no iptables);
#   2. seeds local base images under the names the Dockerfiles use by default:
#        mcr.microsoft.com/dotnet/sdk:10.0                      debootstrap minbase + clang + zlib1g-dev + this
#                                                               machine's .NET SDK
#        mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled  no shell, no package manager: only the files of
#                                                               libc6, libgcc-s1, libstdc++6, libssl3, zlib1g, the
#                                                               CA bundle, /etc/passwd with the non-root user, /tmp
#        mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled    that + this machine's .NET and ASP.NET Core runtimes
#      (a seed is rebuilt only when its inputs change: Debian suite, .NET version, this script);
#   3. `docker build`s both Dockerfiles (restore needs NuGet: the build uses the host network);
#   4. prints the image sizes, starts the sidecar image once the way a pod would (read-only root, no capabilities,
#      non-root, host network on 127.0.0.1 ports) serving a small local directory, checks /readyz and one GET,
#      and prints the start-to-ready time; runs the injector image once;
#   5. prints how long it all took.
# The Debian mirror is read from this machine's apt configuration at run time; no package host is written here.
# Usage: tests/packaging/build-images.sh            (as root)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
script_started=$(date +%s.%N)

SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
RUNTIME_DEPS_IMAGE=mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled
ASPNET_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled
SIDECAR_TAG=fluid-serverless/sidecar:0.1.0
INJECTOR_TAG=fluid-serverless/injector:0.1.0
SEED_LABEL=io.fluid-serverless.seed
work="$(mktemp -d /var/tmp/fluid-images.XXXXXX)"
dockerd_pid=""
container=""

say() { printf '[build-images %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[build-images] FAILED: %s\n' "$*" >&2; exit 1; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

cleanup() {
  local status=$?
  [[ -n "$container" ]] && docker rm -f "$container" >/dev/null 2>&1 || true
  if [[ -n "$dockerd_pid" ]]; then
    kill "$dockerd_pid" 2>/dev/null || true
    wait "$dockerd_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT

[[ $(id -u) -eq 0 ]] || die "run as root: dockerd and debootstrap need it"

# --- 1. the engine -------------------------------------------------------------------------------------------
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if ((${#need[@]})); then
  say "installing ${need[*]} from Debian"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null \
    || die "apt-get install ${need[*]} failed"
fi
# Debian's docker.io ships a client matching its engine; prefer it (the legacy builder needs no buildx plugin).
docker() { if [[ -x /usr/bin/docker ]]; then /usr/bin/docker "$@"; else command docker "$@"; fi; }

if ! docker info >/dev/null 2>&1; then
  say "starting dockerd (no bridge network, no iptables: builds and containers use the host network)"
  dockerd --host unix:///var/run/docker.sock --bridge=none --iptables=false --ip-masq=false \
    >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.5
  done
  if ! docker info >"$work/info.txt" 2>&1; then
    echo "--- docker info:" >&2; cat "$work/info.txt" >&2
    echo "--- last lines of the dockerd log:" >&2; tail -n 20 "$work/dockerd.log" >&2
    die "the Docker engine cannot run in this environment (see the errors above)"
  fi
fi
say "engine: $(docker version --format 'server {{.Server.Version}}, client {{.Client.Version}}')"

# --- 2. base images ------------------------------------------------------------------------------------------
codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
[[ -n "$codename" ]] || die "/etc/os-release names no VERSION_CODENAME: cannot pick a Debian suite"

# The first Debian mirror of this machine's apt configuration that serves the suite (deb822 .sources files or the
# one-line format), so the script works wherever apt does.
apt_mirror() {
  local file
  for file in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$file" ]] || continue
    awk -v suite="$codename" '
      function flush() { if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uris != "") { split(uris, u, " "); print u[1]; found = 1; exit } types = suites = uris = "" }
      /^[ \t]*$/ { flush(); next }
      /^Types:/  { sub(/^Types:[ \t]*/, ""); types = $0 }
      /^URIs:/   { sub(/^URIs:[ \t]*/, ""); uris = $0 }
      /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
      END { if (!found) flush() }' "$file"
  done
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$file" ]] || continue
    awk -v suite="$codename" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i + 1) == suite) { print $i; exit } }' "$file"
  done
}
mirror="$(apt_mirror | head -n 1)"
[[ -n "$mirror" ]] || die "no Debian mirror for suite '$codename' in /etc/apt/sources.list or /etc/apt/sources.list.d/"
say "Debian mirror (from apt's configuration): $mirror, suite $codename"

dotnet_bin="$(readlink -f "$(command -v dotnet)")" || die "dotnet is not on PATH: the SDK image copies this machine's SDK"
dotnet_root="$(dirname "$dotnet_bin")"
sdk_version="$(dotnet --version)"
runtime_version="$(dotnet --list-runtimes | awk '$1 == "Microsoft.NETCore.App" { v = $2 } END { print v }')"
# Bump SEED_RECIPE when the way the seeds are made changes; the trust store is an input because the SDK image
# copies it (below).
SEED_RECIPE=2
seed_id="$(printf '%s\n' "$SEED_RECIPE" "$codename" "$sdk_version" "$runtime_version" \
  "$(sha256sum </etc/ssl/certs/ca-certificates.crt)" | sha256sum | cut -c1-16)"
say ".NET SDK $sdk_version (runtime $runtime_version) from $dotnet_root; seed id $seed_id"

seeded() { [[ "$(docker image inspect -f "{{ index .Config.Labels \"$SEED_LABEL\" }}" "$1" 2>/dev/null)" == "$seed_id" ]]; }

import_dir() { # DIR IMAGE [--change ...]
  local dir="$1" image="$2"; shift 2
  tar --numeric-owner -C "$dir" -c . | docker import --change "LABEL $SEED_LABEL=$seed_id" "$@" - "$image" >/dev/null
}

if seeded "$SDK_IMAGE" && seeded "$RUNTIME_DEPS_IMAGE" && seeded "$ASPNET_IMAGE"; then
  say "base images already seeded ($seed_id): skipping debootstrap"
else
  t=$(date +%s.%N)
  rootfs="$work/sdk"
  say "debootstrap --variant=minbase $codename + clang, zlib1g-dev, ca-certificates"
  debootstrap --variant=minbase --include=clang,zlib1g-dev,ca-certificates,libssl3 "$codename" "$rootfs" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  say "debootstrap done in $(elapsed "$t") s"

  # runtime-deps: the files of the few packages a self-contained .NET program links against, nothing else.
  deps="$work/runtime-deps"
  mkdir -p "$deps/tmp" "$deps/etc/ssl/certs" "$deps/app"
  chmod 1777 "$deps/tmp"
  for package in libc6 libgcc-s1 libstdc++6 libssl3 zlib1g; do
    dpkg --admindir="$rootfs/var/lib/dpkg" -L "$package" | grep -v -E '^/usr/share/(doc|man|lintian|locale)'
  done | sort -u | while read -r path; do
    [[ -e "$rootfs$path" || -L "$rootfs$path" ]] && [[ ! -d "$rootfs$path" || -L "$rootfs$path" ]] && echo ".$path"
  done >"$work/runtime-files.txt"
  # Debian's merged /usr: /lib, /lib64, /bin and /sbin are symlinks into /usr. Create them first and keep them
  # while extracting, so files listed under /lib land in /usr/lib as on the real system.
  for link in lib lib64 bin sbin; do
    [[ -L "$rootfs/$link" ]] && { mkdir -p "$deps/usr/$link"; ln -s "$(readlink "$rootfs/$link")" "$deps/$link"; }
  done
  tar -C "$rootfs" --no-recursion -c -T "$work/runtime-files.txt" | tar -C "$deps" --keep-directory-symlink -x
  cp "$rootfs/etc/ssl/certs/ca-certificates.crt" "$deps/etc/ssl/certs/"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$deps/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$deps/etc/group"
  [[ -x "$deps/bin/sh" || -x "$deps/usr/bin/sh" ]] && die "the runtime-deps seed unexpectedly contains a shell"
  import_dir "$deps" "$RUNTIME_DEPS_IMAGE" --change "ENV DOTNET_RUNNING_IN_CONTAINER=true" \
    --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" --change "USER 65532:65532"

  # aspnet: runtime-deps + the .NET host and the two shared frameworks (no SDK).
  aspnet="$work/aspnet"
  cp -a "$deps" "$aspnet"
  mkdir -p "$aspnet/usr/share/dotnet/shared" "$aspnet/usr/bin"
  cp -a "$dotnet_root/dotnet" "$dotnet_root/host" "$aspnet/usr/share/dotnet/"
  cp -a "$dotnet_root/shared/Microsoft.NETCore.App" "$dotnet_root/shared/Microsoft.AspNetCore.App" \
    "$aspnet/usr/share/dotnet/shared/"
  ln -s /usr/share/dotnet/dotnet "$aspnet/usr/bin/dotnet"
  import_dir "$aspnet" "$ASPNET_IMAGE" --change "ENV DOTNET_RUNNING_IN_CONTAINER=true" \
    --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" --change "ENV DOTNET_ROOT=/usr/share/dotnet" \
    --change "USER 65532:65532"

  # sdk: the debootstrap root file system + this machine's whole .NET SDK + this machine's CA bundle, so the
  # build's NuGet restore trusts exactly what this machine's own restores trust (a TLS-inspecting proxy's root,
  # say). Only the build stage sees it; the runtime images keep Debian's bundle.
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  mkdir -p "$rootfs/usr/share/dotnet"
  cp -a "$dotnet_root/." "$rootfs/usr/share/dotnet/"
  ln -sf /usr/share/dotnet/dotnet "$rootfs/usr/bin/dotnet"
  rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
  import_dir "$rootfs" "$SDK_IMAGE" --change "ENV DOTNET_ROOT=/usr/share/dotnet" \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1" --change "ENV DOTNET_RUNNING_IN_CONTAINER=true" \
    --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" --change "ENV NUGET_CERT_REVOCATION_MODE=offline"
  rm -rf "$rootfs" "$deps" "$aspnet"
  say "base images seeded in $(elapsed "$t") s"
fi
for image in "$SDK_IMAGE" "$RUNTIME_DEPS_IMAGE" "$ASPNET_IMAGE"; do
  printf '  %-58s %6s MB\n' "$image" "$(docker image inspect -f '{{.Size}}' "$image" | awk '{ printf "%.0f", $1 / 1e6 }')"
done

# --- 3. the real Dockerfiles ---------------------------------------------------------------------------------
build() { # DOCKERFILE TAG
  local t; t=$(date +%s.%N)
  say "docker build -f $1 -t $2"
  if ! DOCKER_BUILDKIT=0 docker build --network host -f "$repo/$1" -t "$2" "$repo" >"$work/build.log" 2>&1; then
    tail -n 40 "$work/build.log" >&2
    die "docker build -f $1 failed (last lines above)"
  fi
  say "built $2 in $(elapsed "$t") s ($(grep -c 'Using cache' "$work/build.log" || true) steps from the layer cache," \
    "$(grep -c -E 'warning (IL|CS)[0-9]+' "$work/build.log" || true) IL/CS warnings)"
}
build Dockerfile.sidecar "$SIDECAR_TAG"
build Dockerfile.injector "$INJECTOR_TAG"

# --- 4. sizes, then run them once ----------------------------------------------------------------------------
say "image sizes:"
for image in "$SIDECAR_TAG" "$INJECTOR_TAG"; do
  printf '  %-40s %6s MB  (user %s)\n' "$image" \
    "$(docker image inspect -f '{{.Size}}' "$image" | awk '{ printf "%.1f", $1 / 1e6 }')" \
    "$(docker image inspect -f '{{.Config.User}}' "$image")"
done
user="$(docker image inspect -f '{{.Config.User}}' "$SIDECAR_TAG")"
[[ "$user" == 65532:65532 ]] || die "$SIDECAR_TAG runs as '$user', expected 65532:65532"
for image in "$SIDECAR_TAG" "$INJECTOR_TAG"; do
  docker run --rm --network none --entrypoint /bin/sh "$image" -c true >/dev/null 2>&1 \
    && die "$image contains a shell (/bin/sh); the runtime image must hold only the program and its libraries"
done
say "neither image contains a shell (as intended)"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
s3_port=$(free_port); admin_port=$(free_port)
data="$work/data"; mkdir -p "$data/dir"
head -c 1048583 /dev/urandom >"$data/dir/blob.bin"
echo "hello from the sidecar image" >"$data/hello.txt"
chmod -R a+rX "$work"
# Every section spelt out, as the injector writes it into the sidecar-config annotation.
cat >"$work/sidecar.json" <<EOF
{
  "version": 1,
  "mode": "s3",
  "s3": { "address": "127.0.0.1", "port": $s3_port },
  "admin": { "address": "127.0.0.1", "port": $admin_port },
  "cache": { "directory": "/var/cache/fluid-serverless", "quotaBytes": 268435456, "blockSizeBytes": 4194304,
             "minFreeBytes": 0, "readAheadMemoryBytes": 67108864, "metadataTtlSeconds": 30, "medium": "disk" },
  "prefetch": { "workers": 2, "bandwidthBytesPerSecond": 0, "waitForReady": false },
  "datasets": [ { "name": "sample", "source": "local:///data", "options": {}, "secretOptions": {},
                  "readOnly": true, "immutable": false, "prefetch": [] } ]
}
EOF
say "starting $SIDECAR_TAG (read-only root, all capabilities dropped, no new privileges, user 65532)"
t0=$(date +%s.%N)
container=$(docker run -d --network host --read-only --cap-drop ALL --security-opt no-new-privileges \
  --tmpfs /var/cache/fluid-serverless:uid=65532,gid=65532,mode=0700 --tmpfs /tmp \
  -v "$data:/data:ro" -v "$work/sidecar.json:/etc/fluid-serverless/sidecar.json:ro" \
  -e FLUID_SIDECAR_CONFIG_FILE=/etc/fluid-serverless/sidecar.json "$SIDECAR_TAG")
ready=""
for _ in $(seq 1 1500); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$admin_port/readyz" 2>/dev/null; then ready=$(elapsed "$t0"); break; fi
  [[ "$(docker inspect -f '{{.State.Running}}' "$container")" == true ]] || break
  sleep 0.01
done
if [[ -z "$ready" ]]; then
  echo "--- sidecar logs:" >&2; docker logs "$container" 2>&1 | tail -n 30 >&2
  die "the sidecar image did not answer /readyz on 127.0.0.1:$admin_port within 15 s"
fi
say "sidecar ready: start-to-ready $ready s (docker run → /readyz 200, container start included)"
got="$(curl -fsS "http://127.0.0.1:$s3_port/sample/dir/blob.bin" | sha256sum | cut -d' ' -f1)" \
  || { docker logs "$container" 2>&1 | tail -n 30 >&2; die "GET /sample/dir/blob.bin from the sidecar image failed"; }
want="$(sha256sum "$data/dir/blob.bin" | cut -d' ' -f1)"
[[ "$got" == "$want" ]] || die "GET /sample/dir/blob.bin: SHA-256 $got, expected $want"
say "GET /sample/dir/blob.bin through the sidecar image: SHA-256 matches ($want)"
rss="$(docker stats --no-stream --format '{{.MemUsage}}' "$container" 2>/dev/null | cut -d/ -f1 || true)"
[[ -n "$rss" ]] && say "sidecar memory after one GET: $rss"
docker rm -f "$container" >/dev/null; container=""

# The injector image: its runtime starts and the offline tool answers (no cluster needed).
if docker run --rm --network none --read-only --cap-drop ALL -v "$repo/samples:/samples:ro" "$INJECTOR_TAG" \
    inject -f /samples/pod-pvc.yaml --cluster /samples/datasets/s3-dataset.yaml >"$work/injected.yaml" 2>"$work/injector.err"; then
  grep -q "done.sidecar.fluid.io/inject" "$work/injected.yaml" \
    || die "the injector image's offline tool printed no injected pod (no done.sidecar.fluid.io/inject label)"
  say "injector image: 'inject -f samples/pod-pvc.yaml' printed the injected pod"
else
  tail -n 20 "$work/injector.err" >&2
  die "the injector image's offline tool failed on samples/pod-pvc.yaml"
fi

say "all done in $(elapsed "$script_started") s"
echo "build-images: 1 passed, 0 failed"
