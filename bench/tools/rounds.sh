# Sourced by the bench scripts: the shared method for interleaved rounds (summaries by bench/tools/rounds.py).
#
#   source bench/tools/rounds.sh
#   rounds_init "$work/rounds.tsv"             # BENCH_ROUNDS (default 5) -> $bench_rounds; prints the load average
#   for round in $(seq 1 "$bench_rounds"); do  # ABAB...: every round runs the reference, then the contender
#       peak_rss_reset "$nginx_pids"; ...; record "$round" nginx rps 1234; record "$round" nginx rss_mib "$(peak_rss_mib "$nginx_pids")"
#   done
#   rounds_summary --title "(b) ..." --reference nginx --contender sidecar --metric rps:higher --target 0.8
#   rounds_finish                              # prints the load average at the end
#
# RSS: the kernel's own peak (VmHWM in /proc/PID/status), reset before a round by writing 5 to /proc/PID/clear_refs
# and read once after it, for every process of both sides (all nginx workers, the sidecar). No sampling loop runs
# beside either side, so neither pays for being watched. Resetting needs the same user as the process or root; when
# it is refused the peak is the process's lifetime peak, and the output says so.

rounds_init() { # FILE
    rounds_file="$1"
    : >"$rounds_file"
    bench_rounds="${BENCH_ROUNDS:-5}"
    [[ "$bench_rounds" =~ ^[1-9][0-9]*$ ]] || { echo "BENCH_ROUNDS=$bench_rounds: expected a positive integer" >&2; exit 2; }
    load_at_start="$(load_average)"
    printf 'rounds: %s, interleaved ABAB... (reference, then contender, every round); load average at start: %s\n' \
        "$bench_rounds" "$load_at_start"
}

load_average() { cut -d' ' -f1-3 /proc/loadavg; }

record() { # ROUND SIDE METRIC VALUE
    [[ -n "$4" ]] || { echo "record $1 $2 $3: empty value (the measurement failed; see its output above)" >&2; return 1; }
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$rounds_file"
}

peak_rss_reset() { # PID... : the next peak_rss_mib reports the peak from now on
    local pid
    for pid in "$@"; do
        if ! { echo 5 >"/proc/$pid/clear_refs"; } 2>/dev/null; then
            [[ -n "${_rss_reset_warned:-}" ]] || echo "note: cannot reset the RSS peak of pid $pid (not its owner): RSS figures are lifetime peaks" >&2
            _rss_reset_warned=1
        fi
    done
}

peak_rss_mib() { # PID... -> the sum of their peaks since the last reset, in MiB
    local pid total=0 kib
    for pid in "$@"; do
        kib="$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)"
        total=$((total + ${kib:-0}))
    done
    awk -v k="$total" 'BEGIN { printf "%.1f", k / 1024 }'
}

# CPU: clock ticks (user + system) of processes, and of the whole machine (/proc/stat: user, nice, system, irq,
# softirq, steal), so that a figure can be read against what the cores allowed. Short-lived clients are what
# remains of the machine's ticks.
cpu_ticks_of() { # PID... -> their ticks so far
    local t=0 p
    for p in "$@"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done
    echo "$t"
}
machine_cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
ticks_to_seconds() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'; }

rounds_summary() { # rounds.py arguments after the file
    python3 "$(dirname "${BASH_SOURCE[0]}")/rounds.py" "$rounds_file" "$@"
}

rounds_finish() {
    printf 'load average at start: %s; at end: %s\n' "$load_at_start" "$(load_average)"
}
