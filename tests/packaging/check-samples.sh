#!/usr/bin/env bash
# Checks every sample under samples/ offline (see check_samples.py for the list) and runs samples/reader/reader.py
# against a real S3 server (moto_server on 127.0.0.1, a free port, stopped at the end).
# Usage: tests/packaging/check-samples.sh [--verbose]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
command -v kubectl >/dev/null || { echo "check-samples: kubectl is not on PATH" >&2; exit 1; }
command -v python3 >/dev/null || { echo "check-samples: python3 is not on PATH" >&2; exit 1; }
exec python3 "$here/check_samples.py" "$repo" "$@"
