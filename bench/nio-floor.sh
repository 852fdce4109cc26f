#!/usr/bin/env bash
# What SwiftNIO's channels cost per connection, beside HAProxy 2.6 and the proxy, in one run: new connection per
# request through TCP mode to two nginx backends (wrk -c50, `Connection: close`), ROUNDS alternating runs each.
# `nio-floor` (bench/nio-floor, a package of its own) is the barest NIO proxy: accept, connect, relay; no
# logging, timeouts or counters. HAProxy and the proxy log each session over UDP syslog (option tcplog).
# Prints conn/s and CPU per connection (user and system µs, from /proc) per round, then medians and ratios.
# Needs wrk, nginx, socat, haproxy. Usage: bench/nio-floor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}

. bench/proxy-common.sh
swift build -c release --package-path bench/nio-floor >/dev/null
floor=$PWD/bench/nio-floor/.build/release/nio-floor

# user and system clock ticks of every thread of PID.
cpu() { cat /proc/$1/task/*/stat | awk '{u += $14; s += $15} END {print u, s}'; }

echo "# NIO's floor beside HAProxy $(haproxy -v | head -1 | awk '{print $3}') and the proxy, TCP mode, connection per request, $(nproc) cores, $(date -u +%F)"
declare -A cps
for name in haproxy nio-floor proxy; do cps[$name]=""; done
for round in $(seq "$ROUNDS"); do
    for name in haproxy nio-floor proxy; do
        port=$(free_port)
        if [ $name = nio-floor ]; then
            "$floor" "$port" "$n1" "$n2" & pid=$!
        else
            tcp_config "$port" "$n1" "$n2" 5000 > "$work/$name.cfg"
            start $name "$work/$name.cfg"; pid=$started
        fi
        wait_port "$port"
        before=$(cpu $pid)
        out=$(wrk -t1 -c50 -d${SECONDS_PER_RUN}s -H "Connection: close" "http://127.0.0.1:$port/")
        after=$(cpu $pid)
        kill $pid; wait $pid 2>/dev/null || true
        rate=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
        count=$(awk '/requests in/ {print $1}' <<<"$out")
        # /proc counts in clock ticks (100 per second).
        echo "round $round $name: $rate conn/s, $(awk -v b="$before" -v a="$after" -v n="$count" 'BEGIN {
            split(b, x, " "); split(a, y, " ")
            printf "%.0f µs CPU per connection (user %.0f, system %.0f)", (y[1] + y[2] - x[1] - x[2]) * 10000 / n,
                (y[1] - x[1]) * 10000 / n, (y[2] - x[2]) * 10000 / n }')"
        cps[$name]+="$rate "
    done
done
h=$(tr ' ' '\n' <<<"${cps[haproxy]}" | grep . | median)
f=$(tr ' ' '\n' <<<"${cps[nio-floor]}" | grep . | median)
p=$(tr ' ' '\n' <<<"${cps[proxy]}" | grep . | median)
echo "conn/s median: haproxy $h, nio-floor $f ($(awk "BEGIN {printf \"%.2f\", $f/$h}")), proxy $p ($(awk "BEGIN {printf \"%.2f\", $p/$h}"))"
