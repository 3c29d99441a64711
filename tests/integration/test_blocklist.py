"""The blocklist store and `relayguard dnsbl` (RFC 5782): `relayguard list` add/del/show/export
with reasons and history; the server on a free loopback port asked with dig (A, TXT, NXDOMAIN,
SOA/NS, IPv6 nibbles, TCP, a CLI change served without reload); rbldnsd loaded with the exported
files answers the same names the same way; garbage packets do not kill the server; response-rate
limiting drops or truncates a burst from one client and still answers another."""
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import BIN, free_port

ZONE = "bl.example.test"
URL = "https://bl.example.test/lookup?ip="
V6_NET = "2001:db8::/32"
V6_HOST = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
V6_TEST_LISTED = "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"
V6_TEST_UNLISTED = "1.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"


def free_udp_tcp_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket() as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


def write_conf(tmp_path, dns_port, extra=""):
    conf = tmp_path / "rg.conf"
    conf.write_text(
        "hostname ns.example.test\n"
        "listen 127.0.0.1:9\n"  # a listen is required by the config; dnsbl never opens it
        f"spool {tmp_path}/spool\n"
        f"blocklist-database {tmp_path}/db/blocklist.db\n"
        f"blocklist-zone {ZONE}\n"
        f"blocklist-listen 127.0.0.1:{dns_port}\n"
        "blocklist-ttl 60\n"
        f"blocklist-url {URL}\n" + extra)
    return conf


def rg(conf, *args, check=True):
    p = subprocess.run([BIN, *args, "-c", str(conf)], capture_output=True, text=True, timeout=20)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def dig(port, name, rtype="A", *opts):
    """(status, the answers' data one per line) as dig sees them."""
    p = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+time=2", "+tries=1", "+noall",
                        "+comments", "+answer", *opts, name, rtype],
                       capture_output=True, text=True, timeout=10)
    status, answers = "", []
    for line in p.stdout.splitlines():
        if "status:" in line:
            status = line.split("status:")[1].split(",")[0].strip()
        elif line and not line.startswith(";"):
            answers.append(line.split(None, 4)[4])
    return status, "\n".join(answers)


@pytest.fixture
def dnsbl(tmp_path, request):
    port = free_udp_tcp_port()
    conf = write_conf(tmp_path, port,
                      getattr(request, "param", "").replace("{mport}", str(free_port())))
    rg(conf, "list", "add", "192.0.2.1", "--reason", "open relay")
    rg(conf, "list", "add", "198.51.100.0/24", "--reason", "spam source", "--code", "3")
    rg(conf, "list", "add", V6_NET, "--reason", "v6 net", "--code", "4")
    log = open(tmp_path / "dnsbl.log", "w")
    proc = subprocess.Popen([BIN, "dnsbl", "-c", str(conf)], stdout=log, stderr=log)
    deadline = time.time() + 10
    while time.time() < deadline:
        if dig(port, "2.0.0.127." + ZONE)[1] == "127.0.0.2":
            break
        assert proc.poll() is None, (tmp_path / "dnsbl.log").read_text()
        time.sleep(0.1)
    yield port, conf, proc
    proc.terminate()
    try:
        proc.wait(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()


def test_list_add_del_show_history(tmp_path):
    conf = write_conf(tmp_path, 5353)
    p = rg(conf, "list", "add", "192.0.2.7", check=False)
    assert p.returncode == 2 and "--reason" in p.stderr
    p = rg(conf, "list", "add", "192.0.2.7/24", "--reason", "x", check=False)
    assert p.returncode == 2  # host bits set: not a network
    rg(conf, "list", "add", "192.0.2.7", "--reason", "reported by a user", "--code", "5")
    show = json.loads(rg(conf, "list", "show", "192.0.2.7", "--json").stdout)
    assert show["listed"] and show["code"] == 5 and show["txt"] == "reported by a user"
    assert [h["state"] for h in show["history"]] == ["listed"]
    assert show["history"][0]["who"].startswith("cli:")
    rg(conf, "list", "del", "192.0.2.7", "--reason", "fixed, rescanned clean")
    p = rg(conf, "list", "show", "192.0.2.7", "--json", check=False)
    show = json.loads(p.stdout)
    assert p.returncode == 1 and not show["listed"] and show["state"] == "delisted"
    assert [(h["state"], h["why"]) for h in show["history"]] == [
        ("listed", "reported by a user"), ("delisted", "fixed, rescanned clean")]
    p = rg(conf, "list", "del", "192.0.2.7", "--reason", "again", check=False)
    assert p.returncode == 1 and "not listed" in p.stderr
    p = rg(conf, "list", "show", "203.0.113.1", check=False)
    assert p.returncode == 1 and "not listed" in p.stdout


def test_export_bind(tmp_path):
    conf = write_conf(tmp_path, 5353)
    rg(conf, "list", "add", "192.0.2.1", "--reason", 'say "hi"')
    rg(conf, "list", "add", "203.0.112.0/22", "--reason", "odd prefix")
    out = tmp_path / "zone.db"
    rg(conf, "list", "export", "bind", str(out), "--zone", "other.example")
    text = out.read_text()
    assert "$ORIGIN other.example." in text
    assert "\tSOA\tns.example.test. hostmaster.other.example." in text
    assert "@\tIN\tNS\tns.example.test." in text
    assert "2.0.0.127\tIN\tA\t127.0.0.2" in text and V6_TEST_LISTED + "\tIN\tA" in text
    assert '1.2.0.192\tIN\tTXT\t"say \\"hi\\"; %s192.0.2.1/32"' % URL in text
    for third in (112, 113, 114, 115):  # a /22 is four /24 wildcards
        assert "*.%d.0.203\tIN\tA\t127.0.0.2" % third in text
    assert not (tmp_path / "zone.db.tmp").exists()


def test_dnsbl_answers(dnsbl):
    port, conf, proc = dnsbl
    cases = [  # name, type, status, short answer
        ("2.0.0.127", "A", "NOERROR", "127.0.0.2"),  # RFC 5782 5: the test entries
        ("2.0.0.127", "TXT", "NOERROR", '"RFC 5782 test entry; %s127.0.0.2"' % URL),
        ("1.0.0.127", "A", "NXDOMAIN", ""),
        (V6_TEST_LISTED, "A", "NOERROR", "127.0.0.2"),
        (V6_TEST_UNLISTED, "A", "NXDOMAIN", ""),
        ("1.2.0.192", "A", "NOERROR", "127.0.0.2"),
        ("1.2.0.192", "TXT", "NOERROR", '"open relay; %s192.0.2.1"' % URL),
        ("2.2.0.192", "A", "NXDOMAIN", ""),
        ("77.100.51.198", "A", "NOERROR", "127.0.0.3"),
        (V6_HOST, "A", "NOERROR", "127.0.0.4"),
        (V6_HOST, "TXT", "NOERROR", '"v6 net; %s2001:db8::1"' % URL),
        ("1.2.0.192", "MX", "NOERROR", ""),  # listed, no data of that type
        ("not.an.address", "A", "NXDOMAIN", ""),
    ]
    for name, rtype, status, short in cases:
        assert dig(port, name + "." + ZONE, rtype) == (status, short), (name, rtype)
    status, soa = dig(port, ZONE, "SOA")
    assert status == "NOERROR" and soa.startswith("ns.example.test. hostmaster.bl.example.test. ")
    assert dig(port, ZONE, "NS") == ("NOERROR", "ns.example.test.")
    assert dig(port, "example.com", "A")[0] == "REFUSED"
    assert dig(port, "1.2.0.192." + ZONE, "TXT", "+tcp") == (
        "NOERROR", '"open relay; %s192.0.2.1"' % URL)
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "1.0.0.127." + ZONE],
                         capture_output=True, text=True, timeout=10).stdout
    assert "flags: qr aa" in out and "AUTHORITY: 1" in out  # negative answer with the SOA


@pytest.mark.parametrize("dnsbl", ["blocklist-nameserver ns2.example.test\n"], indirect=True)
def test_nameserver_directive_names_the_apex_ns_and_soa(dnsbl):
    port = dnsbl[0]
    assert dig(port, ZONE, "NS") == ("NOERROR", "ns2.example.test.")
    assert dig(port, ZONE, "SOA")[1].startswith("ns2.example.test. ")


def test_cli_change_served_without_reload(dnsbl):
    port, conf, proc = dnsbl
    name = "9.113.0.203." + ZONE
    assert dig(port, name)[0] == "NXDOMAIN"
    rg(conf, "list", "add", "203.0.113.9", "--reason", "new listing")
    t0 = time.time()
    while dig(port, name)[1] != "127.0.0.2":
        assert time.time() - t0 < 5, "the new listing is not served"
        time.sleep(0.05)
    rg(conf, "list", "del", "203.0.113.9", "--reason", "gone")
    t0 = time.time()
    while dig(port, name)[0] != "NXDOMAIN":
        assert time.time() - t0 < 5, "the delisting is not served"
        time.sleep(0.05)


def test_garbage_does_not_kill_the_server(dnsbl):
    port, conf, proc = dnsbl
    loop = bytes([0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1])
    counts = bytes([0xAB, 0xCD, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        for junk in (b"", b"\x00", os.urandom(11), os.urandom(700), b"\xff" * 512):
            s.sendto(junk, ("127.0.0.1", port))
        for pkt, ident in ((loop, b"\x12\x34"), (counts, b"\xab\xcd")):
            s.sendto(pkt, ("127.0.0.1", port))
            for _ in range(10):  # random junk may have been a query with an answer of its own
                reply, _ = s.recvfrom(4096)
                if reply[:2] == ident:
                    break
            assert reply[:2] == ident and reply[2] & 0x80 and reply[3] & 0x0F == 1  # FORMERR
    with socket.create_connection(("127.0.0.1", port), timeout=3) as c:  # TCP: a bogus length
        c.sendall(b"\x00\x05abc")
    assert proc.poll() is None
    assert dig(port, "2.0.0.127." + ZONE) == ("NOERROR", "127.0.0.2")


def query_packet(ident, name, rtype=1):
    """A DNS query (RD, one question, class IN) as bytes."""
    wire = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    return ident.to_bytes(2, "big") + b"\x01\x00\x00\x01" + b"\0" * 6 + wire + \
        rtype.to_bytes(2, "big") + b"\x00\x01"


@pytest.mark.parametrize("dnsbl", ["blocklist-rate-limit 20/s\nblocklist-rate-slip 2\n"
                                   "blocklist-rate-prefix 32 128\n"], indirect=True)
def test_rate_limit_per_client(dnsbl, tmp_path):
    """A burst of 200 queries from 127.0.0.2 at 20/s: some answers dropped, some truncated (TC,
    the slip); 127.0.0.3 is still answered in full; the counters reach the log."""
    port, conf, proc = dnsbl
    full = tc = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.2", 0))
        s.settimeout(1)
        for i in range(200):
            s.sendto(query_packet(i, "2.0.0.127." + ZONE), ("127.0.0.1", port))
        try:
            for _ in range(200):
                reply, _ = s.recvfrom(4096)
                if reply[2] & 0x02:
                    tc += 1
                else:
                    full += 1
        except socket.timeout:
            pass
    assert full + tc < 200 and tc > 0 and 0 < full < 150, (full, tc)
    assert dig(port, "2.0.0.127." + ZONE, "A", "-b", "127.0.0.3") == ("NOERROR", "127.0.0.2")
    proc.terminate()
    proc.wait(timeout=5)
    log = (tmp_path / "dnsbl.log").read_text()
    assert "rate-limit=20/s" in log and "dnsbl rate limit" in log and "dropped=" in log, log


def scrape(conf):
    """The metrics of the dnsbl server of conf (blocklist-metrics-listen), as {sample: value}."""
    mport = re.search(r"^blocklist-metrics-listen 127\.0\.0\.1:(\d+)$", conf.read_text(),
                      re.M).group(1)
    with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % mport, timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    return {line.rsplit(" ", 1)[0]: int(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


@pytest.mark.parametrize("dnsbl", ["blocklist-metrics-listen 127.0.0.1:{mport}\n"
                                   "blocklist-rate-limit 1000/s\n"], indirect=True)
def test_metrics_endpoint_counts_queries(dnsbl, tmp_path):
    """blocklist-metrics-listen: queries by transport, answers by RCODE, messages that are no
    query, the index's entries and loads, the limiter; served after the drop to the user."""
    port, conf, proc = dnsbl
    before = scrape(conf)
    assert dig(port, "1.2.0.192." + ZONE)[0] == "NOERROR"
    assert dig(port, "9.2.0.192." + ZONE)[0] == "NXDOMAIN"
    assert dig(port, "8.2.0.192." + ZONE)[0] == "NXDOMAIN"
    assert dig(port, "1.2.0.192." + ZONE, "A", "+tcp")[0] == "NOERROR"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"\x00", ("127.0.0.1", port))  # no query: not answered
    deadline = time.time() + 5
    while time.time() < deadline and \
            scrape(conf)["relayguard_blocklist_ignored_total"] == before.get(
                "relayguard_blocklist_ignored_total", 0):
        time.sleep(0.05)
    m = scrape(conf)

    def grew(name):
        return m[name] - before[name]
    assert grew('relayguard_blocklist_queries_total{transport="udp"}') == 4
    assert grew('relayguard_blocklist_queries_total{transport="tcp"}') == 1
    assert grew('relayguard_blocklist_answers_total{rcode="NOERROR"}') == 2
    assert grew('relayguard_blocklist_answers_total{rcode="NXDOMAIN"}') == 2
    assert grew("relayguard_blocklist_ignored_total") == 1
    entries = m["relayguard_blocklist_entries"]  # the 3 added and the RFC 5782 test entry
    assert entries == 4 and m["relayguard_blocklist_index_loads_total"] >= 1
    assert m['relayguard_blocklist_rate_limited_total{action="dropped"}'] == 0
    rg(conf, "list", "add", "203.0.113.7", "--reason", "new")
    deadline = time.time() + 10
    while time.time() < deadline and scrape(conf)["relayguard_blocklist_entries"] == entries:
        time.sleep(0.1)
    m2 = scrape(conf)
    assert m2["relayguard_blocklist_entries"] == entries + 1
    assert m2["relayguard_blocklist_index_loads_total"] == \
        m["relayguard_blocklist_index_loads_total"] + 1
    try:
        urllib.request.urlopen("http://127.0.0.1:%s/other" % re.search(
            r"blocklist-metrics-listen 127\.0\.0\.1:(\d+)", conf.read_text()).group(1), timeout=5)
        raise AssertionError("no 404")
    except urllib.error.HTTPError as e:
        assert e.code == 404
    assert "dnsbl metrics: listening" in (tmp_path / "dnsbl.log").read_text()


@pytest.mark.skipif(not shutil.which("rbldnsd"), reason="rbldnsd not installed")
def test_rbldnsd_answers_the_same(dnsbl, tmp_path):
    port, conf, proc = dnsbl
    rg(conf, "list", "add", "203.0.112.0/22", "--reason", "odd prefix")
    rg(conf, "list", "add", "2001:db8:1::/48", "--reason", 'v6 "quoted"', "--code", "5")
    data = tmp_path / "rbl"
    data.mkdir()
    os.chmod(data, 0o755)
    rg(conf, "list", "export", "rbldnsd", str(data / "ip4"), "--ip6", str(data / "ip6"))
    for f in ("ip4", "ip6"):
        os.chmod(data / f, 0o644)
    rport = free_udp_tcp_port()
    rbl = subprocess.Popen(["rbldnsd", "-n", "-u", "nobody", "-b", "127.0.0.1/%d" % rport,
                            "-w", str(data), ZONE + ":ip4set:ip4", ZONE + ":ip6trie:ip6"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        t0 = time.time()
        while dig(rport, "2.0.0.127." + ZONE)[1] != "127.0.0.2":
            assert rbl.poll() is None and time.time() - t0 < 10, "rbldnsd did not start"
            time.sleep(0.1)
        t0 = time.time()  # our server sees the two additions too
        while dig(port, "5.113.0.203." + ZONE)[1] != "127.0.0.2":
            assert time.time() - t0 < 5
            time.sleep(0.05)
        names = ["2.0.0.127", "1.0.0.127", V6_TEST_LISTED, V6_TEST_UNLISTED, "1.2.0.192",
                 "2.2.0.192", "77.100.51.198", "5.113.0.203", "5.116.0.203", V6_HOST,
                 "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2"]
        for name in names:
            for rtype in ("A", "TXT"):
                ours = dig(port, name + "." + ZONE, rtype)
                theirs = dig(rport, name + "." + ZONE, rtype)
                assert ours == theirs, (name, rtype, ours, theirs)
    finally:
        rbl.terminate()
        rbl.wait(timeout=5)


def test_own_dnsbl_client_rejects_a_client_listed_by_relayguard_dnsbl(dnsbl, make_server, raw):
    """The two halves together: the MTA asks `relayguard dnsbl` (its dns-server) and rejects a
    client the blocklist lists, naming the zone and the TXT reason; an unlisted client passes."""
    port, conf, proc = dnsbl
    rg(conf, "list", "add", "127.0.0.7", "--reason", "open relay found by the scanner")
    t0 = time.time()
    while dig(port, "7.0.0.127." + ZONE)[1] != "127.0.0.2":
        assert time.time() - t0 < 5, "the new entry was not served"
        time.sleep(0.05)
    srv = make_server("dns-server 127.0.0.1:%d\ndnsbl %s timeout 3s\n" % (port, ZONE))
    for source, code in (("127.0.0.7", 554), ("127.0.0.3", 250)):
        c = raw(srv.port, source=source)
        assert c.reply()[0] == 220
        assert c.cmd("EHLO client.test")[0] == 250
        assert c.cmd("MAIL FROM:<someone@outside.test>")[0] == 250
        got, text = c.cmd("RCPT TO:<alice@example.test>")
        assert got == code, (source, got, text)
        if code == 554:
            assert "5.7.1" in text and ZONE in text
            assert "open relay found by the scanner" in text
        c.close()


def test_list_help_names_every_subcommand():
    p = subprocess.run([BIN, "list", "help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p
    for sub in ("add", "del", "show", "export rbldnsd", "export bind", "request-delist"):
        assert "relayguard list " + sub in p.stdout, p.stdout
