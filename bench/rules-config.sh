# Shared by bench/rules-vs-haproxy.sh and bench/http-instructions.sh (RULES=1), sourced after proxy-common.sh:
# a 10,000-network blocklist, an errorfile, and rules_config PORT, an HTTP configuration with the rules real files
# carry (20 ACL tests, the blocklist, request and response rewrites, a redirect) that a plain GET / passes.
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

