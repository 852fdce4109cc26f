#!/usr/bin/env bash
# The seed's scenario: PHP-style clients that open a MariaDB connection per query, through the proxy and through
# HAProxy 2.6 on the same TCP-mode configuration (tcplog over UDP to a discarding receiver), and straight to the
# server for reference. mariadb-slap with --detach=1 (a new connection for every query), CONCURRENCY clients,
# QUERIES `SELECT 1` per run, ROUNDS alternating runs; queries/s per run, medians and the ratio.
# Needs mariadb-server, mariadb-client, haproxy (apt install mariadb-server mariadb-client haproxy), and the tools of
# bench/proxy-common.sh. Usage: bench/mariadb-vs-haproxy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
QUERIES=${QUERIES:-50000}
CONCURRENCY=${CONCURRENCY:-20}
THREADS=${THREADS:-1}
for tool in mariadbd mariadb-install-db mariadb-slap; do
    command -v $tool >/dev/null || { echo "missing: $tool (apt install mariadb-server mariadb-client)" >&2; exit 1; }
done

. bench/proxy-common.sh

# A MariaDB server of the benchmark's own (no grant tables: no authentication round trips beyond the handshake).
db=$(free_port)
mariadb-install-db --no-defaults --datadir="$work/db" --user=root --auth-root-authentication-method=normal \
    --skip-test-db >/dev/null 2>&1
mariadbd --no-defaults --datadir="$work/db" --user=root --port=$db --bind-address=127.0.0.1 \
    --socket="$work/db.sock" --pid-file="$work/db.pid" --skip-name-resolve --skip-grant-tables \
    --max-connections=2000 --skip-log-bin >"$work/db.log" 2>&1 & pids+=($!)
wait_port $db

# The TCP benchmarks' configuration (bench/proxy-common.sh), both server lines on the one MariaDB.
config() { tcp_config "$1" "$db" "$db" 5000; } # config PORT

# Queries per second of one mariadb-slap run against PORT.
slap() {
    local out seconds
    # In the server's own `mysql` schema (mariadb-slap creates none for a --query of its own).
    out=$(mariadb-slap -h 127.0.0.1 -P "$1" -u root --create-schema=mysql --concurrency="$CONCURRENCY" \
        --iterations=1 --number-of-queries="$QUERIES" --detach=1 --query="SELECT 1" 2>&1)
    seconds=$(awk '/Average number of seconds to run all queries/ {print $(NF-1)}' <<<"$out")
    # A client that could not connect or query ends early: such a run measures nothing.
    if [ -z "$seconds" ] || grep -q "Error" <<<"$out"; then echo "mariadb-slap failed: $out" >&2; exit 1; fi
    awk "BEGIN {printf \"%.0f\", $QUERIES/$seconds}"
}

echo "# a MariaDB connection per query (mariadb-slap --detach=1, $CONCURRENCY clients, $QUERIES queries per run), proxy vs HAProxy $(haproxy -v | head -1 | awk '{print $3}'), nbthread $THREADS, $(nproc) cores, $(date -u +%F)"
declare -A qps
for name in direct haproxy proxy; do qps[$name]=""; done
for round in $(seq "$ROUNDS"); do
    for name in direct haproxy proxy; do
        if [ $name = direct ]; then
            rate=$(slap $db)
        else
            port=$(free_port)
            config "$port" > "$work/$name.cfg"
            start $name "$work/$name.cfg"; pid=$started
            wait_port "$port"
            rate=$(slap "$port")
            kill $pid; wait $pid 2>/dev/null || true
        fi
        echo "round $round $name: $rate queries/s"
        qps[$name]+="$rate "
    done
done
d=$(tr ' ' '\n' <<<"${qps[direct]}" | grep . | median)
h=$(tr ' ' '\n' <<<"${qps[haproxy]}" | grep . | median)
p=$(tr ' ' '\n' <<<"${qps[proxy]}" | grep . | median)
echo "queries/s median: direct $d, haproxy $h, proxy $p, proxy/haproxy $(awk "BEGIN {printf \"%.2f\", $p/$h}") (floor 1.0)"
