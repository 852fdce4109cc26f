#!/usr/bin/env bash
# RELP beside rsyslogd 8 + librelp 1.11 (Debian), same run, alternating rounds; MESSAGES octet-counted messages go in
# over one TCP connection, the time runs until the last one is in the receiving file.
#   forward: the relay (syslog-sink or rsyslogd, the same configuration text) forwards with omrelp to rsyslogd's
#            imrelp; msg/s and the relay's CPU per message.
#   ingest:  rsyslogd relays with omrelp to the receiver (syslog-sink or rsyslogd, the same imrelp configuration);
#            msg/s.
# Usage: bench/relp-vs-rsyslog.sh [MESSAGES=500000] [ROUNDS=3]     PARTS="forward ingest" (the default)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-500000}
rounds=${2:-3}
parts=" ${PARTS:-forward ingest} "
. bench/common.sh
receiver_config() {  # port file
    cat <<CONF
global(workDirectory="$work")
module(load="imrelp")
input(type="imrelp" address="127.0.0.1" port="$1")
template(name="bare" type="string" string="%msg%\n")
:msg, contains, "msgnum" action(type="omfile" file="$2" template="bare")
CONF
}
relay_config() {  # input-port receiver-port
    cat <<CONF
global(workDirectory="$work")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="$1")
module(load="omrelp")
action(type="omrelp" target="127.0.0.1" port="$2" queue.type="LinkedList" queue.size="100000"
    action.resumeRetryCount="-1")
CONF
}
lines() { [ -f "$1" ] && wc -l < "$1" || echo 0; }
wait_port() { for _ in $(seq 100); do ss -ltn | grep -q ":$1 " && break; sleep 0.05; done; }
# run RELAY RECEIVER: one round; prints "rate cpu-of-the-relay"
run() {
    local relay=$1 receiver=$2 rport iport file
    rport=$(free_port); iport=$(free_port); file=$work/$receiver.log; rm -f "$file"
    receiver_config "$rport" "$file" > "$work/$receiver.conf"; launch "$receiver"; wait_port "$rport"
    relay_config "$iport" "$rport" > "$work/$relay.conf"; launch "$relay"; wait_port "$iport"
    sleep 0.3
    t0=$(date +%s.%N)
    "$load" tcp "$iport" "$count" 1 > /dev/null
    while [ "$(lines "$file")" -lt "$count" ]; do sleep 0.02; done
    t1=$(date +%s.%N)
    local pid ticks
    pid=$(cat "$work/$relay.pid")
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    for who in "$relay" "$receiver"; do kill "$(cat "$work/$who.pid")"; done
    sleep 0.5; rm -f "$work/$relay.pid" "$work/$receiver.pid"
    echo "$(python3 -c "print(int($count / ($t1 - $t0)))") $(python3 -c "print(round($ticks * 1e6 / $(getconf CLK_TCK) / $count, 2))")"
}
report() {  # label ours... -- theirs...
    local o t
    o=$(printf '%s\n' $2 | median); t=$(printf '%s\n' $3 | median)
    printf '| %s | %s (%s) | %s (%s) | %s |\n' "$1" "$t" "$3" "$o" "$2" "$(python3 -c "print(round($o / $t, 2))")"
}
echo "RELP, $count messages per round, $rounds rounds; msg/s until all are in the receiver's file (median, each round)"
printf '| part | rsyslogd | syslog-sink | ratio |\n|---|---|---|---|\n'
if [[ $parts == *" forward "* ]]; then
    ours=""; theirs=""; ourcpu=""; theircpu=""
    for round in $(seq "$rounds"); do
        read -r r c <<< "$(run sink rsyslog-receiver)"; ours="$ours $r"; ourcpu="$ourcpu $c"
        read -r r c <<< "$(run rsyslog-relay rsyslog-receiver)"; theirs="$theirs $r"; theircpu="$theircpu $c"
    done
    report "forward (omrelp to rsyslogd's imrelp)" "${ours# }" "${theirs# }"
    cpu_line="forward, relay CPU (user+sys, median): syslog-sink $(printf '%s\n' $ourcpu | median) us/msg, rsyslogd $(printf '%s\n' $theircpu | median) us/msg"
fi
if [[ $parts == *" ingest "* ]]; then
    ours=""; theirs=""
    for round in $(seq "$rounds"); do
        read -r r _ <<< "$(run rsyslog-relay sink-receiver)"; ours="$ours $r"
        read -r r _ <<< "$(run rsyslog-relay rsyslog-receiver)"; theirs="$theirs $r"
    done
    report "ingest (from rsyslogd's omrelp)" "${ours# }" "${theirs# }"
fi
[ -n "${cpu_line:-}" ] && echo "$cpu_line"
