version=2
# nginx "combined" access log line, as read by imfile
rule=nginx,access:%clientip:ipv4% - %user:word% [%time:char-to:]%] "%verb:word% %request:word% HTTP/%httpversion:float%" %status:number% %bytes:number% "%referrer:char-to:"%" "%agent:char-to:"%"%tail:rest%
