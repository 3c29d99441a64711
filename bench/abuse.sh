#!/bin/bash
# bench/abuse.sh — what the abuse controls cost: relayguard with a DNS list (Debian's rbldnsd on
# loopback), greylisting (the client has passed) and rate limits all checked for every session
# and recipient ("on"), against the same server with the client trusted, which skips them all
# ("off"); Postfix alongside for scale. Interleaved repetitions in one run (peers.sh), M1 and
# W1 workloads, end to end.
# Usage: bench/abuse.sh [-r REPS] [-n MESSAGES]      (defaults: 3 repetitions, 3000 messages)
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS_SH=${PEERS_SH:-../shared/bench/peers.sh}
REPS=3 N=3000
while getopts r:n: o; do case $o in r) REPS=$OPTARG ;; n) N=$OPTARG ;; *) exit 2 ;; esac; done
make -s build/relayguard
STATE=/var/tmp/relayguard-bench-abuse
rm -rf "$STATE" && mkdir -p "$STATE/rbl"
# the list: the RFC 5782 test entry and a few thousand other addresses, never 127.0.0.1
{ echo ":127.0.0.2:listed for the benchmark"; echo "127.0.0.2";
  for a in $(seq 1 20); do for b in $(seq 1 250); do echo "10.9.$a.$b"; done; done; } \
    > "$STATE/rbl/bench.zone"
RBL_PORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/sbin/rbldnsd -n -t 300 -w "$STATE/rbl" -b "127.0.0.1/$RBL_PORT" bl.bench.test:ip4set:bench.zone &
RBL_PID=$!
trap 'kill $RBL_PID 2>/dev/null || true' EXIT
# BENCH_NETNS=0: the servers run on the host's loopback, where rbldnsd answers
export RELAYGUARD_BIN=$PWD/build/relayguard DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-120} BENCH_NETNS=0
export RELAYGUARD_BENCH_DNS=127.0.0.1:$RBL_PORT RELAYGUARD_BENCH_DNSBL=bl.bench.test
bash "$PEERS_SH" --setup-only -p postfix >/dev/null 2>&1  # the sink, the Maildir user
for rep in $(seq "$REPS"); do
	for mode in off on; do
		echo "== repetition $rep, abuse controls $mode"
		RELAYGUARD_BENCH_ABUSE=$mode RELAYGUARD_BENCH_STATE=$STATE/$mode \
		CUSTOM_CMD="sh $PWD/bench/custom.sh" CUSTOM_NAME="relayguard-$mode" \
		CUSTOM_CLEAN_CMD="rm -rf $STATE/$mode/spool" \
		    bash "$PEERS_SH" --no-setup -p "custom" -w "M1 W1" -r 1 -n "$N" -c 50 2>&1 |
		    grep -E "^(custom|postfix) +(M1|W1) " | head -2 | sed "s/^/$mode /"
	done
done
