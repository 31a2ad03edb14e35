#!/usr/bin/env bash
# Applies every golden patch with Kubernetes' own JSON-patch code (kubectl patch --local, no API server needed)
# and compares the result with the expected pod. The C# golden test does the same with its own applier; this
# script proves the patches are right for the real implementation too.
# Usage: tests/Fluid.Serverless.Injector.Tests/kubectl-golden-check.sh   (needs kubectl and jq on PATH)
set -euo pipefail
cd "$(dirname "$0")/testdata"
export KUBECONFIG=/dev/null   # --local never talks to a cluster
checked=0
failed=0
for patch in *.patch.json; do
  name="${patch%.patch.json}"
  # normalize both sides through kubectl itself (same defaults, same key order), then sort keys
  actual=$(kubectl patch --local -f "$name.yaml" --type=json -p "$(cat "$patch")" -o json | jq -S .)
  expected=$(kubectl patch --local -f "$name.injected.yaml" --type=json -p '[]' -o json | jq -S .)
  if [[ "$actual" != "$expected" ]]; then
    echo "FAIL $name"
    diff <(echo "$expected") <(echo "$actual") | head -20 || true
    failed=$((failed + 1))
  fi
  checked=$((checked + 1))
done
echo "kubectl golden check: $checked patches applied, $failed failed"
[[ $checked -ge 30 && $failed -eq 0 ]]
