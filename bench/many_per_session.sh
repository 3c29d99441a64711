#!/bin/bash
# bench/many_per_session.sh — many messages per SMTP session, delivered to Maildir, relayguard
# and Postfix side by side. peers.sh's W2 (10 messages/session) starts one smtp-source process
# per session from 50 shell loops and relays to a sink; on this 2-core machine that driver costs
# more CPU than the servers, and relayguard cannot relay yet. Here one smtp-source keeps 50
# sessions open (-d) and sends N messages over them (N/50 per session) to each server's Maildir.
# Needs `peers.sh --setup-only` done (bench/run.sh does it). Usage: [-r REPS] [-n MESSAGES]
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=3 N=5000
while getopts r:n: o; do case $o in r) REPS=$OPTARG ;; n) N=$OPTARG ;; *) exit 2 ;; esac; done
PF_CONF=/opt/peers/conf/postfix MD_ROOT=/var/spool/peers-maildir STATE=/var/tmp/relayguard-bench
SRC=/usr/sbin/smtp-source
make -s build/relayguard

fresh_maildir() {  # name
	rm -rf "$MD_ROOT/$1"
	install -d -o benchmd -g benchmd -m 700 "$MD_ROOT/$1" "$MD_ROOT/$1/Maildir" \
		"$MD_ROOT/$1/Maildir/new" "$MD_ROOT/$1/Maildir/cur" "$MD_ROOT/$1/Maildir/tmp"
}
wait_port() { for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
run_load() {  # port maildir -> prints "accept_s e2e_s"
	local t0 t1 t2
	t0=$EPOCHREALTIME
	timeout 300 "$SRC" -c -d -s 50 -m "$N" -l 4096 -M client.bench.test \
		-f sender@client.bench.test -t benchmd@maildir.test 127.0.0.1:"$1" >/dev/null
	t1=$EPOCHREALTIME
	for _ in $(seq 3000); do [ "$(ls -U "$2/new" | wc -l)" -ge "$N" ] && break; sleep 0.05; done
	t2=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "%.2f %.2f\n", b - a, c - a }'
}
one_postfix() {
	fresh_maildir postfix
	find /var/spool/postfix-bench/{incoming,active,deferred,maildrop} -type f -delete 2>/dev/null || true
	postfix -c "$PF_CONF" start >/dev/null 2>&1; wait_port 2525; sleep 1
	run_load 2525 "$MD_ROOT/postfix/Maildir"
	postfix -c "$PF_CONF" stop >/dev/null 2>&1; sleep 1
}
one_relayguard() {
	fresh_maildir relayguard
	rm -rf "$STATE/spool"
	BENCH_LISTEN=127.0.0.1:2528 BENCH_MAILDIR=$MD_ROOT/relayguard/Maildir BENCH_MAILDIR_DOMAIN=maildir.test \
		BENCH_RELAY_DOMAIN=relay.test RELAYGUARD_BIN=$PWD/build/relayguard RELAYGUARD_BENCH_STATE=$STATE \
		sh bench/custom.sh & pid=$!
	wait_port 2528; sleep 1
	run_load 2528 "$MD_ROOT/relayguard/Maildir"
	kill "$pid"; wait "$pid" || true
	tail -1 "$STATE/server.log" >&2
}
echo "N=$N messages, 50 sessions kept open (N/50 messages each), 4096 B, 1 rcpt, Maildir"
printf '%-4s %-11s %9s %9s %9s %9s\n' rep server accept_s accept/s e2e_s e2e/s
for r in $(seq "$REPS"); do
	read -r pa pe < <(one_postfix)
	read -r ra re < <(one_relayguard)
	for row in "postfix $pa $pe" "relayguard $ra $re"; do
		set -- $row
		awk -v r="$r" -v s="$1" -v a="$2" -v e="$3" -v n="$N" \
			'BEGIN { printf "%-4s %-11s %9s %9.0f %9s %9.0f\n", r, s, a, n / a, e, n / e }'
	done
	awk -v pa="$pa" -v pe="$pe" -v ra="$ra" -v re="$re" \
		'BEGIN { printf "     ratio relayguard/postfix: accept %.2fx  e2e %.2fx\n", pa / ra, pe / re }'
done
