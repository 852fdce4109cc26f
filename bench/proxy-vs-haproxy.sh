#!/usr/bin/env bash
# proxy beside HAProxy 2.6 (Debian), same configuration, same run, TCP mode (layer 4):
#  1. new connection per request: wrk -c50 with `Connection: close` through each proxy to two nginx backends
#     (conn/s and p99 latency; ROUNDS runs each, alternating, median reported);
#  2. bulk: BULK_MB megabytes through one connection (socat → proxy → socat), best of 3;
#  3. memory: IDLE idle client connections held open through each proxy, RSS growth per connection.
# Every session is logged (option tcplog) over UDP syslog to a receiver that discards.
# Needs wrk, nginx, socat, haproxy (apt install wrk nginx-light socat haproxy). Usage: bench/proxy-vs-haproxy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
BULK_MB=${BULK_MB:-2048}
IDLE=${IDLE:-10000}
THREADS=${THREADS:-1}

. bench/proxy-common.sh
# Each idle client connection takes two descriptors in the proxy: IDLE is cut to what the hard limit allows.
ulimit -n "$(ulimit -Hn)"
max_idle=$(( ($(ulimit -n) - 1000) / 2 ))
[ "$IDLE" -gt "$max_idle" ] && IDLE=$max_idle
bulkport=$(free_port)

config() { tcp_config "$1" "$2" "$3" $((max_idle + 100)); } # config PORT BACKEND_PORT_1 BACKEND_PORT_2
rss_kb() { awk '/^VmRSS/ {print $2}' /proc/$1/status; }

echo "# proxy vs HAProxy $(haproxy -v | head -1 | awk '{print $3}'), TCP mode, nbthread $THREADS, $(nproc) cores, $(date -u +%F)"

# 1. Connection per request.
declare -A cps p99
for name in haproxy proxy; do cps[$name]=""; p99[$name]=""; done
for round in $(seq "$ROUNDS"); do
    for name in haproxy proxy; do
        port=$(free_port)
        config "$port" "$n1" "$n2" > "$work/$name.cfg"
        start $name "$work/$name.cfg"; pid=$started
        wait_port "$port"
        out=$(wrk -t1 -c50 -d${SECONDS_PER_RUN}s --latency -H "Connection: close" "http://127.0.0.1:$port/")
        kill $pid; wait $pid 2>/dev/null || true
        rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
        lat=$(p99_of <<<"$out")
        errs=$(awk '/Socket errors|Non-2xx/ {print}' <<<"$out" | tr '\n' ' ')
        echo "round $round $name: $rps conn/s, p99 $lat ms ${errs}"
        cps[$name]+="$rps "; p99[$name]+="$lat "
    done
done
hc=$(tr ' ' '\n' <<<"${cps[haproxy]}" | grep . | median); pc=$(tr ' ' '\n' <<<"${cps[proxy]}" | grep . | median)
hl=$(tr ' ' '\n' <<<"${p99[haproxy]}" | grep . | median); pl=$(tr ' ' '\n' <<<"${p99[proxy]}" | grep . | median)
echo "conn/s median: haproxy $hc, proxy $pc, ratio $(awk "BEGIN {printf \"%.2f\", $pc/$hc}") (floor 1.0)"
echo "p99 median: haproxy $hl ms, proxy $pl ms, ratio $(awk "BEGIN {printf \"%.2f\", $pl/$hl}") (ceiling 1.25)"

# 2. Bulk through one connection.
for name in haproxy proxy; do
    best=0
    for _ in 1 2 3; do
        port=$(free_port)
        config "$port" "$bulkport" "$bulkport" > "$work/$name.cfg"
        socat -u -b 262144 TCP-LISTEN:$bulkport,bind=127.0.0.1,reuseaddr /dev/null & sink=$!
        start $name "$work/$name.cfg"; pid=$started
        wait_port "$port"; sleep 0.2
        t0=$(date +%s.%N)
        head -c ${BULK_MB}M /dev/zero | socat -u -b 262144 - TCP:127.0.0.1:$port
        wait $sink 2>/dev/null || true
        t1=$(date +%s.%N)
        kill $pid; wait $pid 2>/dev/null || true
        mbs=$(awk "BEGIN {printf \"%.0f\", $BULK_MB/($t1-$t0)}")
        [ "$mbs" -gt "$best" ] && best=$mbs
    done
    echo "bulk $name: $best MB/s (best of 3, $BULK_MB MB)"
    eval "bulk_$name=$best"
done
echo "bulk ratio: $(awk "BEGIN {printf \"%.2f\", $bulk_proxy/$bulk_haproxy}") (floor 1.0)"

# 3. Idle connections: RSS growth per connection.
cat > "$work/hold.py" <<'EOF'
import socket, sys, time
port, count, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
held = []
for _ in range(count):
    s = socket.socket()
    s.connect(("127.0.0.1", port))
    held.append(s)
open(ready, "w").write("ok")
time.sleep(600)
EOF
for name in haproxy proxy; do
    port=$(free_port)
    config "$port" "$n1" "$n2" > "$work/$name.cfg"
    start $name "$work/$name.cfg"; pid=$started
    wait_port "$port"
    # One session through first: what is allocated once belongs to the baseline.
    curl -s -o /dev/null -H "Connection: close" "http://127.0.0.1:$port/" || true
    sleep 0.5
    before=$(rss_kb $pid)
    rm -f "$work/ready"
    python3 "$work/hold.py" "$port" "$IDLE" "$work/ready" & holder=$!
    for _ in $(seq 600); do [ -f "$work/ready" ] && break; sleep 0.1; done
    # Until every held connection reached its server (two sockets each).
    for _ in $(seq 100); do
        [ "$(ls /proc/$pid/fd | wc -l)" -ge $((IDLE * 2)) ] && break; sleep 0.1
    done
    sleep 1
    after=$(rss_kb $pid)
    per=$(awk "BEGIN {printf \"%.1f\", ($after-$before)/$IDLE}")
    echo "idle $name: RSS $before KB → $after KB with $IDLE idle connections: $per KB per connection"
    eval "idle_$name=$per"
    kill $holder; wait $holder 2>/dev/null || true
    kill $pid; wait $pid 2>/dev/null || true
done
echo "idle KB per connection: haproxy $idle_haproxy, proxy $idle_proxy (ceiling 32)"
