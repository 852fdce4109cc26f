version=2
rule=sshd,login:Accepted %auth:word% for %user:word% from %src:ipv4% port %port:number% %proto:word%
rule=sshd,fail:Failed %auth:word% for %user:word% from %src:ipv4% port %port:number% %proto:word%
