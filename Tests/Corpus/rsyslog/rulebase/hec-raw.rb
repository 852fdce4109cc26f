version=2
# switches that send "<pri>seq: Mon dd hh:mm:ss: %AREA-5-CODE: text"
prefix=<%pri:number%>
rule=switch_seq:%seqno:number%: %inner_time:date-rfc3164%: \x25%area:char-to:-%-%level:number%-%code:char-to:\x3a%: %message:rest%
annotate=switch_seq:+sourcetype="col:syslog:switch"
