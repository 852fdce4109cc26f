#!/usr/bin/env bash
# proxy beside HAProxy 2.6 (Debian) in HTTP mode with the rules real configurations carry: 20 ACL tests in
# http-request rules and use_backend, a 10,000-network `src -f` blocklist, request and response header rewrites,
# a redirect and an errorfile that the measured requests do not hit. wrk -c50 keep-alive through each, alternating
# rounds, medians, and the ratio (issue 21's floor: ≥ 1.0). Every request is logged (option httplog) over UDP.
# Needs wrk, nginx, socat, haproxy. Usage: bench/rules-vs-haproxy.sh   (ROUNDS, SECONDS_PER_RUN, THREADS, PROXY)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
THREADS=${THREADS:-1}

. bench/proxy-common.sh

. bench/rules-config.sh

echo "# proxy vs HAProxy $(haproxy -v | head -1 | awk '{print $3}'), HTTP rules (20 ACL tests, 10,000-network blocklist, rewrites), nbthread $THREADS, $(nproc) cores, $(date -u +%F)"
declare -A rps=() p99=()
for name in haproxy proxy; do rps[$name]=""; p99[$name]=""; done
for round in $(seq "$ROUNDS"); do
    for name in haproxy proxy; do
        port=$(free_port)
        rules_config "$port" > "$work/$name.cfg"
        start $name "$work/$name.cfg"; pid=$started
        wait_port "$port"
        # The answer must be nginx's, through every rule (a 403 here would measure the wrong path).
        status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")
        [ "$status" = 200 ] || { echo "$name answered $status, not 200: check the configuration" >&2; exit 1; }
        out=$(wrk -t1 -c50 -d${SECONDS_PER_RUN}s --latency "http://127.0.0.1:$port/")
        kill $pid; wait $pid 2>/dev/null || true
        r=$(awk '/Requests\/sec/ {print $2}' <<<"$out"); l=$(p99_of <<<"$out")
        echo "round $round $name: $r req/s, p99 $l ms"
        rps[$name]+="$r "; p99[$name]+="$l "
    done
done
hr=$(tr ' ' '\n' <<<"${rps[haproxy]}" | grep . | median); pr=$(tr ' ' '\n' <<<"${rps[proxy]}" | grep . | median)
hl=$(tr ' ' '\n' <<<"${p99[haproxy]}" | grep . | median); pl=$(tr ' ' '\n' <<<"${p99[proxy]}" | grep . | median)
echo "keepalive req/s median: haproxy $hr, proxy $pr, ratio $(awk "BEGIN {printf \"%.2f\", $pr/$hr}") (floor 1.0)"
echo "keepalive p99 median: haproxy $hl ms, proxy $pl ms, ratio $(awk "BEGIN {printf \"%.2f\", $pl/$hl}")"
