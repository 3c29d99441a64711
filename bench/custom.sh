#!/bin/sh
# bench/custom.sh — run relayguard as the "custom" peer of ../shared/bench/peers.sh.
# peers.sh passes BENCH_LISTEN, BENCH_MAILDIR (…/<user>/Maildir), BENCH_MAILDIR_DOMAIN and
# BENCH_RELAY_DOMAIN. M1 mail (benchmd@maildir.test) goes to BENCH_MAILDIR. W2 mail
# (rcpt@relay.test) is ALSO delivered to that Maildir: relayguard has no remote delivery yet, so
# for W2 it does more work than the peers (fsync'd Maildir instead of relaying to a sink), and
# only its accept rate is comparable.
set -eu
BIN=${RELAYGUARD_BIN:-$(dirname "$0")/../build/relayguard}
STATE=${RELAYGUARD_BENCH_STATE:-/var/tmp/relayguard-bench}
md=$BENCH_MAILDIR
user=$(basename "$(dirname "$md")")
root=$(dirname "$(dirname "$md")")
mkdir -p "$STATE"
cat > "$STATE/relayguard.conf" <<CONF
hostname bench-relayguard.localdomain
listen $BENCH_LISTEN
spool $STATE/spool
mail-root $root
local-domain $BENCH_MAILDIR_DOMAIN $BENCH_RELAY_DOMAIN
mailbox benchmd@$BENCH_MAILDIR_DOMAIN user $user
mailbox rcpt@$BENCH_RELAY_DOMAIN user $user
trusted-network 127.0.0.0/8
relay allow from trusted id local-host
limit max-sessions 1000
CONF
exec "$BIN" serve -c "$STATE/relayguard.conf" 2>"$STATE/server.log"
