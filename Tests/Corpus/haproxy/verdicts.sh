#!/bin/sh
# Regenerates verdicts.tsv with the local haproxy (expects 2.6).
# Relative paths in the configs (certs/, files/) resolve against the
# working directory, so this runs from the corpus folder with a clean env.
set -eu
cd "$(dirname "$0")"
out=verdicts.tsv
printf 'file\thaproxy\tfirst_alert\n' > "$out"
for f in [0-9][0-9]-*.cfg [0-9][0-9][0-9]-*.cfg; do
    [ -e "$f" ] || continue
    log=$(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin haproxy -c -f "$f" 2>&1) && rc=0 || rc=$?
    if [ "$rc" -eq 0 ]; then
        printf '%s\tvalid\t\n' "$f" >> "$out"
    else
        alert=$(printf '%s\n' "$log" | grep -m1 '^\[ALERT\]' | sed -e 's/^\[ALERT\] *([0-9]*) : //' | tr '\t' ' ')
        printf '%s\tinvalid\t%s\n' "$f" "$alert" >> "$out"
    fi
done
