#!/usr/bin/env bash
# `logquery sql` beside lnav (Debian's) on the same generated log, one-shot queries as a user runs them
# (`lnav -n -c ';SELECT …' FILE` against `logquery sql 'SELECT …' FILE`): five typical queries, wall time best of 3
# each, the answers compared (lnav's table and logquery's CSV, normalised), and the ratio. Floor (issue 28): 10x.
# lnav reads ~36 MB/s here, so the comparison runs on LINES (default 200,000, about 36 MB); logquery's time on
# the 3M-line file of bench/logquery-vs-halog.sh is printed beside.
# Usage: bench/sql-vs-lnav.sh [LINES]   (needs lnav: apt install lnav)
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-200000}
command -v lnav >/dev/null || { echo "missing: lnav (apt install lnav)" >&2; exit 1; }
big=${TMPDIR:-/tmp}/tollgate-bench-haproxy.log
[ -s "$big" ] && [ "$(wc -l < "$big")" -eq 3000000 ] || python3 bench/make-log.py 3000000 "$big"
log=${TMPDIR:-/tmp}/tollgate-bench-haproxy-$lines.log
head -n "$lines" "$big" > "$log"
swift build -c release --product logquery >/dev/null
lq=$PWD/.build/release/logquery
cat "$log" "$big" > /dev/null   # page cache

queries=(
    "SELECT backend_name, count(*) AS n FROM haproxy_log GROUP BY 1"
    "SELECT server_name, substr(log_time, 1, 16) AS minute, round(sum(status_code >= 500) * 100.0 / count(*), 2) AS err_pct FROM haproxy_log GROUP BY 1, 2"
    "SELECT http_url, count(*) AS n, max(tt) FILTER (WHERE pr <= 0.99) AS p99 FROM (SELECT http_url, tt, percent_rank() OVER (PARTITION BY http_url ORDER BY tt) AS pr FROM haproxy_log WHERE http_url IS NOT NULL) GROUP BY 1 HAVING n >= 100 ORDER BY p99 DESC, http_url"
    "SELECT client_ip, count(*) AS n FROM haproxy_log GROUP BY 1 ORDER BY n DESC, client_ip LIMIT 10"
    "SELECT count(*) AS n, round(avg(tt), 2) AS avg_tt FROM haproxy_log WHERE log_time >= '2026-11-26 00:01:00' AND log_time < '2026-11-26 00:02:00'"
)
names=("count by backend" "error rate by server per minute" "p99 by URL, HAVING" "top clients" "time range")

best() {  # best wall time in ms of 3 runs of the command, output discarded
    local b=999999999
    for _ in 1 2 3; do
        local t0 t1
        t0=$(date +%s%N); "$@" > /dev/null 2>&1; t1=$(date +%s%N)
        local ms=$(( (t1 - t0) / 1000000 ))
        (( ms < b )) && b=$ms
    done
    echo $b
}
normalise_lnav() { tail -n +2 | sed -e 's/<NULL>//g' -e 's/^ *//' -e 's/ *$//' -e 's/  */ /g'; }
normalise_ours() { tail -n +2 | tr ',' ' ' | sed -e 's/ *$//'; }

cd "$(dirname "$log")"
printf '%-34s %10s %10s %7s %8s %s\n' query "lnav ms" "ours ms" ratio "3M ms" answers
for i in "${!queries[@]}"; do
    q=${queries[$i]}
    theirs=$(best lnav -n -c ";$q" "$log")
    ours=$(best "$lq" sql "$q" "$log")
    big_ms=$(best "$lq" sql "$q" "$big")
    a=$(lnav -n -c ";$q" "$log" | normalise_lnav | tr -s ' ')
    b=$("$lq" sql --format csv "$q" "$log" | normalise_ours | tr -s ' ')
    same=$([ "$a" = "$b" ] && echo same || echo DIFFERENT)
    printf '%-34s %10s %10s %7s %8s %s\n' "${names[$i]}" "$theirs" "$ours" \
        "$(awk "BEGIN {printf \"%.1f\", $theirs/$ours}")" "$big_ms" "$same"
done
