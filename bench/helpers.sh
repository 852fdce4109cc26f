# Sourced by bench/common.sh and bench/proxy-common.sh: small helpers every benchmark uses.
# median: the median of the numbers on standard input, one per line (the mean of the middle two for an even count).
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2==1) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# free_port: a loopback TCP port nothing listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
