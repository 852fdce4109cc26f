#!/usr/bin/env bash
# What a `stats socket` costs the TCP path (Debian's stock haproxy.cfg has one): with it, every frontend and the
# process keep a limit the runtime API can set, and every session is listed (for `show sess`, `shutdown session`
# and `shutdown sessions server`). The proxy without and with the socket, and HAProxy 2.6 with it, same run: wrk -c50 with
# `Connection: close` (a new connection per request) through each to two nginx backends, ROUNDS runs each,
# alternating, median conn/s. Usage: bench/stats-socket-overhead.sh (THREADS=2 for nbthread 2)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-8}
THREADS=${THREADS:-2}
. bench/proxy-common.sh
with_socket() { sed "s#^global#global\n    stats socket $work/$1.sock level admin expose-fd listeners#"; }
config() { # config NAME PORT (no maxconn in global, as Debian's)
    tcp_config "$2" "$n1" "$n2" 0 | grep -v "^    maxconn" | { case $1 in proxy) cat ;; *) with_socket "$1" ;; esac; }
}
echo "# stats socket overhead, TCP mode, nbthread $THREADS, $(nproc) cores, $(date -u +%F)"
declare -A cps
names="proxy proxy-socket haproxy-socket"
for name in $names; do cps[$name]=""; done
for round in $(seq "$ROUNDS"); do
    for name in $names; do
        port=$(free_port)
        config "$name" "$port" > "$work/$name.cfg"
        start "${name%%-*}" "$work/$name.cfg"; pid=$started
        wait_port "$port"
        out=$(wrk -t1 -c50 -d${SECONDS_PER_RUN}s -H "Connection: close" "http://127.0.0.1:$port/")
        kill $pid; wait $pid 2>/dev/null || true
        cps[$name]+="$(awk '/Requests\/sec/ {print $2}' <<<"$out") "
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
p=$(median <<<"${cps[proxy]}"); s=$(median <<<"${cps[proxy-socket]}"); h=$(median <<<"${cps[haproxy-socket]}")
echo "| proxy, no stats socket | $p conn/s |"
echo "| proxy, stats socket | $s conn/s | $(awk -v a="$s" -v b="$p" 'BEGIN {printf "%.3f", a/b}') of without |"
echo "| HAProxy, stats socket | $h conn/s | proxy/HAProxy $(awk -v a="$s" -v b="$h" 'BEGIN {printf "%.2f", a/b}') |"
