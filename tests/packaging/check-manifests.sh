#!/usr/bin/env bash
# Renders every install under manifests/ (the default and each overlay) with `kubectl kustomize`, offline,
# and checks what we promise about them: every object parses (PyYAML and kubectl's own decoder), workloads
# survive kubectl's typed round-trip (no misspelt field), webhook selectors and settings, least-privilege RBAC,
# a non-root read-only Deployment, CRD schemas, certificate wiring. Then --self-test breaks the rendered
# install in known ways and requires each break to be reported.
# Usage: tests/packaging/check-manifests.sh [--verbose]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
command -v kubectl >/dev/null || { echo "check-manifests: kubectl is not on PATH (needed for kubectl kustomize)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "check-manifests: python3 is not on PATH" >&2; exit 1; }
exec python3 "$here/check_manifests.py" "$repo" --self-test "$@"
