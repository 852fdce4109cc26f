#!/usr/bin/env bash
# proxy beside HAProxy 2.6 (Debian) in HTTP mode with the rules real configurations carry: 20 ACL tests in
# http-request rules and use_backend, a 10,000-network `src -f` blocklist, request and response header rewrites,
# a redirect and an errorfile that the measured requests do not hit. wrk -c50 keep-alive through each, alternating
# rounds, medians, and the ratio (issue 21's floor: ≥ 1.0). Every request is logged (option httplog) over UDP.
# Needs wrk, nginx, socat, haproxy. Usage: bench/rules-vs-haproxy.sh   (ROUNDS, SECONDS_PER_RUN, THREADS, PROXY)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
THREADS=${THREADS:-1}

. bench/proxy-common.sh

# 10,000 networks, none of them the loopback client (a /24 to a /32 each, in 11.0.0.0 and up).
python3 - "$work/blocklist.ips" <<'PY'
import random, sys
random.seed(7)
with open(sys.argv[1], "w") as f:
    f.write("# generated blocklist\n")
    for _ in range(10000):
        a = random.randint(11 << 24, 223 << 24)
        bits = random.choice([24, 28, 32])
        a &= ~((1 << (32 - bits)) - 1) & 0xFFFFFFFF
        f.write("%d.%d.%d.%d/%d\n" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255, bits))
PY
printf 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nbusy\n' > "$work/503.http"

rules_config() { # rules_config PORT
    cat <<CFG
global
    log 127.0.0.1:$logport local0 info
    maxconn 5000
    nbthread $THREADS
defaults
    log global
    mode http
    option httplog
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    errorfile 503 $work/503.http
frontend web
    bind 127.0.0.1:$1 backlog 4096
    acl blocked src -f $work/blocklist.ips
    acl lan src 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16
    acl admin path_beg /admin /manage /wp-admin
    acl dotfiles path_sub /.git /.env /.svn
    acl scripts path_end .php .asp .cgi
    acl static path_beg /static /assets /images
    acl api path_beg -i /api
    acl health path /health /ready
    acl write method POST PUT DELETE PATCH
    acl bot hdr_sub(user-agent) -i sqlmap nikto masscan
    acl json hdr_beg(content-type) application/json
    acl old_host hdr(host) -i old.example legacy.example
    acl internal hdr(x-internal) yes
    http-request deny if blocked
    http-request deny if dotfiles || scripts
    http-request deny if admin !lan
    http-request deny if bot
    http-request deny deny_status 429 if write !json api
    http-request deny if internal !lan
    http-request set-header X-Forwarded-Proto http
    http-request del-header X-Debug
    http-request add-header X-Gate tollgate
    redirect prefix http://new.example code 301 if old_host
    http-response set-header Strict-Transport-Security "max-age=63072000; includeSubDomains"
    http-response set-header X-Frame-Options DENY
    http-response del-header Server
    use_backend static_nodes if static
    use_backend api_nodes if api
    use_backend health_nodes if health
    default_backend nginx
backend static_nodes
    server s1 127.0.0.1:$n1
backend api_nodes
    server a1 127.0.0.1:$n2
backend health_nodes
    server h1 127.0.0.1:$n1
backend nginx
    balance roundrobin
    server n1 127.0.0.1:$n1
    server n2 127.0.0.1:$n2
CFG
}

echo "# proxy vs HAProxy $(haproxy -v | head -1 | awk '{print $3}'), HTTP rules (20 ACL tests, 10,000-network blocklist, rewrites), nbthread $THREADS, $(nproc) cores, $(date -u +%F)"
declare -A rps=() p99=()
for name in haproxy proxy; do rps[$name]=""; p99[$name]=""; done
for round in $(seq "$ROUNDS"); do
    for name in haproxy proxy; do
        port=$(free_port)
        rules_config "$port" > "$work/$name.cfg"
        start $name "$work/$name.cfg"; pid=$started
        wait_port "$port"
        # The answer must be nginx's, through every rule (a 403 here would measure the wrong path).
        status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")
        [ "$status" = 200 ] || { echo "$name answered $status, not 200: check the configuration" >&2; exit 1; }
        out=$(wrk -t1 -c50 -d${SECONDS_PER_RUN}s --latency "http://127.0.0.1:$port/")
        kill $pid; wait $pid 2>/dev/null || true
        r=$(awk '/Requests\/sec/ {print $2}' <<<"$out"); l=$(p99_of <<<"$out")
        echo "round $round $name: $r req/s, p99 $l ms"
        rps[$name]+="$r "; p99[$name]+="$l "
    done
done
hr=$(tr ' ' '\n' <<<"${rps[haproxy]}" | grep . | median); pr=$(tr ' ' '\n' <<<"${rps[proxy]}" | grep . | median)
hl=$(tr ' ' '\n' <<<"${p99[haproxy]}" | grep . | median); pl=$(tr ' ' '\n' <<<"${p99[proxy]}" | grep . | median)
echo "keepalive req/s median: haproxy $hr, proxy $pr, ratio $(awk "BEGIN {printf \"%.2f\", $pr/$hr}") (floor 1.0)"
echo "keepalive p99 median: haproxy $hl ms, proxy $pl ms, ratio $(awk "BEGIN {printf \"%.2f\", $pl/$hl}")"
