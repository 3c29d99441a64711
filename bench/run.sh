#!/bin/bash
# bench/run.sh — relayguard side by side with Postfix, in one run, with Postfix's smtp-source:
# 1 recipient, 50 concurrent sessions, end to end (received, durably queued, delivered):
#   W1: 4 KB, 1 message per session, relayed to Postfix's smtp-sink;
#   W2: 4 KB, 10 messages per session, relayed to smtp-sink;
#   W3: 100 KB, 1 message per session, relayed to smtp-sink;
#   M1: 4 KB, 1 message per session, delivered to Maildir (both servers fsync before 250 and
#       before the Maildir file is final).
# Then the fsync count per message of each server (strace -c -f).
# Usage: bench/run.sh [-r REPS] [-n MESSAGES]      (defaults: 3 repetitions, 5000 messages)
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS_SH=${PEERS_SH:-../shared/bench/peers.sh}
REPS=3 N=5000
while getopts r:n: o; do case $o in r) REPS=$OPTARG ;; n) N=$OPTARG ;; *) exit 2 ;; esac; done
make -s build/relayguard
export CUSTOM_CMD="sh $PWD/bench/custom.sh" CUSTOM_NAME=relayguard
export RELAYGUARD_BIN=$PWD/build/relayguard RELAYGUARD_BENCH_STATE=/var/tmp/relayguard-bench
export CUSTOM_CLEAN_CMD="rm -rf /var/tmp/relayguard-bench/spool"
export DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-120}
bash "$PEERS_SH" -p "postfix custom" -w "${WORKLOADS:-W1 W2 W3 M1}" -r "$REPS" -n "$N" -c 50
bash "$PEERS_SH" --no-setup -p "postfix custom" --probe-fsync
