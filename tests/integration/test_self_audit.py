"""The self-audit of serve: the relay battery of `relayguard probe` against the server's own
listeners from an outside-looking source (127.0.0.2 by default), on a timer (`self-audit
INTERVAL`) or at once (`relayguard audit-now`): a log line per listener, an ALERT line when one
relays, the relayguard_self_audit_* metrics and `status` lines. And `relayguard probe` over
STARTTLS and implicit TLS against relayguard itself."""
import json
import re
import subprocess
import time

from conftest import BIN, free_port
from test_metrics import scrape, value
from tls_helpers import make_cert


def wait_log(srv, pattern, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(pattern, srv.logtext())
        if m:
            return m
        time.sleep(0.1)
    raise AssertionError("no %r in the log:\n%s" % (pattern, srv.logtext()[-4000:]))


def audited(make_server, extra):
    mport = free_port()
    srv = make_server("metrics-listen 127.0.0.1:%d\n%s" % (mport, extra))
    return srv, mport


def test_timer_closed_listener_logs_and_metrics(make_server):
    srv, mport = audited(make_server, "self-audit 1s")
    assert "self-audit: scheduled interval=1s first_in=1s" in srv.logtext()
    line = wait_log(srv, r"self-audit: listener closed listen=127\.0\.0\.1:%d [^\n]*" % srv.port).group(0)
    # the battery ran from the first 127.0.0.x outside the trusted networks (127.0.0.1 is trusted)
    assert "source=127.0.0.2 " in line and "relayed=0 " in line and "verdict=closed" in line
    assert re.search(r"tests=(\d+)", line) and int(re.search(r"tests=(\d+)", line).group(1)) >= 24
    wait_log(srv, r"self-audit: run finished listeners=1 open=0")
    s = scrape(mport)
    assert value(s, "relayguard_self_audit_open", listener="127.0.0.1:%d" % srv.port) == 0
    assert ("relayguard_self_audit_open", (("listener", "127.0.0.1:%d" % srv.port),)) in s
    assert value(s, "relayguard_self_audit_runs_total") >= 1
    assert value(s, "relayguard_self_audit_last_run_timestamp_seconds") > time.time() - 60
    # the tests were refused by the policy, as for any outside client, and nothing was queued
    assert "client=127.0.0.2" in srv.logtext() and "ALERT" not in srv.logtext()
    status = srv.ctl("status")
    assert status.returncode == 0
    assert re.search(r"^self-audit every 1s$", status.stdout, re.M), status.stdout
    assert re.search(r"^self-audit-listener 127\.0\.0\.1:%d closed relayed=0 tests=\d+$" % srv.port,
                     status.stdout, re.M), status.stdout
    assert "0 messages queued" in srv.queue_list() or "queue is empty" in srv.queue_list().lower()


def test_open_relay_with_override_raises_the_alert(make_server):
    srv, mport = audited(make_server, 'relay allow from any id everyone\n'
                                      'open-relay-override "self-audit test"\nself-audit 1s')
    line = wait_log(srv, r"self-audit: ALERT: OPEN RELAY[^\n]*listen=127\.0\.0\.1:%d [^\n]*" % srv.port).group(0)
    relayed = int(re.search(r"relayed=(\d+)", line).group(1))
    assert relayed >= 5 and "source=127.0.0.2 " in line and "first=" in line
    wait_log(srv, r"self-audit: run finished listeners=1 open=1")
    s = scrape(mport)
    assert value(s, "relayguard_self_audit_open", listener="127.0.0.1:%d" % srv.port) == 1
    # stopped at RCPT: no test message was queued
    assert "rule=everyone" in srv.logtext()
    assert "queued as" not in srv.logtext()


def test_audit_now_with_the_timer_off(make_server):
    srv, mport = audited(make_server, "self-audit off")
    assert "self-audit: scheduled" not in srv.logtext()
    assert srv.ctl("status").stdout.count("self-audit off\n") == 1
    out = srv.ctl("audit-now")
    assert out.returncode == 0 and "self-audit started" in out.stdout, out.stdout + out.stderr
    wait_log(srv, r"self-audit: run finished listeners=1 open=0")
    assert value(scrape(mport), "relayguard_self_audit_runs_total") == 1
    assert re.search(r"^self-audit-last \d+$", srv.ctl("status").stdout, re.M)
    bad = srv.ctl("audit-now", "x")
    assert bad.returncode == 2 or bad.returncode == 1


def test_wildcard_and_tls_listeners_and_a_configured_source(make_server, tmp_path):
    crt, key = make_cert(tmp_path / "tls")
    wild, implicit = free_port("0.0.0.0"), free_port()  # wild: free on every address
    srv, mport = audited(make_server, "tls-certificate %s\ntls-key %s\nlisten 0.0.0.0:%d\n"
                                      "listen 127.0.0.1:%d tls implicit\nself-audit 1s\n"
                                      "self-audit-source 127.0.0.9" % (crt, key, wild, implicit))
    wait_log(srv, r"self-audit: run finished listeners=3 open=0")
    log = srv.logtext()
    for listen in ("127.0.0.1:%d" % srv.port, "0.0.0.0:%d" % wild, "127.0.0.1:%d" % implicit):
        m = re.search(r"self-audit: listener closed listen=%s [^\n]*" % re.escape(listen), log)
        assert m, log[-3000:]
        # STARTTLS where offered (every listener with a certificate), TLS from the first byte
        assert "source=127.0.0.9 " in m.group(0) and "tls=\"TLSv1." in m.group(0), m.group(0)
    assert "target=127.0.0.1:%d " % wild in log  # the wildcard is probed on loopback
    s = scrape(mport)
    assert value(s, "relayguard_self_audit_open", listener="127.0.0.1:%d" % implicit) == 0


def test_no_outside_source_is_said_not_guessed(make_server):
    srv, mport = audited(make_server, "trusted-network 127.0.0.0/8\nself-audit 1s")
    line = wait_log(srv, r"self-audit: listener not tested[^\n]*").group(0)
    assert "no IPv4 source address outside the trusted networks" in line
    s = scrape(mport)
    assert ("relayguard_self_audit_open", (("listener", "127.0.0.1:%d" % srv.port),)) not in s


def test_config_errors(tmp_path):
    for body, problem in (("self-audit sometimes", "invalid duration 'sometimes' for self-audit"),
                          ("self-audit-source example.org", "invalid self-audit-source"),
                          ("self-audit-source 127.0.0.2 127.0.0.3", "one address per family")):
        conf = tmp_path / "c.conf"
        conf.write_text("listen 127.0.0.1:2525\n%s\n" % body)
        out = subprocess.run([BIN, "check", "-c", str(conf)], capture_output=True, text=True,
                             timeout=10)
        assert out.returncode == 2 and problem in out.stderr, out.stderr


# ---- relayguard probe over TLS against relayguard itself ----

def probe(*args):
    return subprocess.run([BIN, "probe", *args], capture_output=True, text=True, timeout=120)


def tls_server(make_server, tmp_path):
    crt, key = make_cert(tmp_path / "tls")
    implicit = free_port()
    srv = make_server("tls-certificate %s\ntls-key %s\nlisten 127.0.0.1:%d tls implicit\n"
                      % (crt, key, implicit))
    return srv, implicit


def test_probe_starttls_against_relayguard(make_server, tmp_path):
    srv, _ = tls_server(make_server, tmp_path)
    out = probe("--starttls", "--source", "127.0.0.2", "127.0.0.1:%d" % srv.port)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"TLSv1\.[23]", out.stdout), out.stdout
    assert re.search(r"^result: closed \(0 of \d+ tests relayed", out.stdout, re.M), out.stdout
    assert "smtp: TLS handshake failed" not in srv.logtext()


def test_probe_implicit_tls_against_relayguard(make_server, tmp_path):
    srv, implicit = tls_server(make_server, tmp_path)
    out = probe("--tls", "--json", "--source", "127.0.0.2", "127.0.0.1:%d" % implicit)
    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads(out.stdout)
    assert doc["tls"].startswith("TLSv1."), doc
    assert doc["result"] == "closed" and doc["open"] == 0, doc
    assert all(t["verdict"] != "open" for t in doc["tests"])
