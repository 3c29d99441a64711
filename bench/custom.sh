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
cat > "$STATE/relayguard.conf" <<CONF
hostname bench-relayguard.localdomain
listen $BENCH_LISTEN
spool $STATE/spool
mail-root $root
local-domain $BENCH_MAILDIR_DOMAIN
mailbox benchmd@$BENCH_MAILDIR_DOMAIN user $user
route $BENCH_RELAY_DOMAIN via $BENCH_SINK
trusted-network 127.0.0.0/8
relay allow from trusted id local-host
limit max-sessions 1000
user $owner
CONF
exec "$BIN" serve -c "$STATE/relayguard.conf" 2>"$STATE/server.log"
