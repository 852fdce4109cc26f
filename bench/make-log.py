#!/usr/bin/env python3
"""Writes a synthetic /var/log/haproxy.log: N lines of httplog (and a few tcplog) behind rsyslog's traditional
prefix, about 174 bytes a line like the file halog's figures were measured on. Deterministic for a given N."""
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 3_000_000
out = sys.argv[2] if len(sys.argv) > 2 else "/dev/stdout"
rng = random.Random(42)
statuses = [200] * 70 + [304] * 10 + [301] * 4 + [404] * 8 + [500] * 3 + [503] * 3 + [400, -1]
paths = ["/", "/index.html", "/api/v1/items?page=2", "/static/app.5f3a.js", "/api/v1/orders", "/login", "/img/logo.png"]
with open(out, "w") as f:
    for i in range(n):
        sec = i // 1000
        t = f"{(sec // 3600) % 24:02d}:{(sec // 60) % 60:02d}:{sec % 60:02d}"
        ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}:{rng.randrange(1024, 65535)}"
        if i % 50 == 49:
            f.write(f"Nov 26 {t} localhost haproxy[6296]: {ip} [26/Nov/2026:{t}.{i % 1000:03d}] mycat mycat/m{i % 2 + 1} "
                    f"0/{rng.randrange(3)}/{rng.randrange(9000)} {rng.randrange(100000)} -- 3/2/2/1/0 0/0\n")
            continue
        st = rng.choice(statuses)
        tc, tr = (-1, -1) if st == 503 else (rng.randrange(5), rng.randrange(300))
        term = "SC--" if st == 503 else ("CR--" if st == 400 else "----")
        f.write(f"Nov 26 {t} localhost haproxy[6296]: {ip} [26/Nov/2026:{t}.{i % 1000:03d}] fe_http be_app/s{i % 4 + 1} "
                f"0/0/{tc}/{tr}/{max(tr, 0) + rng.randrange(20)} {st} {rng.randrange(200, 90000)} - - {term} 12/12/3/1/0 0/0 "
                f"\"GET {rng.choice(paths)} HTTP/1.1\"\n")
