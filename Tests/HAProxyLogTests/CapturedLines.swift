// Datagrams captured from Debian's HAProxy 2.6.12 (shared knowledge of its formats records them), as they
// arrived: syslog header and log line. The tests require that each line parses and formats back byte for byte.
let capturedTrafficDatagrams = [
    "<134>Nov 26 08:51:05 haproxy[6296]: 127.0.0.1:37748 [26/Nov/2026:08:51:05.487] fe_tcp be_tcp/t1 1/0/1 190 -- 1/1/0/0/0 0/0",
    "<134>Nov 26 08:51:02 haproxy[6296]: 127.0.0.1:44124 [26/Nov/2026:08:51:02.451] fe_http be_http/s1 0/0/0/0/0 200 185 - - ---- 1/1/0/0/0 0/0 {127.0.0.1:8080|Mozilla/5.0 #22x#22 #7By#7D#7Cz} {text/html} \"GET /index.html?a=1 HTTP/1.1\"",
    "<131>Nov 26 08:51:05 haproxy[6296]: 127.0.0.1:38418 [26/Nov/2026:08:51:02.480] fe_err be_dead/d1 0/0/-1/-1/3003 503 217 - - SC-- 1/1/0/0/3 0/0 \"GET / HTTP/1.1\"",
    "<134>Nov 26 08:52:25 myhost mytag[9031]: 127.0.0.1:43076 [26/Nov/2026:08:52:25.610] fe_tag fe_tag/<NOSRV> 0/-1/-1/-1/0 403 192 - - PR-- 1/1/0/0/0 0/0 \"GET /deny HTTP/1.1\"",
    "<134>Nov 26 08:52:25 myhost mytag[9031]: 127.0.0.1:43088 [26/Nov/2026:08:52:25.617] fe_tag fe_tag/<NOSRV> 0/-1/-1/-1/0 302 83 - - LR-- 1/1/0/0/0 0/0 \"GET /redir HTTP/1.1\"",
    "<134>Nov 26 08:52:25 myhost haproxy[9031]: 127.0.0.1:51784 [26/Nov/2026:08:52:25.624] stats stats/<STATS> 0/0/0/0/0 200 26086 - - LR-- 1/1/0/0/0 0/0 \"GET /stats HTTP/1.1\"",
    "<134>Nov 26 08:52:25 myhost mytag[9031]: 127.0.0.1:43104 [26/Nov/2026:08:52:25.636] fe_tag fe_tag/<NOSRV> -1/-1/-1/-1/0 400 0 - - CR-- 1/1/0/0/0 0/0 \"<BADREQ>\"",
    "<134>Nov 26 09:08:04 myhost mytag[24270]: 127.0.0.1:35348 [26/Nov/2026:09:08:02.657] fe_tag fe_tag/<NOSRV> -1/-1/-1/-1/2001 408 0 - - cR-- 1/1/0/0/0 0/0 \"<BADREQ>\"",
    "<134>Nov 26 08:52:25 myhost haproxy[9031]: 127.0.0.1:57890 [26/Nov/2026:08:52:25.599] fe_asap be_l4/a1 0/0/0/3/+3 200 +179 - - ---- 1/1/1/1/0 0/0 \"GET / HTTP/1.1\"",
    "<134>Nov 26 08:51:02 haproxy[6296]: 127.0.0.1 - - [26/Nov/2026:08:51:02 +0000] \"GET / HTTP/1.1\" 200 185 \"\" \"\" 42232 461 \"fe_clf\" \"be_http\" \"s1\" 0 0 0 1 1 ---- 1 1 0 0 0 0 0 \"\" \"\" ",
]

let capturedEventDatagrams = [
    "<129>Nov 26 08:50:58 haproxy[6296]: Server be_http/s2 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
    "<133>Nov 26 08:52:00 haproxy[6296]: Server be_http/s2 is UP, reason: Layer7 check passed, code: 200, check duration: 1ms. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.",
    "<128>Nov 26 08:52:08 haproxy[6296]: backend be_http has no server available!",
    "<133>Nov 26 08:52:10 haproxy[6296]: Server be_http/s1 was DOWN and now enters maintenance.",
    "<133>Nov 26 08:52:11 haproxy[6296]: Server be_http/s1 is UP/READY (leaving forced maintenance).",
    "<129>Nov 26 08:52:32 myhost haproxy[9031]: Server be_l4/a1 is going DOWN for maintenance. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
    "<133>Nov 26 08:52:22 myhost haproxy[9031]: Health check for server be_l4/a1 failed, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms, status: 0/2 DOWN.",
    "<129>Nov 26 08:52:22 myhost haproxy[9031]: Server be_l4/a1 is DOWN. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
    "<133>Nov 26 08:52:24 myhost haproxy[9031]: Health check for server be_l4/a1 succeeded, reason: Layer4 check passed, check duration: 0ms, status: 3/3 UP.",
    "<133>Nov 26 08:52:24 myhost haproxy[9031]: Server be_l4/a1 is UP. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.",
    "<132>Nov 26 08:52:35 myhost haproxy[9031]: Proxy fe_asap stopped (cumulated conns: FE: 2, BE: 0).",
    // From HAProxy 2.6.12's runtime API (`set server be/s1 state drain`, then `ready`).
    "<133>Dec  6 21:01:49 haproxy[31012]: Server be/s1 enters drain state. 0 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.",
    "<133>Dec  6 21:01:49 haproxy[31012]: Server be/s1 is UP (leaving forced drain).",
    "<133>Dec  6 21:02:38 haproxy[31012]: Server be/s2 is UP/DRAIN (leaving forced maintenance).",
    "<133>Dec  6 21:02:38 haproxy[31012]: Server be/s2 remains in forced drain mode.",
]
