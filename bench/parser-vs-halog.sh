#!/usr/bin/env bash
# The HAProxyLog parser beside HAProxy's halog on the same file, one core each, file in the page cache.
# parse-file parses every field of every line and counts HTTP statuses; `halog -H -st` counts the same
# (it reads only the fields it needs). Both outputs must be identical; times are the best of 3.
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-3000000}
log=${TMPDIR:-/tmp}/tollgate-bench-haproxy.log
halog=$(command -v halog || echo /usr/sbin/halog)
[ -s "$log" ] && [ "$(wc -l < "$log")" -eq "$lines" ] || python3 bench/make-log.py "$lines" "$log"
swift build -c release --package-path Benchmarks --product parse-file >/dev/null
parse=Benchmarks/.build/release/parse-file
cat "$log" > /dev/null
best() { local best=999999; for _ in 1 2 3; do
    local s e; s=$(date +%s%N); "$@" > /tmp/tollgate-bench.out 2>/dev/null; e=$(date +%s%N)
    local ms=$(( (e - s) / 1000000 )); (( ms < best )) && best=$ms; done; echo "$best"; }
t_ours=$(best "$parse" "$log"); cp /tmp/tollgate-bench.out /tmp/tollgate-ours.out
t_halog=$(best sh -c "\"$halog\" -q -H -st < \"$log\""); cp /tmp/tollgate-bench.out /tmp/tollgate-halog.out
if cmp -s /tmp/tollgate-ours.out /tmp/tollgate-halog.out; then same=identical; else same=DIFFERENT; fi
size=$(stat -c %s "$log")
printf '%-34s %8s %10s %12s\n' "file: $lines lines, $((size / 1000000)) MB" "ms" "MB/s" "lines/s"
printf '%-34s %8d %10d %12d\n' "parse-file (all fields)" "$t_ours" $((size / 1000 / t_ours)) $((lines * 1000 / t_ours))
printf '%-34s %8d %10d %12d\n' "halog -H -st (status field)" "$t_halog" $((size / 1000 / t_halog)) $((lines * 1000 / t_halog))
echo "status counts: $same; time ratio halog/ours = $(python3 -c "print(round($t_halog / $t_ours, 2))")"
