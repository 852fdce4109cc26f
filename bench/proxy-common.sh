# Shared by bench/proxy-vs-haproxy.sh, bench/http-vs-haproxy.sh, bench/http-instructions.sh and bench/nio-floor.sh
# (sourced, not run): the tools check, the release build, a work directory cleaned on exit, free ports, two nginx
# backends answering "ok", a UDP log receiver that discards, starting HAProxy or the proxy on a configuration, and
# the TCP-mode and HTTP-mode configurations.
for tool in wrk nginx socat haproxy python3; do
    command -v $tool >/dev/null || { echo "missing: $tool (apt install wrk nginx-light socat haproxy)" >&2; exit 1; }
done
. bench/helpers.sh
# PROXY=path runs another build of the proxy (an earlier commit's, to compare before and after a change).
if [ -n "${PROXY:-}" ]; then
    proxy=$(realpath "$PROXY")
else
    swift build -c release --product proxy >/dev/null
    proxy=$PWD/.build/release/proxy
fi
work=$(mktemp -d /tmp/tollgate-proxy-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# Waits until something listens on 127.0.0.1:PORT (without connecting: that would be a session).
wait_port() {
    for _ in $(seq 200); do [ -n "$(ss -Hltn "sport = :$1")" ] && return 0; sleep 0.05; done
    echo "nothing listens on $1:" >&2; cat "$work"/*.err >&2; return 1
}
# The p99 latency of a `wrk --latency` report, in ms.
p99_of() {
    awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}'
}
start() { # start NAME CONFIG → pid in $started
    if [ "$1" = haproxy ]; then haproxy -db -f "$2" 2>>"$work/$1.err" & else "$proxy" -q -f "$2" 2>>"$work/$1.err" & fi
    started=$!
}

# Two nginx backends (one worker each) answering "ok".
n1=$(free_port); n2=$(free_port)
cat > "$work/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 30000; }
http {
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    client_header_timeout 300s;
    server { listen 127.0.0.1:$n1 backlog=4096; location / { return 200 "ok\n"; } }
    server { listen 127.0.0.1:$n2 backlog=4096; location / { return 200 "ok\n"; } }
}
EOF
nginx -c "$work/nginx.conf" -e "$work/nginx.err" & pids+=($!)
logport=$(free_port)
socat -u UDP-RECV:$logport,bind=127.0.0.1 /dev/null & pids+=($!)
wait_port $n1; wait_port $n2

# The TCP-mode haproxy.cfg of the TCP benchmarks: tcplog over UDP to the discarding receiver, roundrobin over two
# backends, `nbthread $THREADS` (default 1).
tcp_config() { # tcp_config PORT BACKEND_PORT_1 BACKEND_PORT_2 MAXCONN
    cat <<CFG
global
    log 127.0.0.1:$logport local0 info
    maxconn $4
    nbthread ${THREADS:-1}
defaults
    log global
    mode tcp
    option tcplog
    timeout connect 5s
    timeout client 300s
    timeout server 300s
listen web
    bind 127.0.0.1:$1 backlog 4096
    balance roundrobin
    server n1 127.0.0.1:$2
    server n2 127.0.0.1:$3
CFG
}

# The HTTP-mode haproxy.cfg of the HTTP benchmarks: httplog over UDP to the discarding receiver, roundrobin over the
# two nginx backends, `nbthread $THREADS` (default 1).
http_config() { # http_config PORT
    cat <<CFG
global
    log 127.0.0.1:$logport local0 info
    maxconn 5000
    nbthread ${THREADS:-1}
defaults
    log global
    mode http
    option httplog
    timeout connect 5s
    timeout client 300s
    timeout server 300s
frontend web
    bind 127.0.0.1:$1 backlog 4096
    default_backend nginx
backend nginx
    balance roundrobin
    server n1 127.0.0.1:$n1
    server n2 127.0.0.1:$n2
CFG
}
