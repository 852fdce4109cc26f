#!/usr/bin/env bash
# logquery beside HAProxy's halog on the same generated log, in one run: wall time (best of 3) and peak RSS
# of each, and the ratio. Floors (issue "logquery"): time ratio <= 1.0, RSS <= max(2 x halog, 64 MB).
# Usage: bench/logquery-vs-halog.sh [LINES]   (default 3,000,000 lines, about 540 MB)
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-3000000}
log=${TMPDIR:-/tmp}/tollgate-bench-haproxy.log
halog=$(command -v halog || echo /usr/sbin/halog)
[ -s "$log" ] && [ "$(wc -l < "$log")" -eq "$lines" ] || python3 bench/make-log.py "$lines" "$log"
swift build -c release --product logquery >/dev/null
lq=.build/release/logquery
cat "$log" > /dev/null   # page cache, for both

measure() {  # prints "best_ms peak_kb" of the command, output discarded
    local best=999999 rss=0
    for _ in 1 2 3; do
        local out
        /usr/bin/time -f "%e %M" -o /tmp/tollgate-bench.time "$@" > /dev/null 2>/dev/null
        out=$(tail -1 /tmp/tollgate-bench.time)
        local ms; ms=$(python3 -c "print(int(float('${out% *}') * 1000))")
        (( ms < best )) && best=$ms
        (( ${out#* } > rss )) && rss=${out#* }
    done
    echo "$best $rss"
}
row() {  # name, then "--" separated: our command, halog args
    local name=$1; shift
    local ours=() theirs=()
    while [ "$1" != "--" ]; do ours+=("$1"); shift; done; shift
    theirs=("$@")
    read -r t1 r1 < <(measure "${ours[@]}")
    read -r t2 r2 < <(measure sh -c "\"$halog\" ${theirs[*]} < \"$log\"")
    printf '| %-44s | %6d ms | %7d KB | %6d ms | %6d KB | %5s |\n' "$name" "$t1" "$r1" "$t2" "$r2" \
        "$(python3 -c "print(f'{$t1 / $t2:.2f}')")"
}
size=$(stat -c %s "$log")
echo "$lines lines, $((size / 1000000)) MB, $(nproc) cores; best of 3 wall times, peak RSS"
echo
echo "| query (logquery / halog) | logquery | RSS | halog | RSS | ratio |"
echo "|---|---|---|---|---|---|"
row "servers / -srv" "$lq" servers "$log" -- -q -srv
row "servers --format json / -srv" "$lq" servers --format json "$log" -- -q -srv
row "halog -srv / -srv" sh -c "$lq halog -q -srv < $log" -- -q -srv
row "status / -st" "$lq" status "$log" -- -q -st
row "halog -st / -st" sh -c "$lq halog -q -st < $log" -- -q -st
row "backends (p50/p90/p99) / -pct" "$lq" backends "$log" -- -q -pct
row "halog -pct / -pct" sh -c "$lq halog -q -pct < $log" -- -q -pct
row "urls / -u" "$lq" urls "$log" -- -q -u
row "halog -uc / -uc" sh -c "$lq halog -q -uc < $log" -- -q -uc
row "halog -e -c / -e -c" sh -c "$lq halog -q -e -c < $log" -- -q -e -c
row "status --errors (a report) / -e -c" "$lq" status --errors "$log" -- -q -e -c
row "halog -tcn SC -c / -tcn SC -c" sh -c "$lq halog -q -tcn SC -c < $log" -- -q -tcn SC -c
row "terminations / -tc" "$lq" terminations "$log" -- -q -tc
