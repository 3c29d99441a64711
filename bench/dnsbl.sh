#!/bin/bash
# bench/dnsbl.sh — `relayguard dnsbl` side by side with rbldnsd serving the same zone (the
# store exported with `relayguard list export rbldnsd`), both asked by dnsperf on loopback.
# Half of the queries are for listed addresses (A 127.0.0.x), half for unlisted ones (NXDOMAIN).
# Response-rate limiting is off (dnsperf is one client: it would be limited to 100/s).
# Usage: bench/dnsbl.sh [-n ENTRIES] [-l SECONDS] [-q QUERIES] [-P PERF_DATA]
#   defaults: 1,000,000 listed /32s, 10 s per server, 200,000 distinct query names
#   -P: record `perf record -g` of relayguard while it is asked (then `perf report -i FILE`)
set -euo pipefail
cd "$(dirname "$0")/.."
N=1000000 SECONDS_PER=10 Q=200000 PERF=
while getopts n:l:q:P: o; do case $o in n) N=$OPTARG ;; l) SECONDS_PER=$OPTARG ;; q) Q=$OPTARG ;; P) PERF=$OPTARG ;; *) exit 2 ;; esac; done
for tool in dnsperf rbldnsd; do
	command -v $tool >/dev/null || { echo "bench/dnsbl.sh: $tool is not installed (scripts/deps.sh test)" >&2; exit 1; }
done
make -s build/relayguard
BIN=$PWD/build/relayguard
DIR=$(mktemp -d /var/tmp/relayguard-dnsbl-bench.XXXXXX)
chmod 0755 "$DIR"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P1=$(port) P2=$(port)
ZONE=bl.bench.test
cat > "$DIR/rg.conf" <<CONF
hostname ns.bench.test
listen 127.0.0.1:9
spool $DIR/spool
blocklist-database $DIR/db/blocklist.db
blocklist-zone $ZONE
blocklist-listen 127.0.0.1:$P1
blocklist-url https://bl.bench.test/lookup?ip=
blocklist-rate-limit off
CONF
"$BIN" list add 192.0.2.1 --reason "bench" -c "$DIR/rg.conf"
# N listed /32s in 10.0.0.0/8 and up (every other address), straight into the store's schema
/usr/bin/python3 - "$DIR/db/blocklist.db" "$N" "$Q" "$ZONE" "$DIR/queries" <<'PY'
import random, sqlite3, sys
db, n, q, zone, qfile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
def ip(i):
    v = (10 << 24) + 2 * i
    return [(v >> s) & 255 for s in (24, 16, 8, 0)]
con = sqlite3.connect(db)
rows = ((".".join(map(str, o)) + "/32", bytes(10) + b"\xff\xff" + bytes(o), 128, 2,
         "open relay (bench)", 1, 1, "listed") for o in map(ip, range(n)))
con.executemany("INSERT INTO entries(net,addr,prefix,code,txt,first_seen,last_seen,state)"
                " VALUES(?,?,?,?,?,?,?,?)", rows)
con.commit()
rnd = random.Random(1)
with open(qfile, "w") as f:
    for k in range(q):
        o = ip(rnd.randrange(n))
        if k % 2:
            o[3] |= 1  # the odd neighbour: not listed
        f.write("%d.%d.%d.%d.%s A\n" % (o[3], o[2], o[1], o[0], zone))
PY
"$BIN" list export rbldnsd "$DIR/ip4" --ip6 "$DIR/ip6" -c "$DIR/rg.conf"
chmod 0644 "$DIR/ip4" "$DIR/ip6"
"$BIN" dnsbl -c "$DIR/rg.conf" 2>"$DIR/dnsbl.log" &
PIDS+=($!)
rbldnsd -n -u nobody -b 127.0.0.1/$P2 -w "$DIR" $ZONE:ip4set:ip4 $ZONE:ip6trie:ip6 2>"$DIR/rbldnsd.log" &
PIDS+=($!)
for p in $P1 $P2; do
	up=no
	for _ in $(seq 1 600); do
		[ "$(dig +short +time=1 +tries=1 @127.0.0.1 -p $p 2.0.0.127.$ZONE A)" = 127.0.0.2 ] &&
			up=yes && break
		sleep 0.1
	done
	if [ $up = no ]; then
		echo "dnsbl.sh: the server on port $p does not answer" >&2
		cat "$DIR/dnsbl.log" "$DIR/rbldnsd.log" >&2
		exit 1
	fi
done
run() { # name port → "qps avg_ms"
	dnsperf -s 127.0.0.1 -p "$2" -d "$DIR/queries" -l "$SECONDS_PER" -c 1 -q 200 2>&1 |
		awk '/Queries per second/ {q=$4} /Average Latency/ {l=$4*1000} /Queries lost/ {lost=$3}
		     END {printf "%s %.3f %s\n", q, l, lost}'
}
read -r RQ RL RLOST < <(run rbldnsd $P2)
[ -n "$PERF" ] && { perf record -g -o "$PERF" -p "${PIDS[0]}" 2>/dev/null & PERF_PID=$!; sleep 0.5; }
read -r GQ GL GLOST < <(run relayguard $P1)
[ -n "$PERF" ] && { kill -INT $PERF_PID; wait $PERF_PID || true; }
printf "\n%d entries, %d distinct names (half listed), %ss each, dnsperf -q 200, loopback\n" "$N" "$Q" "$SECONDS_PER"
printf "| server | queries/s | avg latency (ms) | lost |\n| --- | ---: | ---: | ---: |\n"
printf "| rbldnsd | %s | %s | %s |\n| relayguard dnsbl | %s | %s | %s |\n" "$RQ" "$RL" "$RLOST" "$GQ" "$GL" "$GLOST"
awk -v a="$GQ" -v b="$RQ" 'BEGIN {printf "ratio relayguard/rbldnsd: %.2fx\n", a / b}'
