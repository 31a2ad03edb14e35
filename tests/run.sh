#!/usr/bin/env bash
# THE test command: installs what the tests need (only what is missing), builds the solution once in Release,
# runs every test project and the script-level checks, and ends with one line "N passed, N failed".
# Idempotent; meant for a fresh Debian 12 machine of this project's kind, run as root (CI does exactly that).
#
#   bash tests/run.sh                 # everything
#   bash tests/run.sh --filter EXPR   # only tests matching a dotnet test filter (script checks are skipped)
#   bash tests/run.sh --aot           # also publish the sidecar as Native AOT and run the process-level and client
#                                     # interop tests again against that binary; about 6 more minutes
#
# Env: CONFIGURATION (default Release); FLUID_SIDECAR_BINARY=/path/to/aot/fluid-sidecar makes the process-level
# tests run against that binary (e.g. the Native AOT build) instead of the JIT build.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

configuration="${CONFIGURATION:-Release}"
test_filter=""
run_aot="${FLUID_TEST_AOT:-0}"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --filter) test_filter="$2"; shift 2 ;;
        --aot) run_aot=1; shift ;;
        *) echo "tests/run.sh: unknown argument '$1' (expected --filter EXPR or --aot)" >&2; exit 2 ;;
    esac
done

log() { printf '\n==> %s\n' "$*"; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# --- 1. Debian packages ------------------------------------------------------------------------------------------
# command that proves the package is there -> package that provides it. Only what the test suite runs:
#   nginx      HTTP origin for http:// datasets (NginxFixture)
#   rclone     client interop tests (ls/copy/check against the sidecar)
#   s3cmd      client interop tests (get/ls)
#   /usr/bin/aws  aws-cli v2 from Debian (v1 comes with the pyenv Python)
#   fusermount3   FUSE volume tests (mount/unmount as root)
#   jq         kubectl-golden-check.sh (normalizes kubectl's JSON)
#   redis-server, redis-cli  shared block tier tests (a 3-master Redis Cluster, a standalone engine they kill)
# wrk and hyperfine are for bench/ only (bench/run.sh installs them); s3fs only when a test drives it.
declare -A needed_packages=(
    [nginx]=nginx-light
    [rclone]=rclone
    [s3cmd]=s3cmd
    [/usr/bin/aws]=awscli
    [fusermount3]=fuse3
    [jq]=jq
    [redis-server]=redis-server
    [redis-cli]=redis-tools
)
if [[ "$run_aot" == 1 ]]; then
    # Native AOT links with clang (any clang-N the ILCompiler finds will do) and needs zlib's headers.
    if ! compgen -c clang | grep -qE '^clang(-[0-9]+)?$'; then
        needed_packages[clang]=clang
    fi
    needed_packages[/usr/include/zlib.h]=zlib1g-dev
fi
if grep -rqs --include='*.cs' --include='*.sh' --exclude=run.sh -w 's3fs' tests/ 2>/dev/null; then
    needed_packages[s3fs]=s3fs
fi
if [[ ! -x "$(command -v node || true)" ]]; then
    needed_packages[node]=nodejs
    needed_packages[npm]=npm
fi

missing=()
for probe in "${!needed_packages[@]}"; do
    # nginx lives in /usr/sbin, which is not on every PATH.
    if ! command -v "$probe" >/dev/null 2>&1 && [[ ! -x "/usr/sbin/$probe" && ! -e "$probe" ]]; then
        missing+=("${needed_packages[$probe]}")
    fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
    log "installing missing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    log "Debian packages present: ${needed_packages[*]}"
fi
# The nginx package starts a system-wide nginx on port 80; tests start their own on free ports, so stop it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
    as_root systemctl stop nginx || true
fi
# FUSE tests need the device node (present when the kernel has FUSE; modprobe where it is a module).
if [[ ! -e /dev/fuse ]]; then
    as_root modprobe fuse 2>/dev/null || echo "note: /dev/fuse is absent; FUSE tests will report it" >&2
fi

# --- 2. s3rver (npm, pinned by the lockfile) -----------------------------------------------------------------------
if [[ -f tests/node/package-lock.json ]]; then
    if [[ ! -x tests/node/node_modules/.bin/s3rver ]] \
        || ! cmp -s tests/node/package-lock.json tests/node/node_modules/.package-lock.json.ci-stamp; then
        log "npm ci --prefix tests/node (s3rver)"
        npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
        cp tests/node/package-lock.json tests/node/node_modules/.package-lock.json.ci-stamp
    else
        log "s3rver present in tests/node/node_modules"
    fi
fi

# --- 3. Python peers: moto_server, boto3, aws-cli v1 (the machine's pyenv Python) --------------------------------------
if [[ -d "$HOME/.pyenv/shims" && ":$PATH:" != *":$HOME/.pyenv/shims:"* ]]; then
    export PATH="$HOME/.pyenv/shims:$HOME/.pyenv/bin:$PATH"
fi
# tests/requirements.txt pins them; pip runs only when one is missing or at another version, so a machine without
# PyPI passes this step when the installed versions already match.
python_missing=()
python_differs="$(python3 - tests/requirements.txt <<'PY'
import re, sys
from importlib.metadata import PackageNotFoundError, version
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", line)
    if not match:
        sys.exit(f"tests/requirements.txt: '{line}' is not 'name==version' or 'name[extra]==version'")
    try:
        installed = version(match.group(1))
    except PackageNotFoundError:
        installed = None
    if installed != match.group(3):
        print(line)
PY
)"
[[ -n "$python_differs" ]] && mapfile -t python_missing <<<"$python_differs"
if [[ ${#python_missing[@]} -gt 0 ]]; then
    log "installing Python packages: ${python_missing[*]}"
    if ! python3 -m pip install --quiet "${python_missing[@]}"; then
        echo "tests/run.sh: could not install ${python_missing[*]} with pip (PyPI unreachable?)." >&2
        echo "The tests need tests/requirements.txt in the python3 on PATH ($(command -v python3))." >&2
        exit 1
    fi
else
    log "python peers as pinned in tests/requirements.txt: $(python3 -c 'import boto3, moto; print("boto3", boto3.__version__, "moto", moto.__version__)')"
fi

# --- 4. Microsoft Garnet (a dotnet tool, pinned): the shared block tier tests run it as a Redis-protocol engine -------
garnet_dir="$HOME/.fluid-tools/garnet"
if [[ ! -x "$garnet_dir/garnet-server" ]]; then
    log "dotnet tool install garnet-server 2.2.12 -> $garnet_dir"
    dotnet tool install garnet-server --version 2.2.12 --tool-path "$garnet_dir"
else
    log "garnet-server present in $garnet_dir"
fi
# Debian's redis-server package starts a system-wide server on 6379; tests start their own on free ports.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
    as_root systemctl stop redis-server || true
fi

# --- 5. Build once ---------------------------------------------------------------------------------------------------
if ! command -v dotnet >/dev/null 2>&1; then
    echo "tests/run.sh: dotnet (the .NET 10 SDK) is not on PATH; install it first (see README.md)." >&2
    exit 1
fi
log "dotnet build Fluid.Serverless.sln -c $configuration"
dotnet build Fluid.Serverless.sln -c "$configuration" -nologo -clp:ErrorsOnly -p:UseSharedCompilation=true

# --- 6. Tests --------------------------------------------------------------------------------------------------------
results_dir="$repo_root/TestResults/run-$(date +%Y%m%d-%H%M%S)-$$"
mkdir -p "$results_dir"
test_args=(test Fluid.Serverless.sln -c "$configuration" --no-build --nologo
    --results-directory "$results_dir"
    --logger "trx"
    --logger "console;verbosity=minimal"
    # A hung test must not eat CI's time: dump and fail it instead.
    --blame-hang-timeout 5m --blame-hang-dump-type none)
[[ -n "$test_filter" ]] && test_args+=(--filter "$test_filter")

log "dotnet ${test_args[*]}"
set +e
dotnet "${test_args[@]}"
dotnet_exit=$?
set -e

# The same process-level tests against the Native AOT binary: what ships is the AOT build.
if [[ "$run_aot" == 1 ]]; then
    aot_dir="$repo_root/artifacts/aot-sidecar"
    # The csproj sets PublishAot; passing it on the command line would make it global, reach contracts too and change
    # that project's restore (and lock file).
    log "dotnet publish sidecar -c $configuration -r linux-x64 (Native AOT)"
    if dotnet publish sidecar -c "$configuration" -r linux-x64 -o "$aot_dir" -nologo -clp:ErrorsOnly; then
        aot_filter="FullyQualifiedName~ProcessLevel|FullyQualifiedName~ClientInterop"
        [[ -n "$test_filter" ]] && aot_filter="($aot_filter)&($test_filter)"
        log "process-level and client interop tests against $aot_dir/fluid-sidecar"
        set +e
        FLUID_SIDECAR_BINARY="$aot_dir/fluid-sidecar" dotnet test tests/Fluid.Serverless.Sidecar.IntegrationTests/Fluid.Serverless.Sidecar.IntegrationTests.csproj \
            -c "$configuration" --no-build --nologo --results-directory "$results_dir/aot" \
            --logger "trx" --logger "console;verbosity=minimal" --blame-hang-timeout 5m --blame-hang-dump-type none \
            --filter "$aot_filter"
        aot_exit=$?
        set -e
        [[ $aot_exit -ne 0 ]] && dotnet_exit=$aot_exit
    else
        echo "Native AOT publish of the sidecar failed" >&2
        aot_publish_failed=1
    fi
fi

# Sum the counters of every .trx (one per test assembly and run).
dotnet_passed=0; dotnet_failed=0; trx_count=0
while IFS= read -r -d '' trx; do
    trx_count=$((trx_count + 1))
    counters="$(grep -o '<Counters [^>]*>' "$trx" | head -n1)"
    passed="$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")"
    failed="$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")"
    errored="$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$counters")"
    timed_out="$(sed -n 's/.* timeout="\([0-9]*\)".*/\1/p' <<<"$counters")"
    aborted="$(sed -n 's/.* aborted="\([0-9]*\)".*/\1/p' <<<"$counters")"
    dotnet_passed=$((dotnet_passed + ${passed:-0}))
    dotnet_failed=$((dotnet_failed + ${failed:-0} + ${errored:-0} + ${timed_out:-0} + ${aborted:-0}))
done < <(find "$results_dir" -name '*.trx' -print0)
if [[ "${aot_publish_failed:-0}" == 1 ]]; then
    dotnet_failed=$((dotnet_failed + 1))
fi
# A crashed test host can leave no .trx or fewer failures than it should: the exit code still counts.
if [[ $dotnet_exit -ne 0 && $dotnet_failed -eq 0 ]]; then
    echo "dotnet test exited with $dotnet_exit ($trx_count result files); counting it as a failure" >&2
    dotnet_failed=1
fi
echo "dotnet test: $dotnet_passed passed, $dotnet_failed failed (results in ${results_dir#"$repo_root"/})"

# --- 7. Script-level checks (other components add them; each exits 0 on success) ----------------------------------
# Convention: tests/<folder>/*-check.sh and tests/<folder>/check-*.sh, run from the repository
# root. Other scripts (e.g. tests/packaging/build-images.sh, which needs a Docker engine) are not run here.
check_passed=0; check_failed=0
if [[ -z "$test_filter" ]]; then
    while IFS= read -r -d '' check; do
        log "check: $check"
        if CONFIGURATION="$configuration" bash "$check"; then
            check_passed=$((check_passed + 1))
        else
            echo "FAILED check: $check" >&2
            check_failed=$((check_failed + 1))
        fi
    done < <(find tests -path tests/node -prune -o \( -path 'tests/*/*-check.sh' -o -path 'tests/*/check-*.sh' \) -type f -print0 | sort -z)
    # End to end: inject sample pods offline and run them as a stand-in kubelet would (tests/e2e/README.md);
    # with --aot, once more with the Native AOT sidecar.
    e2e_binaries=("")
    if [[ -n "${aot_dir:-}" && -x "${aot_dir}/fluid-sidecar" ]]; then e2e_binaries+=("$aot_dir/fluid-sidecar"); fi
    for binary in "${e2e_binaries[@]}"; do
        log "check: tests/e2e/run.sh ${binary:+(sidecar: $binary)}"
        if CONFIGURATION="$configuration" FLUID_SIDECAR_BINARY="$binary" bash tests/e2e/run.sh; then
            check_passed=$((check_passed + 1))
        else
            echo "FAILED check: tests/e2e/run.sh ${binary:+(sidecar: $binary)}" >&2
            check_failed=$((check_failed + 1))
        fi
    done
    echo "script checks: $check_passed passed, $check_failed failed"
fi

total_passed=$((dotnet_passed + check_passed))
total_failed=$((dotnet_failed + check_failed))
if [[ $total_passed -eq 0 && $total_failed -eq 0 ]]; then
    echo "tests/run.sh: no test ran" >&2
    total_failed=1
fi
echo "$total_passed passed, $total_failed failed"
[[ $total_failed -eq 0 ]]
