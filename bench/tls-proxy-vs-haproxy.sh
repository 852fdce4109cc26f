#!/usr/bin/env bash
# proxy beside HAProxy 2.6 (Debian) terminating TLS, same configuration, same run: `bind … ssl crt` (an RSA 2048
# certificate made here with openssl), two nginx backends, every request logged (option httplog) over UDP.
#  1. keep-alive: wrk -c50 over TLS through each (req/s; the handshakes happen once per connection);
#  2. `Connection: close`: a new TLS connection per request (handshakes/s = req/s). wrk keeps its TLS session
#     across reconnections, so these handshakes are resumed wherever the server allows it: from a ticket (both), or
#     from HAProxy's session cache. FULL=1 forbids both (`no-tls-tickets` on both binds, `tune.ssl.cachesize 0`
#     for HAProxy), so every handshake is a full one on both sides.
# ROUNDS runs each, alternating, median reported. Needs wrk, nginx, socat, haproxy, openssl.
# Usage: bench/tls-proxy-vs-haproxy.sh   (THREADS=2 for nbthread 2; BIND_OPTIONS=no-tls-tickets adds options to both
# binds: the proxy then makes a TLS context per connection)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
THREADS=${THREADS:-1}
BIND_OPTIONS=${BIND_OPTIONS:-}
FULL=${FULL:-}
[ -n "$FULL" ] && BIND_OPTIONS="$BIND_OPTIONS no-tls-tickets"

. bench/proxy-common.sh

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 30 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost" 2>/dev/null
cat "$work/cert.pem" "$work/key.pem" > "$work/site.pem"

tls_config() { # tls_config PORT NAME
    http_config "$1" | sed "s|bind 127.0.0.1:$1 backlog 4096|bind 127.0.0.1:$1 backlog 4096 ssl crt $work/site.pem alpn http/1.1 $BIND_OPTIONS|" \
        | if [ -n "$FULL" ] && [ "$2" = haproxy ]; then sed "s|^global$|global\n    tune.ssl.cachesize 0|"; else cat; fi
}

echo "# proxy vs HAProxy $(haproxy -v | head -1 | awk '{print $3}'), TLS termination${BIND_OPTIONS:+ ($BIND_OPTIONS)}${FULL:+, full handshakes only}, nbthread $THREADS, $(nproc) cores, $(date -u +%F)"
for kind in keepalive close; do
    declare -A rps=()
    for name in haproxy proxy; do rps[$name]=""; done
    header=()
    [ $kind = close ] && header=(-H "Connection: close")
    for round in $(seq "$ROUNDS"); do
        order="haproxy proxy"; [ $((round % 2)) -eq 0 ] && order="proxy haproxy"
        for name in $order; do
            port=$(free_port)
            tls_config "$port" $name > "$work/$name.cfg"
            start $name "$work/$name.cfg"; pid=$started
            wait_port "$port"
            out=$(wrk -t1 -c50 -d${SECONDS_PER_RUN}s "${header[@]}" "https://127.0.0.1:$port/")
            kill $pid; wait $pid 2>/dev/null || true
            r=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
            errs=$(awk '/Socket errors|Non-2xx/ {print}' <<<"$out" | tr '\n' ' ')
            echo "$kind round $round $name: $r req/s ${errs}"
            rps[$name]+="$r "
        done
    done
    hr=$(tr ' ' '\n' <<<"${rps[haproxy]}" | grep . | median); pr=$(tr ' ' '\n' <<<"${rps[proxy]}" | grep . | median)
    echo "$kind req/s median: haproxy $hr, proxy $pr, ratio $(awk "BEGIN {printf \"%.2f\", $pr/$hr}")"
done
