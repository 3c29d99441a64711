"""DNSBL/DNSWL client (RFC 5782) against real DNS lists: Debian's rbldnsd serving test zones on
a loopback port, dnsmasq in front of it (one resolver for relayguard's dns-server, forwarding
each zone to rbldnsd, and a zone to a port where nothing answers).

Zones (every healthy one lists 127.0.0.2 and not 127.0.0.1, RFC 5782 section 5):
  bl.test   127.0.0.2 (and ::FFFF:7F00:2, ::1) listed with a TXT reason; 127.0.0.3 answers
            127.255.255.254 (an error answer); 127.0.0.6 answers code 127.0.0.4
  all.test  lists everything, 127.0.0.1 included: suspended by its health test
  slow.test forwarded to a closed port: every lookup times out
  w1/w2/wl  weights: 127.0.0.7 in w1; 127.0.0.8 in w1 and w2; 127.0.0.9 in w1, w2 and wl"""
import re
import socket
import struct
import subprocess
import time
import urllib.request

import pytest

from conftest import BASE_CONF, BIN, DEAD_DNS, free_port, Raw
from dnsserver import DnsServer, free_udp_port
from smtp_helpers import expect
from test_auth import PASSWORD, add_user, plain
from tls_helpers import TlsLines, client_context, make_cert

RBLDNSD = "/usr/sbin/rbldnsd"

ZONES = {
    "bl4": ":127.0.0.2:Listed for testing, see http://bl.test/$\n"
           "127.0.0.2\n127.0.0.5\n"
           "127.0.0.3 :127.255.255.254:Excessive queries\n"
           "127.0.0.6 :127.0.0.4:code four\n",
    "bl6": ":127.0.0.2:Listed v6 $\n::ffff:7f00:2\n::1\n",
    "all4": ":127.0.0.2:Everything is listed\n0.0.0.0/1\n128.0.0.0/1\n",
    "w1": ":127.0.0.2:w1\n127.0.0.2\n127.0.0.7\n127.0.0.8\n127.0.0.9\n",
    "w2": ":127.0.0.2:w2\n127.0.0.2\n127.0.0.8\n127.0.0.9\n",
    "wl": ":127.0.0.2:allowed\n127.0.0.2\n127.0.0.9\n",
}
DATASETS = ["bl.test:ip4set:bl4", "bl.test:ip6trie:bl6", "all.test:ip4trie:all4",
            "w1.test:ip4set:w1", "w2.test:ip4set:w2", "wl.test:ip4set:wl"]


def wait_log(srv, pattern, timeout=5.0):
    """Wait (bounded) until a log line matches the regular expression; returns it."""
    deadline = time.time() + timeout
    while True:
        m = re.search(pattern, srv.logtext())
        if m:
            return m.group(0)
        assert time.time() < deadline, "no log line matches %r:\n%s" % (pattern, srv.logtext()[-3000:])
        time.sleep(0.02)


def dns_query(port, name, qtype=1):
    """One UDP query; returns the RCODE and the answer count."""
    pkt = struct.pack(">HHHHHH", 4711, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        pkt += bytes([len(label)]) + label.encode()
    pkt += b"\0" + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        s.sendto(pkt, ("127.0.0.1", port))
        data = s.recv(4096)
    flags, _, ancount = struct.unpack(">HHH", data[2:8])
    return flags & 15, ancount


def start_rbldnsd(tmp, zones, datasets):
    """rbldnsd on a free loopback UDP port serving the zone files zones (name: text) written to
    tmp/zones: (that directory, the port, the Popen)."""
    zdir = tmp / "zones"
    zdir.mkdir()
    for name, text in zones.items():
        (zdir / name).write_text(text)
    port = free_udp_port()
    rbl = subprocess.Popen([RBLDNSD, "-n", "-t", "300", "-c", "1", "-w", str(zdir),
                            "-b", "127.0.0.1/%d" % port, *datasets],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return zdir, port, rbl


def wait_rbldnsd(rbl, port, name="2.0.0.127.bl.test", timeout=10):
    """Until rbldnsd (the Popen rbl, on port) answers name with one record; bounded."""
    deadline = time.time() + timeout
    while True:
        assert rbl.poll() is None, rbl.stderr.read().decode()
        try:
            if dns_query(port, name) == (0, 1):
                return
        except OSError:
            pass
        assert time.time() < deadline, "rbldnsd did not answer"
        time.sleep(0.05)


@pytest.fixture
def lists(tmp_path):
    """rbldnsd with the zones above, dnsmasq in front; yields the dns-server line."""
    zdir, port, rbl = start_rbldnsd(tmp_path, ZONES, DATASETS)
    dns = DnsServer(tmp_path, zones=("invalid",), timeout=["slow.test"])
    dns.args += ["--server=/%s/127.0.0.1#%d" % (z, port)
                 for z in ("bl.test", "all.test", "w1.test", "w2.test", "wl.test")]
    dns.args.append("--cache-size=0")  # a zone file changed by a test is seen at once
    try:
        wait_rbldnsd(rbl, port)
        with dns:
            yield {"dns": "dns-server %s\n" % dns.server, "zones": zdir}
    finally:
        rbl.terminate()
        rbl.wait(timeout=10)


def conf_for(extra, trusted="127.0.0.1 ::1"):
    """The base config with its dead DNS server replaced and its trusted networks set."""
    text = BASE_CONF.replace(DEAD_DNS, "")
    return text.replace("trusted-network 127.0.0.1 ::1", "trusted-network " + trusted) \
        .replace("{extra}", extra + "{extra}")


MAIN = "dnsbl bl.test weight 2 timeout 3s\ndnsbl all.test weight 5 ipv6 no timeout 3s\n"


def start(make_server, lists, extra, trusted="127.0.0.1 ::1", wait_alert=True):
    srv = make_server(conf_text=conf_for(lists["dns"] + extra, trusted))
    if wait_alert and "all.test" in extra:
        # the everything-list's health test (127.0.0.1 listed) suspends it within milliseconds
        wait_log(srv, r"dnsbl: ALERT list suspended.*list=all\.test", timeout=10)
    return srv


def rcpt(srv, raw, source, to="alice@example.test", port=None):
    c = raw(port or srv.port, source=source)
    expect(c.reply(), 220)
    expect(c.cmd("EHLO client.test"), 250)
    expect(c.cmd("MAIL FROM:<someone@outside.test>"), 250)
    return c, c.cmd("RCPT TO:<%s>" % to)


def metric(srv, port, name, zone):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read()
    m = re.search(r'^relayguard_%s\{list="%s"\} (\d+)$' % (name, re.escape(zone)),
                  text.decode(), re.M)
    assert m, text.decode()
    return int(m.group(1))


def test_listed_client_rejected_naming_list_and_txt(make_server, lists, raw):
    mport = free_port()
    srv = start(make_server, lists, MAIN + "metrics-listen 127.0.0.1:%d\n" % mport)
    _, reply = rcpt(srv, raw, "127.0.0.2")
    text = expect(reply, 554, "5.7.1", contains="bl.test")
    assert "Listed for testing, see http://bl.test/127.0.0.2" in text
    assert "[127.0.0.2]" in text
    assert "all.test" not in text, "a suspended list is not named"
    wait_log(srv, r"smtp: rcpt rejected .*client=127\.0\.0\.2 .*rule=dnsbl:bl\.test")
    assert metric(srv, mport, "dnsbl_listed_total", "bl.test") >= 1
    assert metric(srv, mport, "dnsbl_lookups_total", "bl.test") >= 1
    assert metric(srv, mport, "dnsbl_healthy", "bl.test") == 1
    # the everything-list: suspended with an alert and a metric, and rejects nobody
    assert metric(srv, mport, "dnsbl_healthy", "all.test") == 0
    assert metric(srv, mport, "dnsbl_suspensions_total", "all.test") == 1
    assert re.search(r"list=all\.test family=ipv4 reason=\"lists 127\.0\.0\.1", srv.logtext())


def test_everything_list_and_timeout_list_block_nobody(make_server, lists, raw):
    srv = start(make_server, lists, MAIN + "dnsbl slow.test timeout 1s ipv6 no\n")
    t0 = time.time()
    _, reply = rcpt(srv, raw, "127.0.0.4")  # listed by all.test only; slow.test never answers
    expect(reply, 250)
    assert time.time() - t0 < 15
    log = srv.logtext()
    assert "rule=dnsbl:" not in log
    # slow.test: a timeout is an error, never a listing (the session's lookup, or the health
    # test that suspended the list before the client came)
    wait_log(srv, r"(dnsbl: lookup error.*list=slow\.test error=\"timeout|"
                  r"ALERT list suspended.*list=slow\.test)", timeout=10)


def test_error_answer_is_not_a_listing(make_server, lists, raw):
    srv = start(make_server, lists, MAIN)
    _, reply = rcpt(srv, raw, "127.0.0.3")  # bl.test answers 127.255.255.254
    expect(reply, 250)
    wait_log(srv, r"dnsbl: lookup error, not a listing .*client=127\.0\.0\.3 list=bl\.test "
                  r"error=\"error answer 127\.255\.255\.254")


def test_codes_filter(make_server, lists, raw):
    srv = start(make_server, lists, "dnsbl bl.test codes 127.0.0.2,127.0.0.10-127.0.0.20\n")
    _, reply = rcpt(srv, raw, "127.0.0.6")  # code 127.0.0.4: not taken by the filter
    expect(reply, 250)
    _, reply = rcpt(srv, raw, "127.0.0.5")  # code 127.0.0.2
    expect(reply, 554, "5.7.1", contains="bl.test")


def test_trusted_client_never_rejected(make_server, lists, raw):
    srv = start(make_server, lists, MAIN, trusted="127.0.0.1 127.0.0.2 ::1")
    _, reply = rcpt(srv, raw, "127.0.0.2")
    expect(reply, 250)
    assert "dnsbl: client listed" not in srv.logtext(), "no lookups for trusted clients"


def test_authenticated_client_never_rejected(make_server, lists, raw, tmp_path):
    crt, key = make_cert(tmp_path / "tls")
    srv = make_server(conf_text=conf_for(
        lists["dns"] + MAIN + "tls-certificate %s\ntls-key %s\nauth-database %s/db/users.db\n"
        "relay allow from authenticated id users\n" % (crt, key, tmp_path)), start=False)
    srv.conf.write_text(srv.conf.read_text().replace(
        "listen 127.0.0.1:%d" % srv.port, "listen 127.0.0.1:%d auth yes" % srv.port))
    add_user(srv, "alice")
    srv.start()
    r = Raw(srv.port, source="127.0.0.2")
    try:
        expect(r.reply(), 220)
        expect(r.cmd("EHLO client.test"), 250)
        expect(r.cmd("STARTTLS"), 220)
        c = TlsLines(client_context().wrap_socket(r.sock))
        expect(c.cmd("EHLO client.test"), 250)
        # before AUTH the listed client is refused ...
        expect(c.cmd("MAIL FROM:<someone@outside.test>"), 250)
        expect(c.cmd("RCPT TO:<alice@example.test>"), 554, "5.7.1")
        expect(c.cmd("RSET"), 250)
        # ... after AUTH it is not (local and relayed recipients)
        expect(c.cmd("AUTH PLAIN " + plain("alice", PASSWORD)), 235)
        expect(c.cmd("MAIL FROM:<alice@example.test>"), 250)
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
        expect(c.cmd("RCPT TO:<friend@elsewhere.test>"), 250)
    finally:
        r.close()


WEIGHTS = ("dnsbl w1.test ipv6 no\ndnsbl w2.test ipv6 no\ndnsbl wl.test weight -5 ipv6 no\n"
           "dnsbl-threshold 2\n")


def test_weights_threshold_and_allow_list(make_server, lists, raw):
    srv = start(make_server, lists, WEIGHTS)
    _, reply = rcpt(srv, raw, "127.0.0.7")  # w1 only: 1 < 2
    expect(reply, 250)
    _, reply = rcpt(srv, raw, "127.0.0.8")  # w1 + w2: 2
    text = expect(reply, 554, "5.7.1")
    assert "w1.test" in text and "w2.test" in text
    _, reply = rcpt(srv, raw, "127.0.0.9")  # w1 + w2 - 5 (allow-list)
    expect(reply, 250)
    wait_log(srv, r"smtp: rcpt rejected .*client=127\.0\.0\.8 .*rule=dnsbl:w1\.test")


def test_defer_action(make_server, lists, raw):
    srv = start(make_server, lists, "dnsbl bl.test\ndnsbl-action defer\n")
    _, reply = rcpt(srv, raw, "127.0.0.2")
    expect(reply, 450, "4.7.1", contains="bl.test")


def test_tag_action_adds_header(make_server, lists, raw):
    srv = start(make_server, lists, "dnsbl bl.test weight 3\ndnsbl-action tag\n")
    c, reply = rcpt(srv, raw, "127.0.0.2")
    expect(reply, 250)
    expect(c.cmd("DATA"), 354)
    expect(c.cmd("Subject: tagged\r\n\r\nbody\r\n."), 250)
    msgs = srv.wait_messages("alice", 1)
    assert len(msgs) == 1
    assert b"\nX-relayguard-DNSBL: score=3 lists=bl.test\n" in msgs[0].read_bytes()


def test_ipv6_client_listed(make_server, lists, raw):
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
    except OSError:
        pytest.skip("no IPv6 loopback")
    port6 = free_port()
    srv = start(make_server, lists, "dnsbl bl.test\nlisten [::1]:%d\n" % port6,
                trusted="127.0.0.1")
    wait_log(srv, r"dnsbl: list healthy list=bl\.test family=ipv6")
    s = socket.create_connection(("::1", port6), timeout=10)
    c = Raw.__new__(Raw)
    c.sock, c.buf = s, b""
    try:
        expect(c.reply(), 220)
        expect(c.cmd("EHLO client.test"), 250)
        expect(c.cmd("MAIL FROM:<someone@outside.test>"), 250)
        text = expect(c.cmd("RCPT TO:<alice@example.test>"), 554, "5.7.1", contains="bl.test")
        assert "Listed v6 ::1" in text
    finally:
        s.close()


def test_suspended_list_reenabled_by_later_test(make_server, lists, raw):
    srv = start(make_server, lists, "dnsbl all.test ipv6 no\ndnsbl-health-interval 1s\n")
    _, reply = rcpt(srv, raw, "127.0.0.4")
    expect(reply, 250)
    # the list is repaired: 127.0.0.1 no longer listed; rbldnsd reloads it (-c 1)
    (lists["zones"] / "all4").write_text(":127.0.0.2:Listed\n127.0.0.2\n127.0.0.4\n")
    wait_log(srv, r"dnsbl: list re-enabled list=all\.test family=ipv4", timeout=15)
    _, reply = rcpt(srv, raw, "127.0.0.4")
    expect(reply, 554, "5.7.1", contains="all.test")


def test_check_lists_the_dns_lists(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text(conf_for("dns-server 127.0.0.1:53\n" + WEIGHTS).format(
        port=free_port(), tmp=tmp_path, extra=""))
    out = subprocess.run([BIN, "check", "-c", str(conf)], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert "dns lists (score >= 2: reject;" in out.stdout
    assert re.search(r"wl\.test +weight -5 +\(allow\)", out.stdout), out.stdout
    assert "[dnsbl:w1.test]" in out.stdout


def test_reload_adds_a_list(make_server, lists, raw):
    srv = start(make_server, lists, "")
    _, reply = rcpt(srv, raw, "127.0.0.2")
    expect(reply, 250)
    srv.conf.write_text(srv.conf.read_text() + "dnsbl bl.test\n")
    out = srv.ctl("reload")
    assert out.returncode == 0, out.stderr
    wait_log(srv, r"dnsbl: list healthy list=bl\.test family=ipv4")
    _, reply = rcpt(srv, raw, "127.0.0.2")
    expect(reply, 554, "5.7.1", contains="bl.test")


def test_dnswl_listed_client_is_not_greylisted(make_server, lists, raw, tmp_path):
    srv = start(make_server, lists, "dnsbl wl.test weight -5 ipv6 no\ngreylist on\n"
                "abuse-store sqlite %s/db/abuse.db\n" % tmp_path)
    _, reply = rcpt(srv, raw, "127.0.0.7")  # in no allow-list: greylisted
    expect(reply, 451, "4.7.1")
    _, reply = rcpt(srv, raw, "127.0.0.9")  # in wl.test: never greylisted
    expect(reply, 250)
