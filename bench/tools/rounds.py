#!/usr/bin/env python3
"""Summarises interleaved benchmark rounds: per-round figures, median and min-max of each side and of the ratio.

Every bench records one line per measurement into a rounds file (bench/tools/rounds.sh `record` writes it):

    ROUND<TAB>SIDE<TAB>METRIC<TAB>VALUE

and calls this script once per figure:

    rounds.py FILE --reference nginx --contender sidecar --metric rps:higher --target 0.8 [--metric p99_ms:lower]
              [--title "(b) random 64 KiB ranges"] [--max-spread 15]

The first --metric is the headline: its ratio (contender / reference for "higher", reference / contender for
"lower", so a ratio above 1 always means the contender is better) gets the verdict. Further metrics are printed
the same way, with their ratio, and no verdict. A metric without a direction ("rss_mib") is printed per side only.

Spread of one side = (max - min) / (2 * median), printed as +-X %: the same "within +-12 %" as a table of rounds
reads. When the reference's spread on the headline metric is above --max-spread (default 15 %), the machine was
not steady enough to compare anything, and the verdict is refused: "NO VERDICT: reference spread X% > 15%, rerun".
Fewer than 3 rounds give no spread worth the name, so they get no verdict either.
"""

import argparse
import statistics
import sys
from collections import defaultdict


def spread(values):
    middle = statistics.median(values)
    return 0.0 if middle == 0 else (max(values) - min(values)) / (2 * middle) * 100


def fmt(value):
    if value != value:  # NaN: a side that did not report this metric in a round
        return "-"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio_of(reference, contender, direction):
    if direction == "higher":
        return contender / reference if reference else float("nan")
    return reference / contender if contender else float("nan")


def summarise(rows, reference, contender, metric, direction, title, target, max_spread, headline, compact=False):
    rounds = sorted({r for (r, side, m) in rows if m == metric})
    if not rounds:
        print(f"{title}: no rounds recorded for {metric}")
        return True
    ref = [rows.get((r, reference, metric), float("nan")) for r in rounds]
    con = [rows.get((r, contender, metric), float("nan")) for r in rounds]
    if not direction:
        # A side figure (RSS, GCs, errors): one line per side that reported it, rounds then median and min-max.
        for side, values in ((reference, ref), (contender, con)):
            clean = [v for v in values if v == v]
            if clean:
                print(f"   {title} {side}: rounds {' '.join(fmt(v) for v in values)}; median {fmt(statistics.median(clean))}"
                      f" (min-max {fmt(min(clean))}-{fmt(max(clean))})")
        return True
    ratios = [ratio_of(a, b, direction) for a, b in zip(ref, con)]
    if compact:
        def brief(values):
            clean = [v for v in values if v == v]
            return f"{fmt(statistics.median(clean))} ({fmt(min(clean))}-{fmt(max(clean))})" if clean else "-"
        print(f"{title:>17}: {reference} {brief(ref):>24} | {contender} {brief(con):>24} | ratio {brief(ratios):>18}"
              f" | {reference} spread +-{spread([v for v in ref if v == v] or [0]):.0f}%")
        return True
    unit = f"{metric} ({direction} is better)"
    print(f"-- {title}: {unit}")
    header = f"{'round':>7} {reference:>12} {contender:>12} {'ratio':>7}"
    print(header)
    for i, r in enumerate(rounds):
        print(f"{r:>7} {fmt(ref[i]):>12} {fmt(con[i]):>12} {fmt(ratios[i]):>7}")

    def stats(values):
        clean = [v for v in values if v == v]
        return (statistics.median(clean), min(clean), max(clean), spread(clean)) if clean else None

    summaries = [stats(ref), stats(con), stats(ratios)]
    print(f"{'median':>7} " + " ".join(f"{fmt(s[0]) if s else '-':>12}" if i < 2 else f"{fmt(s[0]) if s else '-':>7}" for i, s in enumerate(summaries)))
    print(f"{'min-max':>7} " + " ".join(
        f"{(fmt(s[1]) + '-' + fmt(s[2])) if s else '-':>12}" if i < 2 else f"{(fmt(s[1]) + '-' + fmt(s[2])) if s else '-':>7}"
        for i, s in enumerate(summaries)))
    print(f"{'spread':>7} " + " ".join(f"{('+-' + format(s[3], '.0f') + '%') if s else '-':>12}" for s in summaries[:2]))
    if not headline:
        return True
    ref_stats, ratio_stats = summaries[0], summaries[2]
    if ref_stats is None or ratio_stats is None:
        print(f"NO VERDICT: {title}: a side reported nothing, rerun")
        return False
    if len(rounds) < 3:
        print(f"NO VERDICT: {len(rounds)} round(s); a spread needs at least 3 (BENCH_ROUNDS)")
        return False
    if ref_stats[3] > max_spread:
        print(f"NO VERDICT: reference spread {ref_stats[3]:.0f}% > {max_spread:.0f}%, rerun")
        return False
    if target is not None:
        verdict = "meets" if ratio_stats[0] >= target else "BELOW"
        print(f"VERDICT: median ratio {ratio_stats[0]:.2f} (target >= {target}): {verdict}; "
              f"{contender} spread +-{summaries[1][3]:.0f}% vs {reference} +-{ref_stats[3]:.0f}%")
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("--reference", required=True)
    parser.add_argument("--contender", required=True)
    parser.add_argument("--metric", action="append", required=True, help="NAME[:higher|:lower]")
    parser.add_argument("--target", type=float, help="target for the headline ratio")
    parser.add_argument("--title", default="")
    parser.add_argument("--compact", action="store_true", help="one line per metric: median (min-max) of each side and of the ratio")
    parser.add_argument("--max-spread", type=float, default=15.0, help="percent; above it the verdict is refused")
    args = parser.parse_args()

    rows = {}
    with open(args.file, encoding="utf-8") as source:
        for number, line in enumerate(source, 1):
            if not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4:
                sys.exit(f"{args.file}:{number}: expected ROUND<TAB>SIDE<TAB>METRIC<TAB>VALUE, got {line!r}")
            try:
                rows[(int(parts[0]), parts[1], parts[2])] = float(parts[3])
            except ValueError:
                sys.exit(f"{args.file}:{number}: ROUND must be an integer and VALUE a number, got {line!r}")

    if args.compact and args.title:
        print(f"-- {args.title}: median (min-max) over rounds")
    for index, spec in enumerate(args.metric):
        name, _, direction = spec.partition(":")
        if direction not in ("", "higher", "lower"):
            sys.exit(f"--metric {spec}: expected NAME, NAME:higher or NAME:lower")
        title = name if args.compact else f"{args.title} {name}" if args.title and not direction else (args.title or name)
        summarise(rows, args.reference, args.contender, name, direction or None, title,
                  args.target if index == 0 else None, args.max_spread, headline=index == 0 and not args.compact,
                  compact=args.compact)


if __name__ == "__main__":
    main()
