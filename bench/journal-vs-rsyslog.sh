#!/usr/bin/env bash
# Messages per second into journald: syslog-sink's omjournal beside rsyslogd 8's omjournal (Debian), same
# configuration (imtcp on loopback, every message to omjournal), same run, one after the other, RUNS times.
# Time: from the first message sent until the last one is in the journal; every message is then counted in the
# journal (by the daemon's _PID), so a drop shows as a loss.
# Needs a running systemd-journald (`make test` starts one; or /lib/systemd/systemd-journald &).
# Usage: bench/journal-vs-rsyslog.sh [COUNT=100000] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-100000}
runs=${2:-3}
[ -S /run/systemd/journal/socket ] || { echo "no journald socket: start systemd-journald first" >&2; exit 1; }
. bench/common.sh
run() {  # who -> prints "msg/s entries"
    local who=$1 port pid t0 t1 n
    port=$(free_port)
    cat > "$work/$who.conf" <<EOC
global(workDirectory="$work")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="$port")
module(load="omjournal")
*.* action(type="omjournal")
EOC
    launch "$who"
    sleep 0.5
    pid=$(cat "$work/$who.pid")
    t0=$(date +%s.%N)
    "$load" tcp "$port" "$count" 1 > /dev/null
    # The load's messages are numbered from 0; wait for the last number in this daemon's entries.
    last=$(printf 'msgnum:%08d:' $((count - 1)))
    for _ in $(seq 600); do
        journalctl --no-pager -o cat _PID="$pid" --grep "$last" -n 1 2>/dev/null | grep -q "$last" && break
        sleep 0.1
    done
    t1=$(date +%s.%N)
    n=$(journalctl --no-pager -o cat _PID="$pid" 2>/dev/null | grep -c 'msgnum:' || true)
    kill "$pid"; for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    rm -f "$work/$who.pid"
    echo "$(python3 -c "print(int($n / ($t1 - $t0)))") $n"
}

echo "journald: $count messages per run over one TCP connection, $runs runs, msg/s (entries found)"
printf '| run | rsyslog omjournal | syslog-sink omjournal | ratio |\n|---|---|---|---|\n'
for r in $(seq "$runs"); do
    if [ $((r % 2)) -eq 1 ]; then rs=$(run rsyslog); sk=$(run sink); else sk=$(run sink); rs=$(run rsyslog); fi
    set -- $rs; rs_rate=$1; rs_n=$2
    set -- $sk; sk_rate=$1; sk_n=$2
    printf '| %s | %s (%s) | %s (%s) | %s |\n' "$r" "$rs_rate" "$rs_n" "$sk_rate" "$sk_n" \
        "$(python3 -c "print(round($sk_rate / max($rs_rate, 1), 2))")"
done
