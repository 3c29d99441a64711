"""relayguard route: the resolver (src/dns) through the real binary against a real DNS server
(dnsmasq on a loopback port): MX order (RFC 5321 5.1), equal preferences shuffled, implicit MX,
null MX (RFC 7505), NXDOMAIN, server failure = temporary, static routes, IPv6."""
import json
import subprocess

import pytest
from conftest import BIN, Server
from dnsserver import DnsServer

ZONE = dict(
    mx=[("a.test", "mx20.a.test", 20), ("a.test", "mx10.a.test", 10),
        ("a.test", "mx30.a.test", 30),
        ("eq.test", "e1.eq.test", 10), ("eq.test", "e2.eq.test", 10),
        ("eq.test", "e3.eq.test", 10), ("eq.test", "first.eq.test", 5),
        ("null.test", ".", 0),
        ("six.test", "mx.six.test", 10),
        ("half.test", "ok.half.test", 20), ("half.test", "mx.broken.test", 10),
        ("dead.test", "mx.broken.test", 10),
        ("gone.test", "nosuchhost.test", 10),
        ("alias.test", "mxalias.alias.test", 10),
        ("routed.test", "mx10.a.test", 10)],
    a=[("mx10.a.test", "127.0.0.10"), ("mx20.a.test", "127.0.0.20"),
       ("mx30.a.test", "127.0.0.30"),
       ("e1.eq.test", "127.0.1.1"), ("e2.eq.test", "127.0.1.2"), ("e3.eq.test", "127.0.1.3"),
       ("first.eq.test", "127.0.1.5"),
       ("imp.test", "127.0.0.6"),
       ("mx.six.test", "::1"), ("dual.test", "127.0.0.7"), ("dual.test", "::1"),
       ("ok.half.test", "127.0.0.21"),
       ("relay.test", "127.0.0.40"), ("target.alias.test", "127.0.0.50")],
    cname=[("mxalias.alias.test", "target.alias.test")],
    servfail=["fail.test", "broken.test"],
)


@pytest.fixture
def dns(tmp_path):
    with DnsServer(tmp_path, **ZONE) as d:
        yield d


@pytest.fixture
def conf(tmp_path, dns):
    extra = ("dns-server %s\ndelivery port 2526\n"
             "route routed.test via relay.test:2600\n"
             "route v6route.test via [::1]:2700\n" % dns.server)
    return str(Server(tmp_path, extra).conf)


def route(conf, *args):
    return subprocess.run([BIN, "route", "-c", conf, *args], capture_output=True,
                          text=True, timeout=30)


def route_json(conf, domain):
    out = route(conf, domain, "--json")
    assert out.stdout, out.stderr
    return out.returncode, json.loads(out.stdout)


def hosts(res):
    return [(h["pref"], h["name"], sorted(h["addresses"])) for h in res["hosts"]]


def test_mx_in_preference_order(conf):
    rc, res = route_json(conf, "a.test")
    assert rc == 0 and res["kind"] == "mx" and res["status"] == "ok"
    assert hosts(res) == [(10, "mx10.a.test", ["127.0.0.10:2526"]),
                          (20, "mx20.a.test", ["127.0.0.20:2526"]),
                          (30, "mx30.a.test", ["127.0.0.30:2526"])]


def test_equal_preferences_in_random_order(conf):
    orders = set()
    for _ in range(30):
        rc, res = route_json(conf, "eq.test")
        assert rc == 0
        names = [h["name"] for h in res["hosts"]]
        assert names[0] == "first.eq.test"  # a lower preference always comes first
        assert sorted(names[1:]) == ["e1.eq.test", "e2.eq.test", "e3.eq.test"]
        orders.add(tuple(names))
        if len(orders) >= 3:
            break
    assert len(orders) >= 3, orders  # 30 tries of 6 orders: not all the same few


def test_no_mx_uses_the_domains_own_address(conf):
    rc, res = route_json(conf, "imp.test")
    assert rc == 0 and res["kind"] == "implicit"
    assert hosts(res) == [(0, "imp.test", ["127.0.0.6:2526"])]


def test_cname_mx_target_is_followed(conf):
    rc, res = route_json(conf, "alias.test")
    assert rc == 0 and hosts(res) == [(10, "mxalias.alias.test", ["127.0.0.50:2526"])]


def test_null_mx_is_permanent(conf):
    rc, res = route_json(conf, "null.test")
    assert rc == 1 and res["status"] == "nullmx" and res["hosts"] == []
    assert "null MX" in res["error"]


def test_nxdomain_is_permanent(conf):
    rc, res = route_json(conf, "nx.test")
    assert rc == 1 and res["status"] == "notfound" and "not found" in res["error"]


def test_server_failure_is_temporary(conf):
    rc, res = route_json(conf, "fail.test")
    assert rc == 2 and res["status"] == "tempfail", res


def test_mx_host_without_address(conf):
    # one MX host's address lookup fails temporarily: the other host is used, the failed one
    # is kept with tempfail so the caller can decide
    rc, res = route_json(conf, "half.test")
    assert rc == 0 and res["status"] == "ok"
    assert [(h["name"], h["addresses"], h["tempfail"]) for h in res["hosts"]] == [
        ("mx.broken.test", [], True), ("ok.half.test", ["127.0.0.21:2526"], False)]
    # every host failing temporarily: temporary
    rc, res = route_json(conf, "dead.test")
    assert rc == 2 and res["status"] == "tempfail"
    # every host without any address: permanent
    rc, res = route_json(conf, "gone.test")
    assert rc == 1 and res["status"] == "notfound"


def test_ipv6(conf):
    rc, res = route_json(conf, "six.test")
    assert rc == 0 and hosts(res) == [(10, "mx.six.test", ["[::1]:2526"])]
    rc, res = route_json(conf, "dual.test")
    assert rc == 0 and hosts(res) == [(0, "dual.test", ["127.0.0.7:2526", "[::1]:2526"])]


def test_static_route(conf):
    rc, res = route_json(conf, "routed.test")  # has an MX, but the route wins
    assert rc == 0 and res["kind"] == "route"
    assert res["route"] == {"host": "relay.test", "port": 2600}
    assert hosts(res) == [(0, "relay.test", ["127.0.0.40:2600"])]
    rc, res = route_json(conf, "v6route.test")  # an IP literal: no DNS
    assert rc == 0 and hosts(res) == [(0, "::1", ["[::1]:2700"])]


def test_smarthost(tmp_path, dns):
    conf = str(Server(tmp_path, "dns-server %s\nroute * via relay.test" % dns.server).conf)
    rc, res = route_json(conf, "a.test")
    assert rc == 0 and res["kind"] == "route" and hosts(res) == [
        (0, "relay.test", ["127.0.0.40:25"])]
    out = route(conf, "example.test")  # local domains are never routed
    assert out.returncode == 0 and out.stdout == "example.test: local (maildir)\n"


def test_text_output_and_usage(conf):
    out = route(conf, "A.Test.")
    assert out.returncode == 0
    assert out.stdout.splitlines() == ["a.test: MX",
                                       "     10 mx10.a.test 127.0.0.10:2526",
                                       "     20 mx20.a.test 127.0.0.20:2526",
                                       "     30 mx30.a.test 127.0.0.30:2526"]
    out = route(conf, "nx.test")
    assert out.returncode == 1 and "notfound: Host not found" in out.stdout
    out = route(conf, "half.test")
    assert "mx.broken.test (no address: temporary failure)" in out.stdout
    assert route(conf, "[127.0.0.9]").stdout.splitlines()[1].endswith("127.0.0.9:2526")
    assert route(conf).returncode == 2
    assert route(conf, "a..test").returncode == 2
    out = subprocess.run([BIN, "route", "-c", "/nonexistent.conf", "a.test"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "nonexistent" in out.stderr


def test_dns_timeout_setting(tmp_path):
    """delivery dns-timeout: a DNS server that never answers makes the lookup a temporary
    failure (exit 2) after the configured tries, not a hang."""
    import socket
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        extra = "dns-server 127.0.0.1:%d\ndelivery dns-timeout 1s\n" % silent.getsockname()[1]
        conf = str(Server(tmp_path, extra).conf)
        out = route(conf, "example.net")
        assert out.returncode == 2, (out.stdout, out.stderr)
        assert "timeout" in (out.stdout + out.stderr).lower(), (out.stdout, out.stderr)
    finally:
        silent.close()
