#!/usr/bin/env bash
# syslog-sink beside rsyslogd 8 (Debian) with the same configuration, in one run.
#   UDP: COUNT numbered messages offered at 100k/s, 200k/s and as fast as one sender can; loss from the files;
#        RUNS runs each, alternating which receiver goes first; medians reported.
#   TCP: TCP_COUNT octet-counted messages over 1 and over 8 connections: msg/s until all are in the file.
#   Peak RSS (VmHWM) of each after the TCP bursts.
#   UDP, mixed sizes: COUNT datagrams of 64 to 4,000 bytes at 100k/s: lost and cut (each body says its length).
# Usage: bench/sink-vs-rsyslog.sh [COUNT=500000] [TCP_COUNT=1000000] [RUNS=3]
#        PARTS="udp mixed tcp" (the default) chooses the parts to run.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-500000}
tcp_count=${2:-1000000}
runs=${3:-3}
parts=" ${PARTS:-udp mixed tcp} "
. bench/common.sh
config() {  # udp-port tcp-port output-file
    cat <<EOC
global(workDirectory="$work")
\$ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="$1")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="$2")
*.* $3
EOC
}
start() {  # name -> sets UDP_PORT TCP_PORT OUT PID
    local name=$1
    UDP_PORT=$(free_port); TCP_PORT=$(free_port); OUT=$work/$name.log
    rm -f "$OUT"
    config "$UDP_PORT" "$TCP_PORT" "$OUT" > "$work/$name.conf"
    launch "$name"
    sleep 0.3
}
stop() { local pid; pid=$(cat "$work/$1.pid" 2>/dev/null || true); [ -n "$pid" ] && kill "$pid" 2>/dev/null; for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done; rm -f "$work/$1.pid"; }
settle() {  # file expected -> prints the line count once it stops growing (or reaches expected)
    local last=-1 n=0 same=0
    while true; do
        n=$( [ -f "$1" ] && wc -l < "$1" || echo 0 )
        [ "$n" -ge "$2" ] && break
        if [ "$n" -eq "$last" ]; then same=$((same + 1)); [ $same -ge 10 ] && break; else same=0; fi
        last=$n; sleep 0.1
    done
    echo "$n"
}

if [[ $parts == *" udp "* ]]; then
echo "UDP: $count messages per run, $runs runs per rate, loss in percent (median, and each run)"
printf '| rate | rsyslog lost %% | syslog-sink lost %% |\n|---|---|---|\n'
for rate in 100000 200000 0; do
    rs=(); sk=()
    for run in $(seq "$runs"); do
        order="rsyslog sink"; [ $((run % 2)) -eq 0 ] && order="sink rsyslog"
        for who in $order; do
            start "$who"
            "$load" udp "$UDP_PORT" "$count" "$rate" > "$work/load.out"
            got=$(settle "$OUT" "$count")
            stop "$who"
            lost=$(python3 -c "print(round(100 * ($count - $got) / $count, 3))")
            if [ "$who" = rsyslog ]; then rs+=("$lost"); else sk+=("$lost"); fi
        done
    done
    label=$rate; [ "$rate" = 0 ] && label="max ($(awk '{print $(NF-1)}' "$work/load.out") msg/s last run)"
    printf '| %s | %s (%s) | %s (%s) |\n' "$label" "$(printf '%s\n' "${rs[@]}" | median)" "${rs[*]}" \
        "$(printf '%s\n' "${sk[@]}" | median)" "${sk[*]}"
done

fi

if [[ $parts == *" mixed "* ]]; then
echo
echo "UDP, mixed sizes (64 to 4,000 bytes): $count messages at 100k/s; lost, and cut (a body shorter than it says)"
printf '| receiver | lost | cut |\n|---|---|---|\n'
for who in rsyslog sink; do
    start "$who"
    "$load" udp-mixed "$UDP_PORT" "$count" 100000 > "$work/load.out"
    got=$(settle "$OUT" "$count")
    stop "$who"
    cut=$(python3 - "$OUT" <<'EOP'
import re, sys
cut = 0
for line in open(sys.argv[1], "rb"):
    m = re.search(rb"\]: (msgnum:\d{8}:len:(\d{4}):[a-z]*)$", line.rstrip(b"\n"))
    if m is None or len(m.group(1)) != int(m.group(2)):
        cut += 1
print(cut)
EOP
)
    printf '| %s | %s | %s |\n' "$who" "$((count - got))" "$cut"
done

fi

if [[ $parts == *" tcp "* ]]; then
echo
echo "TCP: $tcp_count octet-counted messages; msg/s until all are in the file; peak RSS"
printf '| connections | rsyslog msg/s | syslog-sink msg/s | rsyslog RSS | syslog-sink RSS |\n|---|---|---|---|---|\n'
for conns in 1 8; do
    declare -A rate_of rss_of
    for who in rsyslog sink; do
        start "$who"
        pid=$(cat "$work/$who.pid")
        t0=$(date +%s.%N)
        "$load" tcp "$TCP_PORT" "$tcp_count" "$conns" > /dev/null
        got=$(settle "$OUT" "$tcp_count")
        t1=$(date +%s.%N)
        rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
        stop "$who"
        rate_of[$who]=$(python3 -c "print(int($got / ($t1 - $t0)))")
        rss_of[$who]="$((rss / 1024)) MB"
        [ "$got" -eq "$tcp_count" ] || rate_of[$who]="${rate_of[$who]} ($((tcp_count - got)) lost)"
    done
    printf '| %s | %s | %s | %s | %s |\n' "$conns" "${rate_of[rsyslog]}" "${rate_of[sink]}" "${rss_of[rsyslog]}" "${rss_of[sink]}"
done
fi
