#!/bin/bash
# Regenerates verdicts.tsv: runs Debian's rsyslogd -N1 on every NN-*.conf, then
# every NNN-*.conf, of this folder after replacing @CORPUS@ with the folder's
# absolute path.
# Needs: rsyslog rsyslog-gnutls rsyslog-openssl rsyslog-relp rsyslog-kafka
#        rsyslog-elasticsearch rsyslog-pgsql rsyslog-mysql rsyslog-kubernetes
# Usage: ./verdicts.sh [> verdicts.tsv]
set -u
here=$(cd "$(dirname "$0")" && pwd)
printf 'file\trsyslogd\tfirst_error\n'
for path in "$here"/[0-9][0-9]-*.conf "$here"/[0-9][0-9][0-9]-*.conf; do
  name=$(basename "$path")
  tmp=$(mktemp -d /tmp/rsyslog-corpus.XXXXXX)
  sed "s#@CORPUS@#$here#g" "$path" > "$tmp/$name"
  out=$(cd "$tmp" && rsyslogd -N1 -f "$tmp/$name" 2>&1)
  rc=$?
  rm -rf "$tmp"
  if [ "$rc" -eq 0 ]; then
    printf '%s\tvalid\t\n' "$name"
  else
    first=$(printf '%s\n' "$out" \
      | grep -v -e '^rsyslogd: version .*config validation run' -e 'End of config validation run' \
      | head -n 1 | sed -e "s#$tmp/##g" -e "s#$tmp#.#g" -e "s#$here#@CORPUS@#g" | tr '\t' ' ')
    printf '%s\tinvalid\t%s\n' "$name" "$first"
  fi
done
