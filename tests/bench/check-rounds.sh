#!/usr/bin/env bash
# Checks bench/tools/rounds.py, the summary every side-by-side bench prints: medians, min-max, ratios, and that it
# refuses a verdict when the reference spreads over 15 % or when there are fewer than 3 rounds.
set -euo pipefail
cd "$(dirname "$0")/../.."
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
fail() { echo "check-rounds: $*" >&2; exit 1; }

# Steady reference (100, 104, 96: +-4 %), contender 85/90/80: median ratio 0.85.
printf '1\tnginx\trps\t100\n1\tsidecar\trps\t85\n2\tnginx\trps\t104\n2\tsidecar\trps\t90\n3\tnginx\trps\t96\n3\tsidecar\trps\t80\n' >"$work/steady.tsv"
printf '1\tsidecar\tgen0_gcs\t3\n2\tsidecar\tgen0_gcs\t5\n3\tsidecar\tgen0_gcs\t4\n' >>"$work/steady.tsv"
out="$(python3 bench/tools/rounds.py "$work/steady.tsv" --reference nginx --contender sidecar --metric rps:higher --target 0.8 --metric gen0_gcs)"
grep -q '^ median *100 *85 *0.85$' <<<"$out" || fail "expected medians 100 / 85 / ratio 0.85, got:"$'\n'"$out"
grep -q '^VERDICT: median ratio 0.85 (target >= 0.8): meets' <<<"$out" || fail "expected a 'meets' verdict, got:"$'\n'"$out"
grep -q 'gen0_gcs sidecar: rounds 3 5 4; median 4 (min-max 3-5)' <<<"$out" || fail "expected the GC line, got:"$'\n'"$out"

# Latency: lower is better, so the ratio is reference/contender.
printf '1\tref\tp99_ms\t10\n1\tnew\tp99_ms\t5\n2\tref\tp99_ms\t10\n2\tnew\tp99_ms\t5\n3\tref\tp99_ms\t10\n3\tnew\tp99_ms\t5\n' >"$work/latency.tsv"
out="$(python3 bench/tools/rounds.py "$work/latency.tsv" --reference ref --contender new --metric p99_ms:lower --target 1)"
grep -q '^VERDICT: median ratio 2.00' <<<"$out" || fail "expected ratio 2.00 for halved latency, got:"$'\n'"$out"

# Noisy reference (100, 140, 90: +-25 %): no verdict.
printf '1\tnginx\trps\t100\n1\tsidecar\trps\t85\n2\tnginx\trps\t140\n2\tsidecar\trps\t90\n3\tnginx\trps\t90\n3\tsidecar\trps\t80\n' >"$work/noisy.tsv"
out="$(python3 bench/tools/rounds.py "$work/noisy.tsv" --reference nginx --contender sidecar --metric rps:higher --target 0.8)"
grep -q '^NO VERDICT: reference spread 25% > 15%, rerun$' <<<"$out" || fail "expected NO VERDICT for a 25 % reference spread, got:"$'\n'"$out"

# Two rounds: no verdict either.
head -4 "$work/steady.tsv" >"$work/two.tsv"
out="$(python3 bench/tools/rounds.py "$work/two.tsv" --reference nginx --contender sidecar --metric rps:higher --target 0.8)"
grep -q '^NO VERDICT: 2 round(s)' <<<"$out" || fail "expected NO VERDICT for 2 rounds, got:"$'\n'"$out"
echo "check-rounds: ok"
