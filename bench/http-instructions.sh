#!/usr/bin/env bash
# Instructions per keep-alive HTTP request, the proxy beside HAProxy 2.6 on the same configuration (HTTP mode,
# httplog to a UDP receiver that discards, nbthread 1, two nginx backends): each runs under callgrind, counting
# only while wrk -c10 sends requests for SECONDS_PER_RUN, and the count is divided by the requests wrk made. Unlike
# req/s this hardly moves with the machine's load, so it shows what a change to the request path saves.
# Needs valgrind besides the tools of bench/http-vs-haproxy.sh (apt install valgrind). Usage: bench/http-instructions.sh
# (RULES=1: with bench/rules-vs-haproxy.sh's rules)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
command -v valgrind >/dev/null || { echo "missing: valgrind (apt install valgrind)" >&2; exit 1; }

. bench/proxy-common.sh

port=$(free_port)
if [ "${RULES:-0}" = 1 ]; then
    # The rules configuration of bench/rules-vs-haproxy.sh instead of the bare one.
    . bench/rules-config.sh
    THREADS=1 rules_config "$port" > "$work/p.cfg"
else
    THREADS=1 http_config "$port" > "$work/p.cfg"
fi
# Valgrind 3.19 cannot read the DWARF 5 that Swift writes: the proxy runs from a copy without debug sections
# (its symbols stay).
cp "$proxy" "$work/proxy" && strip --strip-debug "$work/proxy"

echo "# instructions per keep-alive request, HTTP mode, nbthread 1, $(date -u +%F)"
declare -A per=()
for name in haproxy proxy; do
    if [ $name = haproxy ]; then command=(haproxy -db -f "$work/p.cfg"); else command=("$work/proxy" -q -f "$work/p.cfg"); fi
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/$name.cg" "${command[@]}" \
        2>>"$work/$name.err" &
    pid=$!; pids+=($pid)
    wait_port "$port"
    # Warm: the server connections are made and the code paths taken before counting starts.
    wrk -t1 -c10 -d2s "http://127.0.0.1:$port/" >/dev/null
    callgrind_control -i on $pid >/dev/null 2>&1
    out=$(wrk -t1 -c10 -d${SECONDS_PER_RUN}s "http://127.0.0.1:$port/")
    callgrind_control -i off $pid >/dev/null 2>&1
    kill $pid; wait $pid 2>/dev/null || true
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    total=$(callgrind_annotate "$work/$name.cg" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    per[$name]=$((total / requests))
    echo "$name: $requests requests, $total instructions, ${per[$name]} per request"
done
echo "ratio proxy/haproxy: $(awk "BEGIN {printf \"%.2f\", ${per[proxy]}/${per[haproxy]}}") (lower is better)"
