version=2
# snmptrapd lines: "YYYY-MM-DD HH:MM:SS UDP: [a.b.c.d]:port->[a.b.c.d]:port: text"
rule=snmp_trap:%day:date-iso% %time:time-24hr% UDP: [%trap_src_ip:ipv4%]:%trap_src_port:number%->[%trap_dst_ip:ipv4%]:%trap_dst_port:number%: %message:rest%
