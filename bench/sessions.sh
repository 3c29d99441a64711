#!/bin/sh
# bench/sessions.sh — memory per held SMTP session: relayguard vs Postfix in one run.
#
#   bench/sessions.sh [-n N] [-p PF_N] [-s SOURCES] [-m "idle data"]
#
# relayguard: N sessions (default 5000) from 127.0.0.2..(1+SOURCES), held after EHLO ("idle")
# and then N held in the middle of DATA ("data"); VmRSS (/proc/PID/status) and PSS
# (/proc/PID/smaps_rollup) of the server at 0 and at N sessions, the open fds, and
# (RSS at N - RSS at 0) / N in KiB. The client (bench/sessions_hold.py) also measures the banner
# latency while the N are held.
# Postfix (a private instance made from ../shared/bench/peers.sh's config, port 2535, its own
# queue): PF_N sessions (default 100 = Postfix's default_process_limit; -p raises the limit to
# match), one smtpd process each (and one cleanup per session in DATA); its cost is the sum over
# those processes of RSS and of PSS (shared pages split fairly), divided by PF_N.
# Everything on loopback; only processes this script started are stopped (by PID).
set -eu
N=5000
PF_N=100
SOURCES=20
MODES="idle data"
while getopts n:p:s:m: o; do
	case $o in
	n) N=$OPTARG ;;
	p) PF_N=$OPTARG ;;
	s) SOURCES=$OPTARG ;;
	m) MODES=$OPTARG ;;
	*) exit 2 ;;
	esac
done
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${RELAYGUARD_BIN:-$HERE/../build/relayguard}
STATE=${SESSIONS_STATE:-/var/tmp/relayguard-sessions}
PEERS=${PEERS_SH:-$HERE/../../shared/bench/peers.sh}
PF_SRC=/opt/peers/conf/postfix
RG_PORT=2534
PF_PORT=2535
HOLD=/usr/bin/python3
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

kib() { awk -v k="$2" '$1 == k":" { print $2 }' "$1" 2>/dev/null || echo 0; }
rss() { kib /proc/"$1"/status VmRSS; }
pss() { kib /proc/"$1"/smaps_rollup Pss; }
fds() { ls /proc/"$1"/fd 2>/dev/null | wc -l; }

# hold MODE PORT N RCPT: start the client, wait (bounded) for its result line; echo its PID
hold() {
	rm -f "$STATE/ready"
	"$HOLD" "$HERE/sessions_hold.py" --port "$2" --n "$3" --sources "$SOURCES" --mode "$1" \
		--rcpt "$4" --hold 600 --ready "$STATE/ready" >"$STATE/hold.log" 2>&1 &
	hold_pid=$!
	i=0
	while [ ! -s "$STATE/ready" ] && [ $i -lt 1200 ] && kill -0 $hold_pid 2>/dev/null; do
		sleep 0.25
		i=$((i + 1))
	done
	sleep 2 # let the server settle (last replies written, buffers released)
}
unhold() {
	kill "$hold_pid" 2>/dev/null || true
	wait "$hold_pid" 2>/dev/null || true
	sleep 2
}

rg_run() {
	rm -rf "$STATE/rg"
	mkdir -p "$STATE/rg/mail"
	cat >"$STATE/rg/relayguard.conf" <<CONF
hostname bench-sessions.localdomain
listen 127.0.0.1:$RG_PORT
spool $STATE/rg/spool
mail-root $STATE/rg/mail
state-dir $STATE/rg/state
control-socket $STATE/rg/run/relayguard.sock
local-domain bench.test
mailbox user
dns-server 127.0.0.1:9
limit max-sessions $((N + 100))
limit max-sessions-per-ip 0
limit command-timeout 10m
limit data-timeout 10m
CONF
	chown -R relayguard "$STATE/rg" 2>/dev/null || true
	"$BIN" serve -c "$STATE/rg/relayguard.conf" >"$STATE/rg/server.log" 2>&1 &
	rg_pid=$!
	i=0
	until grep -q "server: started" "$STATE/rg/server.log" 2>/dev/null || [ $i -gt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	grep -E "file descriptor" "$STATE/rg/server.log" | sed 's/^/  relayguard log: /' || true
	# one session first, so libevent and the TLS/SASL libraries are warm at "0 sessions"
	"$HOLD" "$HERE/sessions_hold.py" --port $RG_PORT --n 1 --sources 1 --probes 0 --hold 0 \
		--ready "$STATE/ready" >/dev/null 2>&1
	sleep 1
	r0=$(rss $rg_pid)
	p0=$(pss $rg_pid)
	f0=$(fds $rg_pid)
	echo "relayguard 0 sessions: rss=${r0}KiB pss=${p0}KiB fds=$f0"
	for mode in $MODES; do
		hold "$mode" $RG_PORT "$N" user@bench.test
		r=$(rss $rg_pid)
		p=$(pss $rg_pid)
		f=$(fds $rg_pid)
		held=$(sed 's/.*held=\([0-9]*\).*/\1/' "$STATE/ready")
		echo "relayguard $mode: $(cat "$STATE/ready")"
		echo "relayguard $mode $held sessions: rss=${r}KiB pss=${p}KiB fds=$f" \
			"per_session_rss=$(((r - r0) * 1000 / (held > 0 ? held : 1)))e-3KiB" \
			"per_session_pss=$(((p - p0) * 1000 / (held > 0 ? held : 1)))e-3KiB"
		unhold
		echo "relayguard after $mode closed: rss=$(rss $rg_pid)KiB fds=$(fds $rg_pid)"
		grep "memory returned to the system" "$STATE/rg/server.log" | tail -1 |
			sed 's/^/  relayguard log: /'
	done
	kill $rg_pid
	wait $rg_pid 2>/dev/null || true
}

# the smtpd (and cleanup) processes of our Postfix master: "count rss pss" summed
pf_cost() {
	for p in $(pgrep -P "$1" -x "$2" 2>/dev/null); do
		echo "$(rss $p) $(pss $p)"
	done | awk '{ r += $1; p += $2; n++ } END { printf "%d %d %d\n", n, r, p }'
}

pf_run() {
	if [ ! -f $PF_SRC/main.cf ]; then
		"$PEERS" --setup-only >/dev/null 2>&1 || { echo "postfix: peers.sh setup failed"; return; }
	fi
	d=$STATE/postfix
	mkdir -p "$d/conf" "$d/queue" "$d/data"
	chown postfix "$d/data"
	sed -e "s|^queue_directory = .*|queue_directory = $d/queue|" \
		-e "s|^data_directory = .*|data_directory = $d/data|" \
		-e "s|^maillog_file = .*|maillog_file = $d/maillog|" $PF_SRC/main.cf >"$d/conf/main.cf"
	echo "default_process_limit = $((PF_N + 30))" >>"$d/conf/main.cf" # + the probes
	sed "s|^127.0.0.1:2525 |127.0.0.1:$PF_PORT |" $PF_SRC/master.cf >"$d/conf/master.cf"
	postfix -c "$d/conf" stop >/dev/null 2>&1 || true # ours, left by an interrupted run
	postfix -c "$d/conf" start >/dev/null 2>&1 || { echo "postfix: cannot start"; return; }
	sleep 2
	mpid=$(tr -d ' ' <"$d/queue/pid/master.pid")
	for mode in $MODES; do
		hold "$mode" $PF_PORT "$PF_N" rcpt@relay.test
		echo "postfix $mode: $(cat "$STATE/ready")"
		set -- $(pf_cost "$mpid" smtpd)
		n=$1 r=$2 p=$3
		c="0 0 0"
		[ "$mode" = data ] && c=$(pf_cost "$mpid" cleanup)
		set -- $c
		r=$((r + $2)) p=$((p + $3))
		echo "postfix $mode: smtpd=$n cleanup=$1 rss_sum=${r}KiB pss_sum=${p}KiB" \
			"per_session_rss=$((r / (n > 0 ? n : 1)))KiB per_session_pss=$((p / (n > 0 ? n : 1)))KiB"
		unhold
	done
	postfix -c "$d/conf" stop >/dev/null 2>&1 || true
}

mkdir -p "$STATE"
echo "# bench/sessions.sh -n $N -p $PF_N -s $SOURCES ($(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
[ "${SKIP_RG:-0}" = 1 ] || rg_run
[ "${SKIP_PF:-0}" = 1 ] || pf_run
