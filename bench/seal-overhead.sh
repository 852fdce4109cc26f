#!/usr/bin/env bash
# syslog-sink's TCP ingest with and without sealing (issue: sealing may cost at most 10%), same run, alternating:
# 1M octet-counted messages over one connection into one file, msg/s until the last line is in the file, ROUNDS
# rounds; medians and their ratio. KEY=fss seals with a forward-secure chain of 1 s epochs (a key evolution every
# second, the worst case; verified with its verification key). Usage: [KEY=fss] bench/seal-overhead.sh [MESSAGES] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000000}
rounds=${2:-5}
. bench/common.sh
swift build -c release --product logquery >/dev/null
if [ "${KEY:-}" = fss ]; then
    .build/release/logquery seal-key --forward-secure --epoch 1s --private-key "$work/seal.key" --public-key "$work/seal.pub" >/dev/null
else
    .build/release/logquery seal-key --private-key "$work/seal.key" --public-key "$work/seal.pub" >/dev/null
fi
config() {  # tcp-port output-file sealed
    echo "\$ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat"
    echo "module(load=\"imtcp\")"
    echo "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"$1\")"
    if [ "$3" = yes ]; then
        echo "action(type=\"omfile\" file=\"$2\" seal=\"on\" sealKey=\"$work/seal.key\")"
    else
        echo "action(type=\"omfile\" file=\"$2\")"
    fi
}
plain=(); sealed=()
for round in $(seq "$rounds"); do
    for who in plain sealed; do
        port=$(free_port); out=$work/$who.log; rm -f "$out" "$out".seal*
        config "$port" "$out" "$([ $who = sealed ] && echo yes || echo no)" > "$work/$who.conf"
        launch "$who"; sleep 0.3
        t0=$(date +%s.%N)
        "$load" tcp "$port" "$count" 1 > /dev/null
        while [ "$( [ -f "$out" ] && wc -l < "$out" || echo 0)" -lt "$count" ]; do sleep 0.02; done
        t1=$(date +%s.%N)
        kill "$(cat "$work/$who.pid")"; sleep 0.3; rm -f "$work/$who.pid"
        rate=$(python3 -c "print(int($count / ($t1 - $t0)))")
        echo "round $round $who: $rate msg/s"
        if [ $who = plain ]; then plain+=("$rate"); else sealed+=("$rate"); fi
        # (KEY=fss: the load's lines carry a fixed old date, so verify says they were sealed after their time: exit 3.)
        if [ $who = sealed ]; then .build/release/logquery verify --key "$work/seal.pub" "$out" | head -1 || true; fi
    done
done
p=$(printf '%s\n' "${plain[@]}" | median); s=$(printf '%s\n' "${sealed[@]}" | median)
echo "median: plain $p msg/s, sealed $s msg/s, sealed/plain $(python3 -c "print(round($s / $p, 2))") (floor 0.90)"
