#!/usr/bin/env bash
# Abuse protection beside HAProxy 2.6 (issue 24's benchmarks), on the same configuration: a stick table keyed on a
# client header, `http-request track-sc0 req.hdr(x-client)`, `deny deny_status 429 if { sc_http_req_rate(0) gt 100 }`
# over 10 s, httplog over UDP, two nginx backends.
#  1. 49 well-behaved connections (wrk -c49; each request another client among 100,000, so none nears the limit)
#     alone, then with one flooding connection beside them (a second wrk, one client): the flood's 200s (held to
#     the limit: ~100 per 10 s), the others' p99 with the flood against without it (floor: within 1.25x), the
#     total req/s against HAProxy's under the same flood (floor: 1.0x).
#  2. Memory per tracked source: a table filled to ENTRIES clients (default 1,000,000, each request a new one),
#     the process's RSS growth divided by the entries `show table` counts, HAProxy beside (floor: <= HAProxy's).
# Needs wrk, nginx, socat, haproxy. Usage: bench/abuse-vs-haproxy.sh   (ROUNDS, SECONDS_PER_RUN, ENTRIES, THREADS,
# PROXY)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
ENTRIES=${ENTRIES:-1000000}
THREADS=${THREADS:-1}

. bench/proxy-common.sh

abuse_config() { # abuse_config PORT SOCKET: the HTTP benchmarks' configuration, with a stats socket and the limit
    http_config "$1" | awk -v sock="$2" '
        { print }
        /^    nbthread/ { print "    stats socket " sock " level admin" }
        /^    bind 127/ {
            print "    stick-table type string len 32 size 2m expire 10m store http_req_rate(10s)"
            print "    http-request track-sc0 req.hdr(x-client)"
            print "    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 100 }"
        }'
}

# Each request another of 100,000 clients (the well-behaved ones), or each a new one (filling the table).
cat > "$work/many.lua" <<'LUA'
local n = 0
local modulo = tonumber(os.getenv("CLIENTS") or "100000")
local run = os.getenv("RUN") or "0"
request = function()
    n = n + 1
    local id = modulo > 0 and (n % modulo) or n
    return wrk.format(nil, nil, { ["X-Client"] = "c" .. run .. "-" .. id })
end
LUA
# The flood's answers by status.
cat > "$work/flood.lua" <<'LUA'
wrk.headers["X-Client"] = "flood"
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function() ok = 0 end
response = function(status) if status == 200 then ok = ok + 1 end end
done = function()
    local total = 0
    for _, thread in ipairs(threads) do total = total + thread:get("ok") end
    io.write("flood-200 ", total, "\n")
end
LUA

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

echo "# proxy vs HAProxy $(haproxy -v | head -1 | awk '{print $3}'), rate limit per client (stick table), nbthread $THREADS, $(nproc) cores, $(date -u +%F)"
declare -A calm=() calmp99=() total=() floodp99=() flood200=()
for round in $(seq "$ROUNDS"); do
    for name in haproxy proxy; do
        port=$(free_port)
        abuse_config "$port" "$work/$name.sock" > "$work/$name.cfg"
        start $name "$work/$name.cfg"; pid=$started
        wait_port "$port"
        status=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Client: probe' "http://127.0.0.1:$port/")
        [ "$status" = 200 ] || { echo "$name answered $status, not 200" >&2; exit 1; }
        alone=$(CLIENTS=100000 wrk -t1 -c49 -d${SECONDS_PER_RUN}s --latency -s "$work/many.lua" "http://127.0.0.1:$port/")
        wrk -t1 -c1 -d${SECONDS_PER_RUN}s -s "$work/flood.lua" "http://127.0.0.1:$port/" > "$work/flood.out" &
        flooder=$!
        beside=$(CLIENTS=100000 wrk -t1 -c49 -d${SECONDS_PER_RUN}s --latency -s "$work/many.lua" "http://127.0.0.1:$port/")
        wait $flooder
        kill $pid; wait $pid 2>/dev/null || true
        a=$(awk '/Requests\/sec/ {print $2}' <<<"$alone"); al=$(p99_of <<<"$alone")
        b=$(awk '/Requests\/sec/ {print $2}' <<<"$beside"); bl=$(p99_of <<<"$beside")
        f=$(awk '/Requests\/sec/ {print $2}' "$work/flood.out"); f200=$(awk '/flood-200/ {print $2}' "$work/flood.out")
        t=$(awk "BEGIN {print $b + $f}")
        echo "round $round $name: alone $a req/s p99 $al ms; with the flood $b req/s p99 $bl ms, flood $f req/s ($f200 answered 200), total $t req/s"
        calm[$name]+="$a "; calmp99[$name]+="$al "; total[$name]+="$t "; floodp99[$name]+="$bl "; flood200[$name]+="$f200 "
    done
done
med() { tr ' ' '\n' <<<"$1" | grep . | median; }
for name in haproxy proxy; do
    echo "$name medians: p99 alone $(med "${calmp99[$name]}") ms, with the flood $(med "${floodp99[$name]}") ms (ratio $(awk "BEGIN {printf \"%.2f\", $(med "${floodp99[$name]}")/$(med "${calmp99[$name]}")}"), floor 1.25); flood 200s $(med "${flood200[$name]}") in ${SECONDS_PER_RUN} s"
done
echo "total req/s under the flood, median: haproxy $(med "${total[haproxy]}"), proxy $(med "${total[proxy]}"), ratio $(awk "BEGIN {printf \"%.2f\", $(med "${total[proxy]}")/$(med "${total[haproxy]}")}") (floor 1.0)"

# Memory per tracked source.
declare -A perentry=()
for name in haproxy proxy; do
    port=$(free_port)
    abuse_config "$port" "$work/$name.sock" > "$work/$name.cfg"
    start $name "$work/$name.cfg"; pid=$started
    wait_port "$port"
    curl -s -o /dev/null -H 'X-Client: probe' "http://127.0.0.1:$port/"
    before=$(rss_kb $pid)
    used=0; run=0
    while [ "$used" -lt "$ENTRIES" ]; do
        run=$((run + 1))
        RUN=$run CLIENTS=0 wrk -t1 -c20 -d5s -s "$work/many.lua" "http://127.0.0.1:$port/" > /dev/null
        used=$(echo "show table" | socat - "UNIX-CONNECT:$work/$name.sock" | awk -F'used:' '/# table: web,/ {print $2+0}')
        [ "$used" -gt 0 ] || break
    done
    after=$(rss_kb $pid)
    kill $pid; wait $pid 2>/dev/null || true
    perentry[$name]=$(awk "BEGIN {printf \"%.0f\", ($after - $before) * 1024 / $used}")
    echo "$name: $used entries, RSS $before kB -> $after kB, $(awk "BEGIN {printf \"%.0f\", ($after - $before)/1024}") MB, ${perentry[$name]} bytes per entry"
done
echo "memory per tracked source: haproxy ${perentry[haproxy]} B, proxy ${perentry[proxy]} B, ratio $(awk "BEGIN {printf \"%.2f\", ${perentry[proxy]}/${perentry[haproxy]}}") (floor <= 1.0)"
