#!/bin/sh
# bench/custom.sh — run relayguard as the "custom" peer of ../shared/bench/peers.sh.
# peers.sh passes BENCH_LISTEN, BENCH_MAILDIR (…/<user>/Maildir), BENCH_MAILDIR_DOMAIN,
# BENCH_RELAY_DOMAIN and BENCH_SINK. M1 mail (benchmd@maildir.test) goes to BENCH_MAILDIR; W1/W2/W3
# mail (rcpt@relay.test) is relayed to the smtp-sink at BENCH_SINK by a static route, as the
# peers relay it.
set -eu
BIN=${RELAYGUARD_BIN:-$(dirname "$0")/../build/relayguard}
STATE=${RELAYGUARD_BENCH_STATE:-/var/tmp/relayguard-bench}
md=$BENCH_MAILDIR
user=$(basename "$(dirname "$md")")
root=$(dirname "$(dirname "$md")")
# started as root, relayguard runs as its `user`: here the owner of the peers' Maildir (peers.sh
# delivers every peer's mail as that user), so it can write there
owner=$(stat -c %U "$md" 2>/dev/null || stat -c %U "$root")
mkdir -p "$STATE"
# RELAYGUARD_BENCH_ABUSE=on (bench/abuse.sh): the client (127.0.0.1) is not trusted, so every
# abuse control applies to it: the DNS list RELAYGUARD_BENCH_DNSBL (a local rbldnsd at
# RELAYGUARD_BENCH_DNS), greylisting (the client network passed before the run) and rate limits
# (high enough never to refuse); relaying to the sink is allowed by a network rule.
if [ "${RELAYGUARD_BENCH_ABUSE:-off}" = on ]; then
	clients="relay allow from 127.0.0.0/8 to $BENCH_RELAY_DOMAIN id bench-relay
dns-server $RELAYGUARD_BENCH_DNS
dnsbl $RELAYGUARD_BENCH_DNSBL ipv6 no
greylist on
greylist-delay 1s
greylist-auto-whitelist 1
abuse-store sqlite $STATE/db/abuse.db
ratelimit ip-connections 10000000/1m
ratelimit ip-sessions 1000
ratelimit ip-messages 10000000/1h
ratelimit ip-recipients 10000000/1h"
else
	clients="trusted-network 127.0.0.0/8
relay allow from trusted id local-host
abuse-store sqlite $STATE/db/abuse.db"
fi
cat > "$STATE/relayguard.conf" <<CONF
hostname bench-relayguard.localdomain
listen $BENCH_LISTEN
spool $STATE/spool
mail-root $root
local-domain $BENCH_MAILDIR_DOMAIN
mailbox benchmd@$BENCH_MAILDIR_DOMAIN user $user
route $BENCH_RELAY_DOMAIN via $BENCH_SINK
$clients
limit max-sessions 1000
user $owner
CONF
if [ "${RELAYGUARD_BENCH_ABUSE:-off}" = on ]; then
	# greylisting: one triplet passes before the run (first try 451, a retry after the 1 s
	# delay 250), which whitelists the client network. A throwaway server on the next port does
	# it, so that peers.sh, which starts sending once BENCH_LISTEN answers, only sees the real one
	rm -rf "$STATE/db"
	port=${BENCH_LISTEN##*:}
	warm=$((port + 1))
	sed "s/^listen .*/listen 127.0.0.1:$warm/" "$STATE/relayguard.conf" > "$STATE/warmup.conf"
	"$BIN" serve -c "$STATE/warmup.conf" 2>"$STATE/warmup.log" &
	pid=$!
	passed=no
	for _ in $(seq 100); do
		out=$(swaks -s 127.0.0.1 -p "$warm" -f warm@bench.test -t "benchmd@$BENCH_MAILDIR_DOMAIN" \
		    --quit-after RCPT 2>&1 || true)
		case $out in *"<** 451"*|*"Connection refused"*|*"Could not connect"*) sleep 0.3 ;;
		*"<-  250 2.1.5"*) passed=yes; break ;; *) sleep 0.3 ;; esac
	done
	kill "$pid"
	wait "$pid" || true
	[ "$passed" = yes ] || { echo "custom.sh: greylisting warm-up failed" >&2; exit 1; }
fi
exec "$BIN" serve -c "$STATE/relayguard.conf" 2>"$STATE/server.log"
