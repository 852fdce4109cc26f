# Shared by the benchmarks that run syslog-sink beside rsyslogd: release builds of the sink and of the load
# generator, a work folder removed at exit (with any daemon still running), and a free loopback port.
. bench/helpers.sh
rsyslogd=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
swift build -c release --product syslog-sink >/dev/null
swift build -c release --package-path Benchmarks --product syslog-load >/dev/null
sink=.build/release/syslog-sink
load=Benchmarks/.build/release/syslog-load
work=$(mktemp -d /tmp/tollgate-bench.XXXXXX)
trap 'kill $(cat $work/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf $work' EXIT
# launch NAME: starts rsyslogd (NAME=rsyslog…) or syslog-sink with $work/NAME.conf; waits for its pid file.
launch() {
    local name=$1
    if [ "${name#rsyslog}" != "$name" ]; then
        "$rsyslogd" -n -f "$work/$name.conf" -i "$work/$name.pid" 2>>"$work/$name.err" &
    else
        "$sink" -n -f "$work/$name.conf" -i "$work/$name.pid" 2>>"$work/$name.err" &
    fi
    for _ in $(seq 100); do [ -s "$work/$name.pid" ] && break; sleep 0.05; done
}
