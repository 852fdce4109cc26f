#!/usr/bin/env bash
# proxy beside HAProxy 2.6 (Debian) in HTTP mode with a custom log line: a JSON `log-format` of 20 items (addresses,
# dates, timers, counters, a capture, two samples) and a `unique-id-format` sent to the server in a header, every
# request logged over UDP. wrk -c50 keep-alive through each, alternating rounds, medians, and the ratio beside the
# same run with `option httplog` (what the custom format costs each). Needs wrk, nginx, socat, haproxy.
# Usage: bench/logformat-vs-haproxy.sh   (ROUNDS, SECONDS_PER_RUN, THREADS, PROXY)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
THREADS=${THREADS:-1}

. bench/proxy-common.sh

format_config() { # format_config PORT custom|httplog
    local logline="option httplog"
    if [ "$2" = custom ]; then
        logline='log-format '"'"'{"client":"%ci:%cp","accept":"%t","request_date":"%tr","frontend":"%ft","backend":"%b","server":"%s","timers":"%TR/%Tw/%Tc/%Tr/%Ta","status":%ST,"bytes_out":%B,"bytes_in":%U,"state":"%tsc","conns":"%ac/%fc/%bc/%sc/%rc","queues":"%sq/%bq","host":"%[capture.req.hdr(0)]","method":"%HM","uri":"%{+E}HU","id":"%ID","src":"%[src]","fe":"%[fe_name,upper]","rt":%rt}'"'"'
    unique-id-format %{+X}o\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid
    unique-id-header X-Request-ID'
    fi
    cat <<CFG
global
    log 127.0.0.1:$logport local0 info
    maxconn 5000
    nbthread $THREADS
defaults
    log global
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
frontend web
    bind 127.0.0.1:$1 backlog 4096
    capture request header Host len 32
    $logline
    default_backend app
backend app
    server n1 127.0.0.1:$n1
    server n2 127.0.0.1:$n2
CFG
}

echo "# proxy vs HAProxy $(haproxy -v | head -1 | awk '{print $3}'), HTTP keep-alive, JSON log-format + unique-id beside option httplog, nbthread $THREADS, $(nproc) cores, $(date -u +%F)"
declare -A rps=()
for round in $(seq "$ROUNDS"); do
    for variant in httplog custom; do
        for name in haproxy proxy; do
            port=$(free_port)
            format_config "$port" $variant > "$work/$name-$variant.cfg"
            start $name "$work/$name-$variant.cfg"; pid=$started
            wait_port "$port"
            out=$(wrk -t1 -c50 -d${SECONDS_PER_RUN}s --latency "http://127.0.0.1:$port/")
            kill $pid; wait $pid 2>/dev/null || true
            r=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
            echo "round $round $variant $name: $r req/s"
            rps[$name-$variant]+="$r "
        done
    done
done
for variant in httplog custom; do
    h=$(tr ' ' '\n' <<<"${rps[haproxy-$variant]}" | grep . | median); p=$(tr ' ' '\n' <<<"${rps[proxy-$variant]}" | grep . | median)
    echo "$variant keepalive req/s median: haproxy $h, proxy $p, ratio $(awk "BEGIN {printf \"%.2f\", $p/$h}")"
done
