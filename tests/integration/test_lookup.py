"""`relayguard lookup` and the server's self-check (issue 10) against real DNS lists: Debian's
rbldnsd on a loopback port, dnsmasq in front of it (forwarding the test zones to rbldnsd and
slow.test to a port where nothing answers). Nothing here asks the Internet: every lookup names
--lists FILE or a config whose lists are the test zones.

Zones:
  bl.test   127.0.0.2 and ::1 listed with a TXT reason (healthy per RFC 5782 section 5)
  err.test  answers 127.255.255.254 ("query refused / open resolver") for every address
  slow.test forwarded to a closed port: every lookup times out"""
import json
import re
import subprocess
import time

import pytest

from conftest import BASE_CONF, BIN, DEAD_DNS
from dnsserver import DnsServer
from remote_helpers import conf as remote_conf, send
from sinks import Script, ScriptedSink, free_port, wait_until
from test_dnsbl import start_rbldnsd, wait_log, wait_rbldnsd
from test_metrics import scrape, value

ZONES = {
    "bl4": ":127.0.0.2:Listed for testing, see http://bl.test/$\n127.0.0.2\n",
    "bl6": ":127.0.0.2:Listed v6 $\n::ffff:7f00:2\n::1\n",
    "err4": ":127.255.255.254:Query refused: open resolver\n0.0.0.0/1\n128.0.0.0/1\n",
}
DATASETS = ["bl.test:ip4set:bl4", "bl.test:ip6trie:bl6", "err.test:ip4trie:err4"]

LISTS = """\
# the lists file of the tests (the shipped etc/dnsbl-lists names the real public lists)
bl.test   block 127.0.0.2="test listing: spam source" delist=https://bl.test/remove
err.test  block 127.255.255.254="error: query through an open resolver"
slow.test block
"""


@pytest.fixture(scope="module")
def dnsbl(tmp_path_factory):
    """rbldnsd with the zones above, dnsmasq in front; yields its "IP:PORT"."""
    tmp = tmp_path_factory.mktemp("lookup-dns")
    _, port, rbl = start_rbldnsd(tmp, ZONES, DATASETS)
    dns = DnsServer(tmp, zones=("invalid",), timeout=["slow.test"])
    dns.args += ["--server=/%s/127.0.0.1#%d" % (z, port) for z in ("bl.test", "err.test")]
    dns.args.append("--cache-size=0")
    try:
        wait_rbldnsd(rbl, port)
        with dns:
            yield dns.server
    finally:
        rbl.terminate()
        rbl.wait(timeout=10)


def lookup(tmp_path, dns, target, lists=LISTS, conf_extra="", *args):
    conf = tmp_path / "lookup.conf"
    conf.write_text("listen 127.0.0.1:2525\nspool %s/spool\ndns-server %s\n%s" %
                    (tmp_path, dns, conf_extra))
    cmd = [BIN, "lookup", target, "-c", str(conf), "--timeout", "1", *args]
    if lists is not None:
        (tmp_path / "lists").write_text(lists)
        cmd += ["--lists", str(tmp_path / "lists")]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=20)


def line_of(out, zone):
    lines = [l for l in out.splitlines() if re.search(r"\s%s\s" % re.escape(zone), l + " ")]
    assert len(lines) == 1, out
    return lines[0]


def test_listed_error_and_timeout_lines_exit_1(tmp_path, dnsbl):
    r = lookup(tmp_path, dnsbl, "127.0.0.2")
    assert r.returncode == 1, r
    assert len(r.stdout.splitlines()) == 3, r.stdout
    bl = line_of(r.stdout, "bl.test")
    assert re.match(r"127\.0\.0\.2\s+bl\.test\s+listed 127\.0\.0\.2 \(test listing: spam "
                    r"source\) \"Listed for testing, see http://bl\.test/127\.0\.0\.2\" "
                    r"delist: https://bl\.test/remove$", bl), bl
    err = line_of(r.stdout, "err.test")
    assert "listed" not in err  # an error answer is never a listing
    assert re.search(r"\serror: error answer 127\.255\.255\.254 .*\(error: query through an "
                     r"open resolver\)$", err), err
    slow = line_of(r.stdout, "slow.test")
    assert re.search(r"\serror: timeout after 1s$", slow), slow


def test_errors_only_exit_2_clean_exit_0(tmp_path, dnsbl):
    r = lookup(tmp_path, dnsbl, "127.0.0.3")  # in no list; err.test and slow.test fail
    assert r.returncode == 2, r
    assert re.search(r"bl\.test\s+not-listed$", line_of(r.stdout, "bl.test"))
    assert "listed 127" not in r.stdout
    clean = "bl.test block\n"
    r = lookup(tmp_path, dnsbl, "127.0.0.3", clean)
    assert (r.returncode, r.stdout.split()) == (0, ["127.0.0.3", "bl.test", "not-listed"]), r
    # the config's dnsbl lines are asked as well as the lists file's
    r = lookup(tmp_path, dnsbl, "127.0.0.2", clean, "dnsbl err.test\n")
    assert r.returncode == 1, r
    assert "err.test" in r.stdout and "bl.test" in r.stdout


def test_json_lines(tmp_path, dnsbl):
    r = lookup(tmp_path, dnsbl, "127.0.0.2", LISTS, "", "--json")
    assert r.returncode == 1, r
    rows = {j["list"]: j for j in map(json.loads, r.stdout.splitlines())}
    assert rows["bl.test"] == {
        "address": "127.0.0.2", "list": "bl.test", "kind": "block", "result": "listed",
        "code": "127.0.0.2", "meaning": "test listing: spam source",
        "txt": "Listed for testing, see http://bl.test/127.0.0.2",
        "delist": "https://bl.test/remove"}
    assert rows["err.test"]["result"] == "error" and rows["err.test"]["code"] == "127.255.255.254"
    assert rows["slow.test"]["result"] == "error"
    assert rows["slow.test"]["error"] == "timeout after 1s"


def test_ipv6_address_and_host_name(tmp_path, dnsbl):
    r = lookup(tmp_path, dnsbl, "::1", "bl.test block\n")
    assert r.returncode == 1, r
    assert re.match(r"::1\s+bl\.test\s+listed 127\.0\.0\.2 \"Listed v6 ::1\"$", r.stdout), r.stdout
    # a host name: its addresses (localhost: 127.0.0.1 from /etc/hosts), each looked up
    r = lookup(tmp_path, dnsbl, "localhost", "bl.test block\n")
    assert r.returncode == 0, r
    assert re.search(r"^127\.0\.0\.1\s+bl\.test\s+not-listed$", r.stdout, re.M), r.stdout


def test_bad_lists_file_names_file_and_line(tmp_path, dnsbl):
    r = lookup(tmp_path, dnsbl, "127.0.0.2", "bl.test block\nerr.test maybe\n")
    assert r.returncode == 3, r
    assert "%s:2: expected 'block' or 'allow' after the zone" % (tmp_path / "lists") in r.stderr
    r = subprocess.run([BIN, "lookup"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 3 and "usage: relayguard lookup" in r.stderr


def conf_with_dns(dns, extra):
    return BASE_CONF.replace(DEAD_DNS, "dns-server %s\n" % dns).replace("{extra}", extra)


def test_self_check_alerts_listed_zone_only(make_server, dnsbl):
    mport = free_port()
    srv = make_server(conf_text=conf_with_dns(dnsbl, (
        "metrics-listen 127.0.0.1:%d\n"
        "outbound-address 127.0.0.2\n"
        "dnsbl bl.test timeout 2s\n"
        "dnsbl err.test timeout 2s\n"
        "{extra}") % mport))
    alert = wait_log(srv, r".*self-check: ALERT outbound address listed.*", timeout=10)
    assert "rule=self-check:listed" in alert and "address=127.0.0.2" in alert
    assert "list=bl.test" in alert and "code=127.0.0.2" in alert
    assert 'txt="Listed for testing, see http://bl.test/127.0.0.2"' in alert, alert
    wait_log(srv, r"self-check: done .*listed=1 errors=1", timeout=10)
    log = srv.logtext()
    assert not re.search(r"ALERT outbound address listed.*list=err\.test", log), log
    assert re.search(r"self-check: lookup error, not a listing .*list=err\.test", log), log
    s = scrape(mport)
    assert value(s, "relayguard_self_listed", list="bl.test") == 1
    assert value(s, "relayguard_self_listed", list="err.test") == 0
    assert ("relayguard_self_listed", (("list", "err.test"),)) in s  # present, 0
    assert value(s, "relayguard_self_check_errors_total") == 1
    assert value(s, "relayguard_self_check_runs_total") == 1


def test_self_check_with_lists_file_and_clean_address(make_server, dnsbl, tmp_path):
    (tmp_path / "sc-lists").write_text('bl.test block delist=https://bl.test/remove\n')
    mport = free_port()
    srv = make_server(conf_text=conf_with_dns(dnsbl, (
        "metrics-listen 127.0.0.1:%d\noutbound-address 127.0.0.3 127.0.0.2\n"
        "self-check-lists %s\n{extra}") % (mport, tmp_path / "sc-lists")))
    alert = wait_log(srv, r".*self-check: ALERT outbound address listed.*", timeout=10)
    assert "address=127.0.0.2" in alert and "delist=https://bl.test/remove" in alert, alert
    wait_log(srv, r"self-check: done addresses=2 lists=1 listed=1 errors=0", timeout=10)
    assert srv.logtext().count("ALERT outbound address listed") == 1
    assert value(scrape(mport), "relayguard_self_listed", list="bl.test") == 1


def test_self_check_now_runs_with_the_interval_off(make_server, dnsbl):
    """`relayguard self-check-now` (control command self-check-now): one run at once, even with
    self-check-interval off (e.g. right after a delisting)."""
    srv = make_server(conf_text=conf_with_dns(dnsbl, (
        "outbound-address 127.0.0.2\ndnsbl bl.test timeout 2s\n"
        "self-check-interval off\n{extra}")))
    time.sleep(0.5)
    assert "self-check: done" not in srv.logtext()
    out = subprocess.run([BIN, "self-check-now", "-c", str(srv.conf)], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 0 and out.stdout.startswith("self-check started"), out
    wait_log(srv, r"self-check: done addresses=1 lists=1 listed=1 errors=0", timeout=10)
    assert "ALERT outbound address listed" in srv.logtext()
    assert srv.ctl("self-check-now", "extra").returncode != 0


def test_blocklist_bounce_counted_and_alerted(make_server, tmp_path):
    sink = ScriptedSink(host="127.0.0.5", scripts=[Script(
        rcpt="550 5.7.1 Service unavailable; client [127.0.0.1] listed in zen.spamhaus.org")])
    # the zone is known from the lists file (its delisting URL goes into the alert); nothing
    # is looked up: the only listener is loopback and no outbound-address is named
    (tmp_path / "sc-lists").write_text("zen.spamhaus.org block delist=https://check.test/\n")
    try:
        mport = free_port()
        srv = make_server(remote_conf("route example.net via %s" % sink.target,
                                      "metrics-listen 127.0.0.1:%d" % mport,
                                      "self-check-lists %s" % (tmp_path / "sc-lists")))
        send(srv, "alice@example.test", ["carol@example.net", "dave@example.net"])
        alert = wait_log(srv, r".*self-check: ALERT remote server refused our mail naming a "
                              r"blocklist.*", timeout=10)
        assert "rule=self-check:bounce destination=example.net" in alert
        assert "matched=zen.spamhaus.org" in alert and "delist=https://check.test/" in alert
        assert 'reply="550 5.7.1 Service unavailable; client [127.0.0.1] listed in ' \
            'zen.spamhaus.org"' in alert, alert
        assert wait_until(lambda: value(scrape(mport), "relayguard_blocklisted_bounces_total",
                                        destination="example.net") == 2, 5)
        # once per destination and interval
        assert srv.logtext().count("ALERT remote server refused") == 1
    finally:
        sink.stop()


def test_ordinary_bounce_is_not_a_blocklist_a_word_is(make_server):
    sink = ScriptedSink(host="127.0.0.5", scripts=[Script(rcpt={
        "carol@example.net": "550 5.1.1 User unknown",
        "*": "554 5.7.1 Your address is on our blacklist"})])
    try:
        mport = free_port()
        srv = make_server(remote_conf("route example.net via %s" % sink.target,
                                      "metrics-listen 127.0.0.1:%d" % mport))
        send(srv, "alice@example.test", ["carol@example.net"])
        wait_log(srv, r"deliver: failed \(bounce\)", timeout=10)
        assert "ALERT remote server refused" not in srv.logtext()
        assert value(scrape(mport), "relayguard_blocklisted_bounces_total",
                     destination="example.net") == 0
        # a word of the rejection names a blocklist (no zone known)
        send(srv, "alice@example.test", ["erin@example.net"])
        alert = wait_log(srv, r".*ALERT remote server refused.*", timeout=10)
        assert "matched=blacklist" in alert and "delist=-" in alert, alert
        assert value(scrape(mport), "relayguard_blocklisted_bounces_total",
                     destination="example.net") == 1
    finally:
        sink.stop()


def test_outbound_address_is_the_delivery_source(make_server):
    sink = ScriptedSink(host="127.0.0.5")
    try:
        # 127.0.0.2 is this host's (loopback); 192.0.2.1 is not (a NAT's public address, say):
        # the kernel chooses, with a warning, and the mail still goes
        srv = make_server(remote_conf("route example.net via %s" % sink.target,
                                      "outbound-address 127.0.0.2",
                                      "self-check-interval off"))
        send(srv, "alice@example.test", ["carol@example.net"])
        assert len(sink.wait_delivered(1, timeout=8)) == 1
        assert sink.connections[0].peer[0] == "127.0.0.2", sink.connections[0].peer
        (srv.tmp / "relayguard.conf").write_text(srv.conf.read_text().replace(
            "outbound-address 127.0.0.2", "outbound-address 192.0.2.1"))
        r = srv.ctl("reload")
        assert r.returncode == 0, r
        send(srv, "alice@example.test", ["dave@example.net"])
        assert len(sink.wait_delivered(2, timeout=8)) == 2
        assert sink.connections[-1].peer[0] == "127.0.0.1", sink.connections[-1].peer
        assert re.search(r"deliver: cannot send from outbound-address, the kernel chooses .*"
                         r"source=192\.0\.2\.1", srv.logtext()), srv.logtext()[-2000:]
        assert "self-check: done" not in srv.logtext()  # self-check-interval off
    finally:
        sink.stop()
