version=2
# relayed firewall lines: "<pri>Mon dd hh:mm:ss host %FW-4-1234: text"
prefix=<%pri:number%>
rule=relayed_fw:%inner_time:date-rfc3164% %inner_host:word% \x25FW-%fw_level:number%-%fw_event:number%: %message:rest%
annotate=relayed_fw:+sourcetype="col:syslog:firewall"
