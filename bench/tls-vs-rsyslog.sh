#!/usr/bin/env bash
# TLS syslog ingest (RFC 5425): syslog-sink beside rsyslogd 8 with gtls, the same configuration, in one run.
#   COUNT octet-counted messages over 1 and over 8 TLS connections (socat with OpenSSL, each connection a share of
#   the messages, x509/name checked against a test CA made here with openssl): msg/s until all are in the file,
#   and each daemon's peak RSS. RUNS runs each, alternating which receiver goes first; medians reported.
# Usage: bench/tls-vs-rsyslog.sh [COUNT=1000000] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000000}
runs=${2:-3}
. bench/common.sh
command -v socat >/dev/null || { echo "socat is needed (apt install socat)"; exit 1; }

# A CA, the receivers' certificate (localhost) and the senders' (client.example.net).
certs=$work/certs
mkdir -p "$certs"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$certs/ca-key.pem" -out "$certs/ca.pem" -days 30 \
    -subj "/CN=bench CA" 2>/dev/null
for who in server client; do
    name=localhost; [ $who = client ] && name=client.example.net
    printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$name" > "$certs/$who.cnf"
    openssl req -newkey rsa:2048 -nodes -keyout "$certs/$who-key.pem" -out "$certs/$who.csr" -subj "/CN=$name" 2>/dev/null
    openssl x509 -req -in "$certs/$who.csr" -CA "$certs/ca.pem" -CAkey "$certs/ca-key.pem" -CAcreateserial \
        -out "$certs/$who.pem" -days 30 -extfile "$certs/$who.cnf" 2>/dev/null
done

# The messages, octet-counted, split in 1 and in 8 parts (one per connection).
python3 - "$count" "$work" <<'EOF'
import sys
count, work = int(sys.argv[1]), sys.argv[2]
frames = []
for n in range(1, count + 1):
    m = (f"<134>Dec  6 08:00:00 lb1 haproxy[42]: 10.0.0.1:{n % 60000} [06/Dec/2026:08:00:00.000] fe be/s1 "
         f"0/0/1 200 -- 1/1/0/0/0 0/0 msgnum:{n}").encode()
    frames.append(str(len(m)).encode() + b" " + m)
for parts in (1, 8):
    for p in range(parts):
        with open(f"{work}/part{parts}.{p}", "wb") as f:
            f.write(b"".join(frames[p::parts]))
EOF

config() {  # port output-file
    cat <<EOC
global(workDirectory="$work" DefaultNetstreamDriverCAFile="$certs/ca.pem"
       DefaultNetstreamDriverCertFile="$certs/server.pem" DefaultNetstreamDriverKeyFile="$certs/server-key.pem")
\$ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="x509/name"
       PermittedPeer=["*.example.net"])
input(type="imtcp" address="127.0.0.1" port="$1")
*.* $2
EOC
}
stop() { local pid; pid=$(cat "$work/$1.pid" 2>/dev/null || true); [ -n "$pid" ] && kill "$pid" 2>/dev/null; for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done; rm -f "$work/$1.pid"; }
settle() {  # file expected -> the line count once it stops growing (or reaches expected)
    local last=-1 n=0 same=0
    while true; do
        n=$( [ -f "$1" ] && wc -l < "$1" || echo 0 )
        [ "$n" -ge "$2" ] && break
        if [ "$n" -eq "$last" ]; then same=$((same + 1)); [ $same -ge 20 ] && break; else same=0; fi
        last=$n; sleep 0.1
    done
    echo "$n"
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "TLS ingest: $count octet-counted messages over 1 and 8 TLS connections (x509/name); msg/s until all are filed"
printf '| connections | rsyslogd (gtls) msg/s | syslog-sink msg/s | ratio | rsyslogd RSS | syslog-sink RSS |\n|---|---|---|---|---|---|\n'
for conns in 1 8; do
    declare -A rates rss
    rates=([rsyslog]="" [sink]=""); rss=([rsyslog]="" [sink]="")
    for run in $(seq "$runs"); do
        order="rsyslog sink"; [ $((run % 2)) -eq 0 ] && order="sink rsyslog"
        for who in $order; do
            port=$(free_port); out=$work/$who.log; rm -f "$out"
            config "$port" "$out" > "$work/$who.conf"
            launch "$who"
            for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
            t0=$(date +%s.%N)
            for p in $(seq 0 $((conns - 1))); do
                socat -u "FILE:$work/part$conns.$p" \
                    "OPENSSL:localhost:$port,cafile=$certs/ca.pem,cert=$certs/client.pem,key=$certs/client-key.pem,verify=1" &
            done
            wait $(jobs -p | grep -v "^$(cat "$work/$who.pid")$") 2>/dev/null || true
            got=$(settle "$out" "$count")
            t1=$(date +%s.%N)
            pid=$(cat "$work/$who.pid")
            rss[$who]="${rss[$who]} $(awk '/VmHWM/ {print $2}' "/proc/$pid/status")"
            stop "$who"
            rate=$(python3 -c "print(int($got / ($t1 - $t0)))")
            [ "$got" -eq "$count" ] || echo "  ($who, run $run: $((count - got)) not filed)" >&2
            rates[$who]="${rates[$who]} $rate"
        done
    done
    r=$(median ${rates[rsyslog]}); s=$(median ${rates[sink]})
    printf '| %s | %s (%s) | %s (%s) | %s | %s MB | %s MB |\n' "$conns" "$r" "${rates[rsyslog]# }" "$s" "${rates[sink]# }" \
        "$(python3 -c "print(f'{$s / $r:.2f}')")" "$(( $(median ${rss[rsyslog]}) / 1024 ))" "$(( $(median ${rss[sink]}) / 1024 ))"
done
