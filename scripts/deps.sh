#!/bin/sh
# Install the Debian packages relayguard needs and create the system user `relayguard serve`
# runs as when started as root. Idempotent; run as root (or with sudo).
#   scripts/deps.sh build   - compiler and libraries (make run), the user
#   scripts/deps.sh test    - plus the test tools (make test)
set -eu
BUILD="build-essential pkg-config libevent-dev libssl-dev libsqlite3-dev libc-ares-dev libidn2-dev zlib1g-dev libmicrohttpd-dev libgsasl-dev libcap-dev libgit2-dev libhiredis-dev libldns-dev libjansson-dev openssl"
TEST="python3 python3-pytest swaks libnet-ssleay-perl clang libclang-rt-14-dev strace dnsmasq-base postfix gsasl nmap redis-server dnsutils rbldnsd dnsperf chromium chromium-driver python3-selenium"
case "${1:-build}" in
build) want="$BUILD" ;;
test) want="$BUILD $TEST" ;;
*) echo "usage: $0 build|test" >&2; exit 2 ;;
esac
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
# the service user (no home, no shell): the same command as `make install`
if ! getent passwd relayguard >/dev/null; then
	echo "deps: creating the system user relayguard" >&2
	$SUDO useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin \
		--user-group relayguard
fi
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
$SUDO apt-get update -qq
# postfix is installed for its smtp-sink/smtp-source test tools only: "Local only", not started
echo "postfix postfix/main_mailer_type select Local only" | $SUDO debconf-set-selections
echo "postfix postfix/mailname string localhost" | $SUDO debconf-set-selections
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
