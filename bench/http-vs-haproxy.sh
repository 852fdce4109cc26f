#!/usr/bin/env bash
# proxy beside HAProxy 2.6 (Debian), same configuration, same run, HTTP mode (layer 7), two nginx backends:
#  1. keep-alive: wrk -c50 through each proxy (req/s and p99; ROUNDS runs each, alternating, median reported);
#  2. `Connection: close`: the same with a new client connection per request (req/s).
# Every request is logged (option httplog) over UDP syslog to a receiver that discards.
# Needs wrk, nginx, socat, haproxy (apt install wrk nginx-light socat haproxy). Usage: bench/http-vs-haproxy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
THREADS=${THREADS:-1}

. bench/proxy-common.sh

echo "# proxy vs HAProxy $(haproxy -v | head -1 | awk '{print $3}'), HTTP mode, nbthread $THREADS, $(nproc) cores, $(date -u +%F)"
for kind in keepalive close; do
    declare -A rps=() p99=()
    for name in haproxy proxy; do rps[$name]=""; p99[$name]=""; done
    header=()
    [ $kind = close ] && header=(-H "Connection: close")
    for round in $(seq "$ROUNDS"); do
        for name in haproxy proxy; do
            port=$(free_port)
            http_config "$port" > "$work/$name.cfg"
            start $name "$work/$name.cfg"; pid=$started
            wait_port "$port"
            out=$(wrk -t1 -c50 -d${SECONDS_PER_RUN}s --latency "${header[@]}" "http://127.0.0.1:$port/")
            kill $pid; wait $pid 2>/dev/null || true
            r=$(awk '/Requests\/sec/ {print $2}' <<<"$out"); l=$(p99_of <<<"$out")
            errs=$(awk '/Socket errors|Non-2xx/ {print}' <<<"$out" | tr '\n' ' ')
            echo "$kind round $round $name: $r req/s, p99 $l ms ${errs}"
            rps[$name]+="$r "; p99[$name]+="$l "
        done
    done
    hr=$(tr ' ' '\n' <<<"${rps[haproxy]}" | grep . | median); pr=$(tr ' ' '\n' <<<"${rps[proxy]}" | grep . | median)
    hl=$(tr ' ' '\n' <<<"${p99[haproxy]}" | grep . | median); pl=$(tr ' ' '\n' <<<"${p99[proxy]}" | grep . | median)
    echo "$kind req/s median: haproxy $hr, proxy $pr, ratio $(awk "BEGIN {printf \"%.2f\", $pr/$hr}") (floor 1.0)"
    echo "$kind p99 median: haproxy $hl ms, proxy $pl ms, ratio $(awk "BEGIN {printf \"%.2f\", $pl/$hl}")$([ $kind = keepalive ] && echo ' (ceiling 1.25)')"
done
