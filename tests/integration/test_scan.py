"""`relayguard scan`, delisting with proof and scheduled rescans (issue 8), against real hosts on
loopback addresses 127.0.1.x, all on one port P (each host on its own address): relayguard
closed (twice), relayguard open (open-relay-override), Postfix configured open, and a scripted
server that accepts RCPT but refuses DATA. The scanner connects from 127.0.0.2 (outside every
trusted network); loopback is a reserved range, so the scans say --allow-reserved."""
import json
import os
import socket
import subprocess
import time

import pytest
import postfix_peer
from conftest import BIN, Server, free_port
from sinks import Script, ScriptedSink
from test_blocklist import dig, free_udp_tcp_port

ZONE = "bl.example.test"
OPEN_OVERRIDE = 'relay allow from any id everyone\nopen-relay-override "scan test"\n'


def port_free_on(hosts):
    """A TCP port free on every one of hosts."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind((hosts[0], 0))
            port = s.getsockname()[1]
        ok = True
        for h in hosts[1:]:
            with socket.socket() as t:
                try:
                    t.bind((h, port))
                except OSError:
                    ok = False
                    break
        if ok:
            return port
    raise RuntimeError("no port free on all of %s" % hosts)


def scanner_conf(tmp, port, extra=""):
    conf = tmp / "scan.conf"
    conf.write_text(
        "hostname scanner.example.test\n"
        "listen 127.0.0.1:9\n"  # required by the config; the scanner never opens it
        f"spool {tmp}/spool\n"
        f"blocklist-database {tmp}/db/blocklist.db\n"
        f"blocklist-zone {ZONE}\n"
        f"scan-ports {port}\n"
        "scan-source 127.0.0.2\n"
        "scan-timeout 5\n" + extra)
    return conf


def rg(conf, *args, timeout=60):
    return subprocess.run([BIN, *args, "-c", str(conf)], capture_output=True, text=True,
                          timeout=timeout)


def scan(conf, *targets, extra=()):
    p = rg(conf, "scan", *targets, "--json", "--rate", "200", "--min-interval", "0",
           "--allow-reserved", *extra)
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    return p, {d["ip"]: d for d in lines if "ip" in d}, [d for d in lines if d.get("summary")]


def show(conf, ip):
    p = rg(conf, "list", "show", ip, "--json")
    return json.loads(p.stdout)


def relayguard_on(tmp, addr, port, extra=""):
    """A relayguard listening on addr:port too (the fixture's own port stays on 127.0.0.1)."""
    tmp.mkdir(parents=True, exist_ok=True)
    for d in (tmp.parent.parent, tmp.parent, tmp):  # searchable by the server's user
        os.chmod(d, os.stat(d).st_mode | 0o011)
    return Server(tmp, "listen %s:%d\n%s" % (addr, port, extra)).start()


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    addrs = ["127.0.1.%d" % i for i in range(1, 6)]
    port = port_free_on(addrs)
    base = tmp_path_factory.mktemp("scanhosts")
    servers = [relayguard_on(base / "c1", addrs[0], port),
               relayguard_on(base / "c2", addrs[1], port),
               relayguard_on(base / "open", addrs[2], port, OPEN_OVERRIDE)]
    pf = None
    if postfix_peer.available():
        pf = postfix_peer.PostfixPeer(host=addrs[3])
        pf.ports["open"] = port
        pf.start()
    sink = ScriptedSink(host=addrs[4], port=port,
                        scripts=[Script(data="554 5.7.1 no data for you")])
    yield port, pf is not None
    sink.server.shutdown()
    if pf:
        pf.stop()
    for s in servers:
        s.stop()


def test_scan_lists_exactly_the_open_ones(hosts, tmp_path):
    port, postfix = hosts
    conf = scanner_conf(tmp_path, port)
    p, res, summary = scan(conf, "127.0.1.0/29", extra=("--ports", str(port)))
    assert p.returncode == 1, p.stderr  # open relays found
    want_open = {"127.0.1.3"} | ({"127.0.1.4"} if postfix else set())
    assert {ip for ip, d in res.items() if d["result"] == "open"} == want_open, p.stdout
    assert res["127.0.1.1"]["result"] == res["127.0.1.2"]["result"] == "clean"
    rcpt_only = res["127.0.1.5"]
    assert rcpt_only["result"] == "clean" and rcpt_only["ports"][0]["accepted_rcpt"]
    assert rcpt_only["ports"][0]["relayed"] == []
    for ip in ("127.0.1.0", "127.0.1.6", "127.0.1.7"):  # nothing listens there
        assert res[ip]["result"] == "untestable" and not res[ip]["ports"][0]["reachable"]
    assert summary[0]["open"] == len(want_open) and summary[0]["scanned"] == 8, p.stdout
    # the store: open ones listed with evidence, the others not
    e = show(conf, "127.0.1.3")
    assert e["listed"] and e["code"] == 2
    assert "nmap-01" in e["evidence"]["tests"] and e["evidence"]["depth"] == 2
    assert "S: 250" in e["evidence"]["transcript"] and "C: DATA" in e["evidence"]["transcript"]
    assert e["evidence"]["scanner"] == "127.0.0.2"
    for ip in ("127.0.1.1", "127.0.1.2", "127.0.1.5"):
        assert not show(conf, ip)["listed"]
    # relayguard dnsbl answers them
    dport = free_udp_tcp_port()
    with open(conf, "a") as f:
        f.write("blocklist-listen 127.0.0.1:%d\n" % dport)
    log = open(tmp_path / "dnsbl.log", "w")
    proc = subprocess.Popen([BIN, "dnsbl", "-c", str(conf)], stdout=log, stderr=log)
    try:
        deadline = time.time() + 10
        while dig(dport, "2.0.0.127." + ZONE)[1] != "127.0.0.2" and time.time() < deadline:
            time.sleep(0.1)
        assert dig(dport, "3.1.0.127." + ZONE) == ("NOERROR", "127.0.0.2")
        assert "open relay" in dig(dport, "3.1.0.127." + ZONE, "TXT")[1]
        for last in ("1", "2", "5", "6"):
            assert dig(dport, last + ".1.0.127." + ZONE)[0] == "NXDOMAIN"
        if postfix:
            assert dig(dport, "4.1.0.127." + ZONE)[1] == "127.0.0.2"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
    # --min-interval (default 1d): every host with a result is skipped now
    p = rg(conf, "scan", "--allow-reserved", "--json", "127.0.1.1", "127.0.1.3", "127.0.1.6",
           "--ports", str(port), "--rate", "200")
    lines = {d["ip"]: d for d in map(json.loads, p.stdout.splitlines()) if "ip" in d}
    assert lines["127.0.1.1"]["result"] == lines["127.0.1.3"]["result"] == "skipped"
    assert "--min-interval" in lines["127.0.1.1"]["why"]
    assert lines["127.0.1.6"]["result"] == "untestable"  # no result before: scanned again
    assert p.returncode == 0


def test_reserved_ranges_opt_out_and_caps(tmp_path):
    conf = scanner_conf(tmp_path, 2525)
    p = rg(conf, "scan", "--json", "127.0.1.0/30", "10.1.2.3", "2001:db8::1", "fe80::1")
    out = [json.loads(line) for line in p.stdout.splitlines()]
    skipped = {d["ip"]: d["why"] for d in out if d.get("result") == "skipped"}
    assert len(skipped) == 7 and all("reserved range" in w for w in skipped.values())
    assert "127.0.0.0/8" in skipped["127.0.1.2"] and "2001:db8::/32" in skipped["2001:db8::1"]
    assert out[-1]["summary"] and out[-1]["scanned"] == 0 and p.returncode == 0
    optout = tmp_path / "optout"
    optout.write_text("# never scan these\n127.0.1.0/31\n127.0.1.2  # one host\n")
    p = rg(conf, "scan", "--json", "--dry-run", "--allow-reserved", "--opt-out", str(optout),
           "127.0.1.0/30")
    out = {d["ip"]: d for d in map(json.loads, p.stdout.splitlines()) if "ip" in d}
    assert [out["127.0.1.%d" % i]["result"] for i in range(4)] == [
        "skipped", "skipped", "skipped", "would-scan"]
    assert out["127.0.1.0"]["why"] == "opt-out list"
    # the same list as the config directive scan-opt-out
    conf2 = scanner_conf(tmp_path, 2525, "scan-opt-out %s\n" % optout)
    p = rg(conf2, "scan", "--json", "--dry-run", "--allow-reserved", "127.0.1.2")
    assert json.loads(p.stdout.splitlines()[0])["why"] == "opt-out list"
    p = rg(conf, "scan", "--allow-reserved", "2001:db8::/64")
    assert p.returncode == 2 and "expands beyond the cap of 65536 hosts" in p.stderr
    bad = tmp_path / "bad"
    bad.write_text("127.0.1.0/33\n")
    p = rg(conf, "scan", "--opt-out", str(bad), "127.0.1.1")
    assert p.returncode == 2 and "opt-out line 1" in p.stderr


def history(conf, ip):
    return [(h["state"], h["who"], h["why"]) for h in show(conf, ip)["history"]]


def test_full_cycle_delist_rescan_expire_relist(tmp_path):
    a, b = "127.0.1.9", "127.0.1.10"
    port = port_free_on([a, b])
    fixed = relayguard_on(tmp_path / "fixed", a, port, OPEN_OVERRIDE)
    still = relayguard_on(tmp_path / "still", b, port, OPEN_OVERRIDE)
    conf = scanner_conf(tmp_path, port, "scan-allow-reserved yes\n")
    try:
        p, res, _ = scan(conf, a, b)
        assert p.returncode == 1 and res[a]["result"] == res[b]["result"] == "open"
        assert show(conf, a)["listed"] and show(conf, b)["listed"]
        # the admin closes the relay: the same server restarted with the default policy
        fixed.stop()
        fixed.conf.write_text(fixed.conf.read_text().replace(OPEN_OVERRIDE, ""))
        fixed.start()
        p = rg(conf, "list", "request-delist", a, "--json")
        r = json.loads(p.stdout)
        assert p.returncode == 0 and r["status"] == "delisted", p.stdout + p.stderr
        assert r["evidence"]["result"] == "clean" and r["evidence"]["refused_all"]
        assert not show(conf, a)["listed"] and show(conf, a)["state"] == "delisted"
        assert history(conf, a)[-1][:2] == ("delisted", "cli")
        assert history(conf, a)[-1][2].startswith("clean rescan")
        p = rg(conf, "list", "request-delist", a, "--json")
        assert p.returncode == 1 and json.loads(p.stdout)["status"] == "rate-limited"
        # a host still open stays listed, with the new evidence
        before = show(conf, b)["evidence"]["time"]
        time.sleep(1.1)
        p = rg(conf, "list", "request-delist", b)
        assert p.returncode == 1 and p.stdout.startswith("still-open:"), p.stdout
        e = show(conf, b)
        assert e["listed"] and e["evidence"]["time"] > before
        # the fixed host opens again: a scan relists it
        fixed.stop()
        fixed.conf.write_text(fixed.conf.read_text() + OPEN_OVERRIDE)
        fixed.start()
        p, res, _ = scan(conf, a)
        assert res[a]["result"] == "open" and show(conf, a)["listed"]
        # closed again; scheduled rescan with blocklist-expire-after 0: expired; b stays
        fixed.stop()
        fixed.conf.write_text(fixed.conf.read_text().replace(OPEN_OVERRIDE, ""))
        fixed.start()
        with open(conf, "a") as f:
            f.write("blocklist-expire-after 0\nscan-rescan-interval 0\n")
        p = rg(conf, "scan", "--rescan-listed", "--json", "--rate", "200")
        out = {d["ip"]: d for d in map(json.loads, p.stdout.splitlines()) if "ip" in d}
        assert out[a]["action"] == "expired" and out[b]["action"] == "listed", p.stdout
        assert show(conf, a)["state"] == "expired" and show(conf, b)["listed"]
        # and open once more: relisted, the history tells it all
        fixed.stop()
        fixed.conf.write_text(fixed.conf.read_text() + OPEN_OVERRIDE)
        fixed.start()
        scan(conf, a)
        assert [s for s, _, _ in history(conf, a)] == [
            "listed", "delisted", "listed", "expired", "listed"]
    finally:
        fixed.stop()
        still.stop()


def test_dnsbl_rescans_listed_hosts_on_a_schedule(tmp_path):
    a = "127.0.1.11"
    port = port_free_on([a])
    host = relayguard_on(tmp_path / "h", a, port, OPEN_OVERRIDE)
    dport = free_udp_tcp_port()
    conf = scanner_conf(tmp_path, port, "scan-allow-reserved yes\nblocklist-listen 127.0.0.1:%d\n"
                        "scan-rescan yes\nscan-rescan-interval 1s\nblocklist-expire-after 0\n"
                        % dport)
    log = open(tmp_path / "dnsbl.log", "w")
    proc = None
    try:
        scan(conf, a)
        assert show(conf, a)["listed"]
        host.stop()
        host.conf.write_text(host.conf.read_text().replace(OPEN_OVERRIDE, ""))
        host.start()
        proc = subprocess.Popen([BIN, "dnsbl", "-c", str(conf)], stdout=log, stderr=log)
        name = "11.1.0.127." + ZONE
        deadline = time.time() + 15
        while time.time() < deadline and show(conf, a)["state"] != "expired":
            time.sleep(0.2)
        assert show(conf, a)["state"] == "expired", (tmp_path / "dnsbl.log").read_text()
        assert history(conf, a)[-1][1] == "scan:rescan"
        deadline = time.time() + 5
        while time.time() < deadline and dig(dport, name)[0] != "NXDOMAIN":
            time.sleep(0.2)
        assert dig(dport, name)[0] == "NXDOMAIN"
        assert "rescanning listed hosts every 1s" in (tmp_path / "dnsbl.log").read_text()
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=20)
            assert proc.returncode == 0
        log.close()
        host.stop()



def test_scan_over_ipv6(tmp_path):
    """IPv6 targets over the wire, from ::1: a relayguard that trusts ::1 (so relays for the
    scanner) is found open and listed under its IPv6 address; one that does not trust it scans
    clean and is recorded as scanned, not listed."""
    from conftest import BASE_CONF
    open_port, closed_port = free_port("::1"), free_port("::1")
    opened = relayguard_on(tmp_path / "v6open", "[::1]", open_port)
    closed_tmp = tmp_path / "v6closed"
    closed_tmp.mkdir()
    closed = Server(closed_tmp, "listen [::1]:%d\n" % closed_port,
                    BASE_CONF.replace("trusted-network 127.0.0.1 ::1", "trusted-network 127.0.0.1"))
    closed.start()
    try:
        conf = scanner_conf(tmp_path, open_port)
        p, res, _ = scan(conf, "::1/128", extra=("--ports", str(open_port), "--source", "::1"))
        assert p.returncode == 1 and res["::1"]["result"] == "open", p.stdout + p.stderr
        e = show(conf, "::1")
        assert e["listed"] and e["evidence"]["scanner"] == "::1", e
        (tmp_path / "second").mkdir()
        conf2 = scanner_conf(tmp_path / "second", closed_port)  # a store of its own
        p, res, _ = scan(conf2, "::1", extra=("--ports", str(closed_port), "--source", "::1"))
        assert p.returncode == 0 and res["::1"]["result"] == "clean", p.stdout + p.stderr
        assert not show(conf2, "::1")["listed"]
    finally:
        opened.stop()
        closed.stop()


def test_scan_help_and_usage_errors(tmp_path):
    p = subprocess.run([BIN, "scan", "--help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0 and p.stdout.startswith("usage: relayguard scan"), p
    p = subprocess.run([BIN, "scan", "--no-such-option"], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 2 and "bad option" in p.stderr and "usage:" in p.stderr, p
