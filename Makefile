# Tollgate: build, test, demo, benchmarks.
#
#   make demo     install what is missing, build, run the whole stack on its defaults and show the result
#   make test     install what is missing, build, run every test (unit, loopback and real peers)
#   make docs     regenerate the pages made from the code (docs/not-in-this-build*.md)
#   make bench    micro-benchmarks of the parsers and formatters (Benchmarks/), results in bench/README.md
#   make release  optimised binaries in .build/release
#   make install  release build, man pages, then install-files (PREFIX=/usr/local, DESTDIR, SYSCONFDIR=/etc)
#   make uninstall  remove what install-files put in place (configuration files in SYSCONFDIR are kept)
#
# Debian packages the build and the tests need. Their services are not started on install: the tests start
# the peers they use (haproxy, rsyslogd, mariadbd, systemd-journald) themselves, on loopback, and stop them.
# rsyslog's module packages let rsyslogd -N1 give its own verdict on the real-world configurations in Tests/Corpus.
# curl and openssl are the TLS tests' clients and certificate makers; liblognorm-dev is mmnormalize's library;
# socat and hatop drive the runtime API; postgresql is pgsql-check's and ompgsql's server (the tests start their own);
# libpq-dev and libmariadb-dev are the sink's ompgsql and ommysql client libraries.
APT_PACKAGES := libsystemd-dev zlib1g-dev libsqlite3-dev libpq-dev libmariadb-dev lnav libcrypt-dev liblognorm-dev pkg-config curl openssl haproxy rsyslog systemd logrotate mariadb-server mariadb-client nginx-light \
  rsyslog-gnutls rsyslog-openssl rsyslog-relp rsyslog-kafka rsyslog-elasticsearch rsyslog-pgsql rsyslog-mysql \
  rsyslog-kubernetes socat hatop postgresql dnsmasq-base
SWIFT ?= swift
# The demo's client uses bash's /dev/tcp.
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: test-plane-asan help deps build test docs demo screenshot bench release install manpages install-files uninstall clean

help:
	@sed -n 's/^#   //p' Makefile

deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "==> installing:$$missing"; \
	  blocker=""; \
	  if [ ! -e /usr/sbin/policy-rc.d ]; then \
	    printf '#!/bin/sh\nexit 101\n' | $(SUDO) tee /usr/sbin/policy-rc.d >/dev/null && \
	    $(SUDO) chmod +x /usr/sbin/policy-rc.d && blocker=yes; \
	  fi; \
	  printf '%s\n' 'rsyslog-mysql rsyslog-mysql/dbconfig-install boolean false' \
	    'rsyslog-pgsql rsyslog-pgsql/dbconfig-install boolean false' | $(SUDO) debconf-set-selections; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing \
	    >/dev/null; status=$$?; \
	  if [ -n "$$blocker" ]; then $(SUDO) rm -f /usr/sbin/policy-rc.d; fi; \
	  exit $$status; \
	fi

build: deps
	$(SWIFT) build

# The journald tests and the demo need a systemd-journald: when none runs (containers, CI), one is started for
# the run and stopped after it (its files stay in /run/log/journal for journalctl).
JOURNALD := /lib/systemd/systemd-journald
JOURNALD_START := started=""; \
	journald_up() { ps -eo stat=,comm= | awk '$$2 == "systemd-journal" && $$1 !~ /Z/ { up = 1 } END { exit !up }'; }; \
	if ! journald_up; then \
	  echo "==> starting $(JOURNALD) for this run"; \
	  $(SUDO) mkdir -p /run/systemd/journal; \
	  $(SUDO) $(JOURNALD) >/dev/null 2>&1 & started=$$!; \
	  for i in $$(seq 50); do [ -S /run/systemd/journal/socket ] && journald_up && break; sleep 0.1; done; \
	fi
JOURNALD_STOP := if [ -n "$$started" ]; then $(SUDO) kill $$started 2>/dev/null; wait $$started 2>/dev/null; fi

test: deps
	$(SWIFT) build --build-tests
	@$(JOURNALD_START); \
	$(SWIFT) test --skip-build; status=$$?; \
	$(JOURNALD_STOP); \
	exit $$status
	@$(MAKE) --no-print-directory test-plane-asan

# The TCP data plane's unsafe layer (Sources/TCPPlane, the only code of the proxy on raw descriptors and pointers)
# under AddressSanitizer, in a build of its own (.build/asan; about 4 minutes from scratch on 2 cores). XCTest's own
# allocations at exit are not ours: suppressed.
test-plane-asan: deps
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build/asan
	@printf 'leak:XCTest\n' > .build/asan/lsan.supp
	LSAN_OPTIONS=suppressions=$(CURDIR)/.build/asan/lsan.supp \
	  $(SWIFT) test --skip-build --sanitize=address --scratch-path .build/asan --filter TCPPlaneTests

# The "not in this build" pages are rendered from the lists in the code; the tests that compare them write them.
docs: deps
	$(SWIFT) build --build-tests
	TOLLGATE_WRITE_DOCS=1 $(SWIFT) test --skip-build --filter 'NotInThisBuild'

DEMO_PORT ?= 5514

# The stats page in a browser: the demo's proxy and backends, a little traffic, the page fetched with the demo's
# credentials and rendered by headless Chromium (apt install chromium) into docs/stats-page.png (desktop) and
# docs/stats-page-phone.png.
screenshot: build
	@command -v chromium >/dev/null || { echo "make screenshot needs chromium (apt install chromium)"; exit 1; }
	@rm -rf demo-run && mkdir -p demo-run
	@sed 's/127.0.0.1:5514/127.0.0.1:$(DEMO_PORT)/; s#/run/haproxy/admin.sock#$(CURDIR)/demo-run/admin.sock#' \
	  conf/demo/haproxy.cfg > demo-run/haproxy.cfg
	@.build/debug/tollgate-demo --backends 18066,18067 --http-backends 18081,18082 > demo-run/backends.log 2>&1 & \
	  backends=$$!; \
	.build/debug/proxy check-agent --listen 127.0.0.1:48700 --probe tcp://127.0.0.1:18066 \
	  > demo-run/agent.log 2>&1 & agent=$$!; \
	.build/debug/proxy -f demo-run/haproxy.cfg -p demo-run/proxy.pid 2> demo-run/proxy.log & \
	sleep 2.5; \
	for n in $$(seq 12); do \
	  exec 3<>/dev/tcp/127.0.0.1/18080 && printf 'GET / HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n' >&3 && \
	    timeout 2 cat <&3 > /dev/null; exec 3<&-; \
	done; \
	exec 3<>/dev/tcp/127.0.0.1/18800 && \
	  printf 'GET /admin-status;norefresh HTTP/1.1\r\nHost: demo\r\nAuthorization: Basic %s\r\nConnection: close\r\n\r\n' \
	    "$$(printf admin:admin | base64)" >&3 && \
	  timeout 2 cat <&3 | awk 'b {print} /^\r?$$/ {b=1}' > demo-run/stats.html; exec 3<&-; \
	kill $$(cat demo-run/proxy.pid) $$backends $$agent 2>/dev/null; \
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1500,760 \
	  --screenshot=$(CURDIR)/docs/stats-page.png file://$(CURDIR)/demo-run/stats.html 2>/dev/null; \
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=412,900 \
	  --screenshot=$(CURDIR)/docs/stats-page-phone.png file://$(CURDIR)/demo-run/stats.html 2>/dev/null; \
	ls -l docs/stats-page.png docs/stats-page-phone.png

demo: build
	@rm -rf demo-run && mkdir -p demo-run
	@sed 's/port="5514"/port="$(DEMO_PORT)"/' conf/demo/rsyslog.conf > demo-run/rsyslog.conf
	@mkdir -p demo-run/tls && cd demo-run/tls && \
	  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 \
	    -subj "/CN=Tollgate demo CA" 2> /dev/null && \
	  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout site.key -out site.csr \
	    -subj "/CN=demo.tollgate.test" 2> /dev/null && \
	  printf 'subjectAltName=DNS:demo.tollgate.test\n' > site.ext && \
	  openssl x509 -req -in site.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out site.crt -days 2 \
	    -extfile site.ext 2> /dev/null && cat site.crt site.key > site.pem
	@sed -e 's/127.0.0.1:5514/127.0.0.1:$(DEMO_PORT)/; s#/run/haproxy/admin.sock#$(CURDIR)/demo-run/admin.sock#' \
	  -e 's#^    bind 127.0.0.1:18080$$#&\n    bind 127.0.0.1:18443 ssl crt $(CURDIR)/demo-run/tls/site.pem alpn http/1.1#' \
	  conf/demo/haproxy.cfg > demo-run/haproxy.cfg
	@.build/debug/logquery seal-key --private-key demo-run/seal.key --public-key demo-run/seal.pub > /dev/null
	@echo "==> syslog-sink -n -f demo-run/rsyslog.conf --root demo-run/root   (UDP 127.0.0.1:$(DEMO_PORT))"
	@$(JOURNALD_START); \
	.build/debug/syslog-sink -n -f demo-run/rsyslog.conf --root demo-run/root -i demo-run/sink.pid \
	  2> demo-run/sink.log & \
	for i in $$(seq 50); do [ -s demo-run/sink.pid ] && break; sleep 0.1; done; \
	[ -s demo-run/sink.pid ] || { cat demo-run/sink.log; $(JOURNALD_STOP); exit 1; }; \
	cp demo-run/sink.pid demo-run/sink.pid.kept; \
	.build/debug/tollgate-demo --output demo-run/haproxy.log --sink 127.0.0.1:$(DEMO_PORT); status=$$?; \
	echo; echo "==> the proxy itself: proxy -f demo-run/haproxy.cfg (mycat_servers on 127.0.0.1:13307, two demo backends, proxy check-agent on 48700)"; \
	.build/debug/tollgate-demo --backends 18066,18067 --http-backends 18081,18082 > demo-run/backends.log 2>&1 & \
	  backends=$$!; \
	.build/debug/proxy check-agent --listen 127.0.0.1:48700 --probe tcp://127.0.0.1:18066 \
	  > demo-run/agent.log 2>&1 & agent=$$!; \
	.build/debug/proxy -f demo-run/haproxy.cfg -p demo-run/proxy.pid 2> demo-run/proxy.log & \
	for i in $$(seq 50); do [ -s demo-run/proxy.pid ] && break; sleep 0.1; done; \
	sleep 1.5; \
	for n in 1 2 3 4; do \
	  exec 3<>/dev/tcp/127.0.0.1/13307 && printf 'SELECT %s;' $$n >&3 && \
	  echo "   client sent 'SELECT $$n;', got back '$$(timeout 2 head -c 9 <&3)'"; exec 3<&-; \
	done; \
	echo; echo "==> the runtime API (stats socket demo-run/admin.sock, level admin, driven with socat): mycat_01's maintenance"; \
	.build/debug/proxy check-agent --listen 127.0.0.1:48701 --probe tcp://127.0.0.1:18067 \
	  > demo-run/agent2.log 2>&1 & agent2=$$!; \
	echo "   mycat_02's check agent starts: the node comes back (rise 2, inter 500ms)"; sleep 1.5; \
	cli() { echo "   > $$1"; echo "$$1" | socat -t2 stdio UNIX-CONNECT:demo-run/admin.sock | sed '/^$$/d; s/^/     /'; }; \
	served() { sleep 0.7; grep -a ' mycat_servers mycat_servers/' demo-run/root/var/log/haproxy.log | tail -n $$1 \
	  | sed 's#.* mycat_servers/\([^ ]*\) .*#\1#' | paste -sd' ' | sed 's/^/   served by: /'; }; \
	queries() { for n in $$(seq $$1); do exec 3<>/dev/tcp/127.0.0.1/13307 && printf 'SELECT 1;' >&3 && \
	  timeout 2 head -c 9 <&3 > /dev/null; exec 3<&-; done; }; \
	cli "show stat mycat_servers 4 -1" | cut -d, -f1,2,5,18,19; \
	cli "set server mycat_servers/mycat_01 state maint"; \
	queries 4; served 4; \
	echo "   in haproxy.log: $$(grep -a 'audit: cli' demo-run/root/var/log/haproxy.log | tail -n1 | sed 's/.*\]: //')"; \
	echo "                   $$(grep -a 'mycat_01 is going DOWN for maintenance' demo-run/root/var/log/haproxy.log \
	  | tail -n1 | sed 's/.*\]: //')"; \
	echo "   > show servers state mycat_servers"; \
	echo "show servers state mycat_servers" | socat -t2 stdio UNIX-CONNECT:demo-run/admin.sock \
	  | awk 'NR > 2 && NF { print "     " $$4 ": srv_op_state " $$6 ", srv_admin_state " $$7 }'; \
	cli "set server mycat_servers/mycat_01 state ready"; \
	queries 4; served 4; \
	echo; echo "==> HTTP through the web listener (mode http, httplog): 4 requests, then the stats page"; \
	for path in / /index.html / /missing; do \
	  exec 3<>/dev/tcp/127.0.0.1/18080 && printf 'GET %s HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n' $$path >&3 && \
	  echo "   GET $$path -> $$(timeout 2 cat <&3 | tr -d '\r' | awk 'NR==1 {s=$$0} /^$$/ {b=1; next} b {print s " | " $$0; exit}')"; \
	  exec 3<&-; \
	done; \
	echo "   over HTTPS (bind 127.0.0.1:18443 ssl crt, a demo CA made in demo-run/tls): curl --cacert demo-run/tls/ca.pem"; \
	echo "   GET https://demo.tollgate.test:18443/ -> $$(curl -s -o /dev/null -w '%{http_code} over %{scheme}' \
	  --cacert demo-run/tls/ca.pem --resolve demo.tollgate.test:18443:127.0.0.1 https://demo.tollgate.test:18443/)"; \
	sleep 0.5; echo "   its httplog line (the TLS listener's frontend is web~): $$(grep -a ' web~ ' \
	  demo-run/root/var/log/haproxy.log | tail -n1 | sed 's/.*\]: //')"; \
	echo "   stats page: http://127.0.0.1:18800/admin-status (user admin, password admin; ;csv for CSV, /metrics for Prometheus)"; \
	exec 3<>/dev/tcp/127.0.0.1/18800 && printf 'GET /admin-status HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n' >&3 && \
	  echo "   without credentials: $$(timeout 2 head -n1 <&3 | tr -d '\r')"; exec 3<&-; \
	exec 3<>/dev/tcp/127.0.0.1/18800 && \
	  printf 'GET /admin-status HTTP/1.1\r\nHost: demo\r\nAuthorization: Basic %s\r\nConnection: close\r\n\r\n' \
	    "$$(printf admin:guess | base64)" >&3 && \
	  echo "   wrong password:      $$(timeout 2 head -n1 <&3 | tr -d '\r')"; exec 3<&-; \
	exec 3<>/dev/tcp/127.0.0.1/18800 && \
	  printf 'GET /admin-status;csv HTTP/1.1\r\nHost: demo\r\nAuthorization: Basic %s\r\nConnection: close\r\n\r\n' \
	    "$$(printf admin:admin | base64)" >&3 && \
	  timeout 2 cat <&3 | tr -d '\r' | awk '/^$$/ {b=1; next} b' | cut -d, -f1,2,5,8,18,37 | sed 's/^/   csv: /'; exec 3<&-; \
	sleep 0.5; kill $$(cat demo-run/proxy.pid) $$backends $$agent $$agent2 2>/dev/null; sleep 0.3; \
	sleep 0.3; kill $$(cat demo-run/sink.pid); \
	for i in $$(seq 50); do [ -e demo-run/sink.pid ] || break; sleep 0.1; done; \
	$(JOURNALD_STOP); \
	cat demo-run/sink.log; exit $$status
	@echo
	@echo "==> demo-run/root/var/log/haproxy.log, written by syslog-sink (the sample lines, then the proxy's own)"
	@cat demo-run/root/var/log/haproxy.log
	@head -n $$(wc -l < demo-run/haproxy.log) demo-run/root/var/log/haproxy.log | cmp -s - demo-run/haproxy.log \
	  && echo "(the sample lines: the same bytes as the demo's own rsyslog rendering in demo-run/haproxy.log)" \
	  || { echo "differs from demo-run/haproxy.log:"; diff demo-run/haproxy.log demo-run/root/var/log/haproxy.log; }
	@echo
	@echo "==> logquery backends demo-run/root/var/log/haproxy.log"
	@.build/debug/logquery backends demo-run/root/var/log/haproxy.log
	@echo
	@echo "==> logquery servers demo-run/root/var/log/haproxy.log"
	@.build/debug/logquery servers demo-run/root/var/log/haproxy.log
	@echo
	@echo "==> the proxy's HTTP lines and stats-page accesses: logquery lines --backend web --backend admin_stats"
	@.build/debug/logquery lines --backend web --backend admin_stats demo-run/root/var/log/haproxy.log
	@echo "==> logquery status --backend web"
	@.build/debug/logquery status --backend web demo-run/root/var/log/haproxy.log
	@echo "==> SQL (lnav's haproxy_log columns): logquery sql \"SELECT backend_name, server_name, count(*), avg(tt) …\""
	@.build/debug/logquery sql "SELECT backend_name, server_name, count(*) AS sessions, round(avg(tt), 1) AS avg_tt_ms, sum(status_code >= 500) AS errors_5xx FROM haproxy_log GROUP BY 1, 2" demo-run/root/var/log/haproxy.log
	@echo
	@echo "==> HAProxy's own halog reads it: halog -H -st (HTTP status counts), halog -c (lines)"
	@$$(command -v halog || echo /usr/sbin/halog) -q -H -st < demo-run/root/var/log/haproxy.log
	@$$(command -v halog || echo /usr/sbin/halog) -q -c < demo-run/root/var/log/haproxy.log
	@echo
	@echo "==> the same lines in journald (omjournal): journalctl -t haproxy HAPROXY_BACKEND=mycat_servers"
	@journalctl --no-pager -o short-iso -t haproxy HAPROXY_BACKEND=mycat_servers _PID=$$(cat demo-run/sink.pid.kept) \
	  2>/dev/null || echo "(journalctl cannot read the journal here)"
	@echo "==> journalctl -t haproxy -p err (errors only: the refused connection and the server going DOWN)"
	@journalctl --no-pager -o short-iso -t haproxy -p err _PID=$$(cat demo-run/sink.pid.kept) 2>/dev/null || true
	@echo
	@echo "==> the file is sealed: logquery verify --key demo-run/seal.pub demo-run/root/var/log/haproxy.log"
	@.build/debug/logquery verify --key demo-run/seal.pub demo-run/root/var/log/haproxy.log
	@echo "==> a copy with one byte changed on line 3 (scripts/tamper-line.sh 3: its first byte becomes X), verified"
	@cp demo-run/root/var/log/haproxy.log demo-run/tampered.log
	@cp demo-run/root/var/log/haproxy.log.seal demo-run/tampered.log.seal
	@scripts/tamper-line.sh 3 demo-run/tampered.log
	@.build/debug/logquery verify --key demo-run/seal.pub demo-run/tampered.log || true
	@echo "==> the audit trail: logquery events --audit demo-run/root/var/log/haproxy.log"
	@.build/debug/logquery events --audit demo-run/root/var/log/haproxy.log
	@echo "==> each checkpoint also left as an anchor (here in demo-run/root/var/log/syslog; in production at a central collector):"
	@grep -a 'audit: seal checkpoint' demo-run/root/var/log/syslog | tail -n1 | sed 's/^/   /'
	@echo "==> an intruder with root edits line 3 of the real file and deletes its sidecar: verify alone cannot check it"
	@scripts/tamper-line.sh 3 demo-run/root/var/log/haproxy.log
	@rm demo-run/root/var/log/haproxy.log.seal
	@.build/debug/logquery verify --key demo-run/seal.pub demo-run/root/var/log/haproxy.log || true
	@echo "==> the anchors still can: logquery verify --key demo-run/seal.pub --anchors demo-run/root/var/log/syslog …"
	@.build/debug/logquery verify --key demo-run/seal.pub --anchors demo-run/root/var/log/syslog \
	  demo-run/root/var/log/haproxy.log || true

bench: deps
	cd Benchmarks && $(SWIFT) package --allow-writing-to-package-directory benchmark --format markdown

release: deps
	$(SWIFT) build -c release
	@ls -l .build/release/proxy .build/release/syslog-sink .build/release/logquery

# Installation. `make install` builds and installs; `install-files` only copies what is built (BUILD=debug for a
# debug build). Configuration files are installed only where none exists yet: yours are never overwritten.
PREFIX ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= /etc
BUILD ?= release
BINDIR := $(PREFIX)/bin
DOCDIR := $(PREFIX)/share/doc/tollgate
MANDIR := $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system
MANPAGES := .build/plugins/GenerateManual/outputs
PROGRAMS := proxy syslog-sink logquery

install: release manpages install-files

manpages:
	$(SWIFT) package plugin generate-manual --configuration $(BUILD) --section 8 --authors Tollgate >/dev/null

install-files:
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DOCDIR)/examples/rsyslog.d $(DESTDIR)$(DOCDIR)/examples/scale-out $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(SYSCONFDIR)/tollgate $(DESTDIR)$(SYSCONFDIR)/logrotate.d $(DESTDIR)$(MANDIR)/man8
	for p in $(PROGRAMS); do install -m 755 .build/$(BUILD)/$$p $(DESTDIR)$(BINDIR)/$$p; done
	for p in $(PROGRAMS); do \
	  m=$$(ls $(MANPAGES)/*/$$p.8 2>/dev/null | head -1); \
	  if [ -n "$$m" ]; then install -m 644 $$m $(DESTDIR)$(MANDIR)/man8/$$p.8; fi; \
	done
	install -m 644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	install -m 644 conf/haproxy.cfg conf/rsyslog.conf $(DESTDIR)$(DOCDIR)/examples/
	install -m 644 conf/rsyslog.d/*.conf $(DESTDIR)$(DOCDIR)/examples/rsyslog.d/
	install -m 644 conf/scale-out/*.conf $(DESTDIR)$(DOCDIR)/examples/scale-out/
	@# The live configurations are made safe on install (existing ones are kept): the stats page listens on
	@# loopback with a password made now, the syslog receiver takes messages from this machine only, and the sink
	@# reads its own rules folder (not rsyslogd's /etc/rsyslog.d). README's "Installed defaults" says how to open them.
	install -d $(DESTDIR)$(SYSCONFDIR)/tollgate/rsyslog.d
	for f in conf/rsyslog.d/*.conf; do \
	  [ -e $(DESTDIR)$(SYSCONFDIR)/tollgate/rsyslog.d/$$(basename $$f) ] || \
	    install -m 644 $$f $(DESTDIR)$(SYSCONFDIR)/tollgate/rsyslog.d/; \
	done
	@if [ ! -e $(DESTDIR)$(SYSCONFDIR)/tollgate/haproxy.cfg ]; then \
	  password=$$(head -c 18 /dev/urandom | base64 | tr -d '/+='); \
	  sed -e 's/^\([[:space:]]*bind\) :48800/\1 127.0.0.1:48800/' -e "s/stats auth admin:admin/stats auth admin:$$password/" \
	    conf/haproxy.cfg > $(DESTDIR)$(SYSCONFDIR)/tollgate/haproxy.cfg; \
	  chmod 640 $(DESTDIR)$(SYSCONFDIR)/tollgate/haproxy.cfg; \
	  echo "==> stats page: http://127.0.0.1:48800/admin-status, user admin, password $$password (in $(SYSCONFDIR)/tollgate/haproxy.cfg)"; \
	fi
	@if [ ! -e $(DESTDIR)$(SYSCONFDIR)/tollgate/rsyslog.conf ]; then \
	  sed -e 's|^\$$UDPServerRun|$$AllowedSender UDP, 127.0.0.1, [::1]\n&|' \
	    -e 's|^\$$IncludeConfig /etc/rsyslog.d/|$$IncludeConfig $(SYSCONFDIR)/tollgate/rsyslog.d/|' \
	    conf/rsyslog.conf > $(DESTDIR)$(SYSCONFDIR)/tollgate/rsyslog.conf; \
	  chmod 644 $(DESTDIR)$(SYSCONFDIR)/tollgate/rsyslog.conf; \
	fi
	[ -e $(DESTDIR)$(SYSCONFDIR)/logrotate.d/tollgate ] || \
	  install -m 644 conf/logrotate.d/tollgate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/tollgate
	for u in tollgate-syslog-sink tollgate-proxy; do \
	  sed -e 's|/usr/local/bin/|$(BINDIR)/|g' -e 's|/usr/local/share/doc/tollgate|$(DOCDIR)|g' \
	    -e 's|/etc/tollgate/|$(SYSCONFDIR)/tollgate/|g' conf/systemd/$$u.service > $(DESTDIR)$(UNITDIR)/$$u.service; \
	  chmod 644 $(DESTDIR)$(UNITDIR)/$$u.service; \
	done
	@echo "==> installed under $(DESTDIR)$(PREFIX); configuration in $(DESTDIR)$(SYSCONFDIR)/tollgate"

uninstall:
	for p in $(PROGRAMS); do rm -f $(DESTDIR)$(BINDIR)/$$p $(DESTDIR)$(MANDIR)/man8/$$p.8; done
	rm -rf $(DESTDIR)$(DOCDIR)
	rm -f $(DESTDIR)$(UNITDIR)/tollgate-syslog-sink.service $(DESTDIR)$(UNITDIR)/tollgate-proxy.service

clean:
	rm -rf .build Benchmarks/.build demo-run
