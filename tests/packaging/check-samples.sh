#!/usr/bin/env bash
# Checks every sample under samples/ offline (see check_samples.py for the list), runs each through the injector's
# offline tool (`fluid-injector inject -f`), and runs samples/reader/reader.py against a real S3 server
# (moto_server on 127.0.0.1, a free port, stopped at the end).
# Usage: tests/packaging/check-samples.sh [--verbose]
#   FLUID_INJECTOR_DLL=path/to/fluid-injector.dll   use that build instead of building injector/
#   CONFIGURATION=Release|Debug                     the configuration to build (default Release, as tests/run.sh)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
command -v kubectl >/dev/null || { echo "check-samples: kubectl is not on PATH" >&2; exit 1; }
command -v python3 >/dev/null || { echo "check-samples: python3 is not on PATH" >&2; exit 1; }
if [[ -z "${FLUID_INJECTOR_DLL:-}" ]]; then
  configuration="${CONFIGURATION:-Release}"
  build_log="$(mktemp)"
  # Incremental: after tests/run.sh has built the solution this is a no-op.
  dotnet build "$repo/injector/Fluid.Serverless.Injector.csproj" -c "$configuration" --nologo -v quiet >"$build_log" 2>&1 \
    || { tail -n 30 "$build_log" >&2; echo "check-samples: building injector/ failed" >&2; exit 1; }
  rm -f "$build_log"
  export FLUID_INJECTOR_DLL="$repo/injector/bin/$configuration/net10.0/fluid-injector.dll"
fi
exec python3 "$here/check_samples.py" "$repo" "$@"
