#!/bin/sh
# Changes one byte of a file in place, as an intruder's `sed -i` would: the first
# byte of line LINE becomes 'X' (or 'Y' when it already is 'X'), whatever the line
# holds, so the change is real on any date. Used by `make demo` to show that
# `logquery verify` names the edited line.
# Usage: scripts/tamper-line.sh LINE FILE
set -eu
[ $# -eq 2 ] || { echo "usage: $0 LINE FILE" >&2; exit 2; }
line=$1
file=$2
case $line in *[!0-9]*|'') echo "$0: LINE must be a number" >&2; exit 2;; esac
[ "$(wc -l < "$file")" -ge "$line" ] || { echo "$0: $file has fewer than $line lines" >&2; exit 1; }
sed -i "${line}{s/^X/Y/;t;s/^./X/}" "$file"
