#!/usr/bin/env bash
# Forwarding over one TCP connection to a real rsyslogd collector: syslog-sink as the relay beside rsyslogd as the
# relay, the same configuration text, same run, alternating rounds. MESSAGES octet-counted messages go into the
# relay over one connection; the time runs until the last one is in the collector's file. Both relays forward
# with omfwd (octet-counted) through a LinkedList queue. Usage: bench/forward-vs-rsyslog.sh [MESSAGES] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-500000}
rounds=${2:-3}
. bench/common.sh
collector_port=$(free_port)
central=$work/central.log
cat > "$work/rsyslog-collector.conf" <<CONF
global(workDirectory="$work")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="$collector_port")
template(name="bare" type="string" string="%msg%\n")
:msg, contains, "msgnum" action(type="omfile" file="$central" template="bare")
CONF
relay_config() {  # input-port
    echo "module(load=\"imtcp\")"
    echo "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"$1\")"
    echo "action(type=\"omfwd\" target=\"127.0.0.1\" port=\"$collector_port\" protocol=\"tcp\" TCP_Framing=\"octet-counted\""
    echo "    queue.type=\"LinkedList\" queue.size=\"100000\" action.resumeRetryCount=\"-1\")"
}
lines() { [ -f "$central" ] && wc -l < "$central" || echo 0; }
launch rsyslog-collector
for _ in $(seq 100); do ss -ltn | grep -q ":$collector_port " && break; sleep 0.05; done
ours=(); theirs=(); ourcpu=(); theircpu=()
for round in $(seq "$rounds"); do
    for who in sink rsyslog-relay; do
        port=$(free_port)
        relay_config "$port" > "$work/$who.conf"
        launch "$who"
        for _ in $(seq 100); do ss -ltn | grep -q ":$port " && break; sleep 0.05; done
        before=$(lines)
        t0=$(date +%s.%N)
        "$load" tcp "$port" "$count" 1 > /dev/null
        while [ "$(lines)" -lt $((before + count)) ]; do sleep 0.02; done
        t1=$(date +%s.%N)
        pid=$(cat "$work/$who.pid")
        ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
        kill "$pid"; sleep 0.5; rm -f "$work/$who.pid"
        rate=$(python3 -c "print(int($count / ($t1 - $t0)))")
        cpu=$(python3 -c "print(round($ticks * 1e6 / $(getconf CLK_TCK) / $count, 2))")
        echo "round $round $who: $rate msg/s, relay CPU $cpu us/msg"
        if [ $who = sink ]; then ours+=("$rate"); ourcpu+=("$cpu"); else theirs+=("$rate"); theircpu+=("$cpu"); fi
    done
done
o=$(printf '%s\n' "${ours[@]}" | median); t=$(printf '%s\n' "${theirs[@]}" | median)
echo "median: syslog-sink $o msg/s, rsyslogd $t msg/s, ratio $(python3 -c "print(round($o / $t, 2))") (floor 1.0)"
oc=$(printf '%s\n' "${ourcpu[@]}" | median); tc=$(printf '%s\n' "${theircpu[@]}" | median)
echo "median relay CPU (user+sys, whole run): syslog-sink $oc us/msg, rsyslogd $tc us/msg"
echo "collector file: $(lines) lines for $((count * rounds * 2)) sent"
