#!/usr/bin/env bash
# HAProxy's peers protocol: the proxy beside HAProxy 2.6 (Debian), each in turn the measured peer of a test peer
# (Benchmarks' peers-load, written from doc/peers-v2.0.txt and not from the proxy's code). Per round and side:
#   ingest  - ENTRIES updates (ip keys, http_req_cnt and http_req_rate(10s)) pushed into the table; updates/s until
#             the last one is acknowledged;
#   teach   - a resync request; updates/s until the whole table (ENTRIES entries) has been sent and its end said;
#   latency - SAMPLES requests, one at a time, each tracking a new address: from the request's first byte until the
#             proxy's update for it reaches the peer (p50, p99, in ms).
# nbthread 1 on both. Medians over ROUNDS, and the ratios (proxy / HAProxy for rates, HAProxy / proxy for latency:
# above 1 the proxy is better).
# KEYS=scattered (default: the addresses in no order, as sources arrive) or sequential (10.0.0.0 and up, in order).
# Usage: bench/peers-vs-haproxy.sh   (ROUNDS, ENTRIES, SAMPLES, KEYS, PROXY)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
ENTRIES=${ENTRIES:-1000000}
SAMPLES=${SAMPLES:-2000}
KEYS=${KEYS:-scattered}
command -v haproxy >/dev/null || { echo "missing: haproxy (apt install haproxy)" >&2; exit 1; }
. bench/helpers.sh
if [ -n "${PROXY:-}" ]; then
    proxy=$(realpath "$PROXY")
else
    swift build -c release --product proxy >/dev/null
    proxy=$PWD/.build/release/proxy
fi
swift build -c release --package-path Benchmarks --product peers-load >/dev/null
load=Benchmarks/.build/release/peers-load
work=$(mktemp -d /tmp/tollgate-peers-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
wait_port() {
    for _ in $(seq 200); do [ -n "$(ss -Hltn "sport = :$1")" ] && return 0; sleep 0.05; done
    echo "nothing listens on $1:" >&2; cat "$work"/*.err >&2; return 1
}

config() { # config PEER_PORT HTTP_PORT UNUSED_PORT
    cat <<CFG
global
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
peers mesh
    peer lb1 127.0.0.1:$1
    peer bench 127.0.0.1:$3
backend rates
    stick-table type ip size 4m expire 10m store http_req_cnt,http_req_rate(10s) peers mesh
frontend site
    bind 127.0.0.1:$2
    http-request track-sc0 req.hdr(x-client) table rates
    http-request return status 200 content-type text/plain string ok
CFG
}

declare -A results=()
for round in $(seq "$ROUNDS"); do
    for name in haproxy proxy; do
        pp=$(free_port); hp=$(free_port); up=$(free_port)
        config "$pp" "$hp" "$up" > "$work/$name.cfg"
        if [ $name = haproxy ]; then
            haproxy -db -L lb1 -f "$work/$name.cfg" 2>>"$work/$name.err" &
        else
            "$proxy" -q -L lb1 -f "$work/$name.cfg" 2>>"$work/$name.err" &
        fi
        pid=$!
        wait_port "$pp"; wait_port "$hp"
        out=$("$load" "$pp" "$hp" lb1 bench "$ENTRIES" "$SAMPLES" "$KEYS")
        rss=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
        kill $pid; wait $pid 2>/dev/null || true
        echo "round $round $name: $out peak-rss-kB $rss"
        read -r _ _ ingest _ taught teach _ p50 _ p99 <<<"$out"
        [ "$taught" -ge "$ENTRIES" ] || echo "  ($name taught only $taught entries)"
        results[$name-ingest]+="$ingest "; results[$name-teach]+="$teach "
        results[$name-p50]+="$p50 "; results[$name-p99]+="$p99 "; results[$name-rss]+="$rss "
    done
done
med() { tr ' ' '\n' <<<"${results[$1]}" | grep . | median; }
for what in ingest teach; do
    h=$(med haproxy-$what); p=$(med proxy-$what)
    echo "$what updates/s median: haproxy $h, proxy $p, ratio $(awk "BEGIN {printf \"%.2f\", $p/$h}") (floor 1.0)"
done
for what in p50 p99; do
    h=$(med haproxy-$what); p=$(med proxy-$what)
    echo "latency $what ms median: haproxy $h, proxy $p, ratio $(awk "BEGIN {printf \"%.2f\", $h/$p}")"
done
echo "peak RSS kB median: haproxy $(med haproxy-rss), proxy $(med proxy-rss)"
