#!/bin/bash
# bench/abuse_store.sh — the SQLite abuse store alone (bench/abuse_store.c): S sessions at once,
# 4 requests per message as a session with every abuse control on makes them. Compares this
# tree's store with another tree's (-b DIR, e.g. an export of main) when given.
# Usage: bench/abuse_store.sh [-r REPS] [-s SESSIONS] [-n MESSAGES] [-b OTHER_TREE]
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=3 S=50 N=20000 OTHER=
while getopts r:s:n:b: o; do
	case $o in r) REPS=$OPTARG ;; s) S=$OPTARG ;; n) N=$OPTARG ;; b) OTHER=$OPTARG ;; *) exit 2 ;; esac
done
TMP=$(mktemp -d /tmp/rg-abuse-store-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
build() { # tree out
	make -s -C "$1" build/librelayguard.a
	local LIBS
	LIBS=$(make -s -C "$1" --eval 'bench-print-libs: ; @echo $(LDLIBS)' bench-print-libs)
	cc -O2 -std=c11 -D_GNU_SOURCE -I"$1/src" -I/usr/include/hiredis -o "$2" bench/abuse_store.c \
	    "$1/build/librelayguard.a" $LIBS
}
build . "$TMP/this"
[ -n "$OTHER" ] && build "$OTHER" "$TMP/other"
for rep in $(seq "$REPS"); do
	for t in this ${OTHER:+other}; do
		rm -f "$TMP"/db*
		echo "$rep $t $("$TMP/$t" "$TMP/db" "$S" "$N")"
	done
done
