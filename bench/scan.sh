#!/bin/bash
# bench/scan.sh — scanner throughput (not a test): N closed relayguard hosts on loopback
# addresses 127.0.2.1..N, all on one port, scanned by `relayguard scan` at a given concurrency
# with the connection rate limit off (--rate 0); prints the scan's summary (hosts/min). Each
# address is given -x times (a target list of N*x host scans; --min-interval 0).
# Usage: bench/scan.sh [-n HOSTS] [-x TIMES] [-c CONCURRENCY] [-r REPS]
#        (defaults: 32 hosts, 10 times, concurrency 16, 3 repetitions)
set -euo pipefail
cd "$(dirname "$0")/.."
N=32 X=10 C=16 REPS=3
while getopts n:x:c:r: o; do case $o in n) N=$OPTARG ;; x) X=$OPTARG ;; c) C=$OPTARG ;; r) REPS=$OPTARG ;; *) exit 2 ;; esac; done
[ "$N" -ge 1 ] && [ "$N" -le 250 ] || { echo "scan.sh: -n 1..250" >&2; exit 2; }
make -s build/relayguard
BIN=$PWD/build/relayguard
STATE=/var/tmp/relayguard-bench-scan
rm -rf "$STATE" && mkdir -p "$STATE" && chmod 711 "$STATE"
# one port free on every address (they are all on lo: a port free on one is free on all but
# what another program bound to a single 127.0.2.x address)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.2.1", 0)); print(s.getsockname()[1])')
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
for i in $(seq "$N"); do
	d=$STATE/h$i
	mkdir -p "$d" && chmod 711 "$d"
	cat > "$d/relayguard.conf" <<CONF
hostname h$i.bench.test
listen 127.0.2.$i:$PORT
spool $d/spool
mail-root $d/mail
state-dir $d/state
control-socket $d/run/relayguard.sock
local-domain bench.test
mailbox postmaster
dns-server 127.0.0.1:9
self-audit off
CONF
	"$BIN" serve -c "$d/relayguard.conf" > "$d/log" 2>&1 &
	PIDS+=($!)
done
for i in $(seq "$N"); do  # bounded wait for every listener
	for _ in $(seq 100); do
		python3 -c "import socket; socket.create_connection(('127.0.2.$i', $PORT), 0.2).close()" 2>/dev/null && break
		sleep 0.1
	done
done
cat > "$STATE/scan.conf" <<CONF
listen 127.0.0.1:9
spool $STATE/spool
blocklist-database $STATE/blocklist.db
scan-source 127.0.0.2
CONF
TARGETS=$(for _ in $(seq "$X"); do seq -f "127.0.2.%g" 1 "$N"; done)
echo "== $N closed relayguard hosts x $X, port $PORT, concurrency $C, rate unlimited, $(nproc) cores"
for rep in $(seq "$REPS"); do
	# shellcheck disable=SC2086
	"$BIN" scan -c "$STATE/scan.conf" --allow-reserved --min-interval 0 --rate 0 \
	    --concurrency "$C" --ports "$PORT" $TARGETS |
	    tail -1 | sed "s/^/rep $rep: /"
done
