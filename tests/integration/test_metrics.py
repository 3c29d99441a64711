"""metrics-listen: GET /metrics in the Prometheus text format (0.0.4), served by libmicrohttpd
inside the server's event loop. Counters move with real SMTP traffic; other paths get 404,
other methods 405; without the directive no HTTP port is opened; `relayguard check` warns
about a metrics address that is not loopback."""
import os
import re
import smtplib
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from conftest import BIN, BASE_CONF, free_port

SAMPLE = re.compile(r'^(relayguard_[a-z_]+)(\{[^}]*\})? ([0-9]+(?:\.[0-9]+)?)$')
LABEL = re.compile(r'([a-z]+)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """The exposition text as {(name, ((label, value), ...)): number}; checks every line."""
    samples, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line[7:].split(" ")
            assert kind in ("counter", "gauge"), line
            typed.add(name)
            continue
        if line.startswith("# HELP "):
            continue
        m = SAMPLE.match(line)
        assert m, "bad sample line %r" % line
        assert m.group(1) in typed, "sample before its TYPE: %r" % line
        labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
        v = m.group(3)
        samples[(m.group(1), labels)] = float(v) if "." in v else int(v)
    return samples


def scrape(port, path="/metrics"):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse(r.read().decode())


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def wait_for(port, name, want, timeout=5, **labels):
    deadline = time.time() + timeout
    while True:
        s = scrape(port)
        if value(s, name, **labels) == want or time.time() > deadline:
            return s
        time.sleep(0.05)


def listening_sockets(pid):
    """TCP sockets in LISTEN state held by process pid."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for row in f.readlines()[1:]:
                cols = row.split()
                n += cols[3] == "0A" and cols[9] in inodes
    return n


@pytest.fixture
def metrics_server(make_server):
    def make(extra=""):
        mport = free_port()
        srv = make_server("metrics-listen 127.0.0.1:%d\n%s" % (mport, extra))
        srv.mport = mport
        return srv
    return make


def test_counters_follow_smtp_traffic(metrics_server):
    srv = metrics_server()
    assert listening_sockets(srv.proc.pid) == 2  # SMTP and HTTP
    s = wait_for(srv.mport, "relayguard_smtp_sessions_active", 0)
    base = value(s, "relayguard_smtp_sessions_total")  # the fixture's connection test
    assert value(s, "relayguard_messages_received_total") == 0
    assert value(s, "relayguard_queue_messages") == 0
    # an outside client: one local mailbox accepted, an unknown user and a relay refused
    with smtplib.SMTP("127.0.0.1", srv.port, source_address=("127.0.0.2", 0)) as c:
        c.ehlo()
        assert c.mail("alice@example.test")[0] == 550  # a forged local sender: postmaster rule
        c.sendmail("x@outside.example", ["alice@example.test"], "Subject: 1\r\n\r\nhello\r\n")
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            c.sendmail("x@outside.example", ["nobody@example.test", "z@far.example"], "x")
    # the trusted local host relays: the message stays queued (its DNS lookup fails: deferred)
    with smtplib.SMTP("127.0.0.1", srv.port, source_address=("127.0.0.1", 0)) as c:
        c.sendmail("me@example.test", ["z@far.example"], "Subject: 2\r\n\r\nrelay me\r\n")
    assert len(srv.wait_messages("alice", 1)) == 1
    s = wait_for(srv.mport, "relayguard_delivered_total", 1, method="maildir")
    s = wait_for(srv.mport, "relayguard_smtp_sessions_active", 0)
    assert value(s, "relayguard_smtp_sessions_total") == base + 2
    assert value(s, "relayguard_smtp_sessions_active") == 0
    assert value(s, "relayguard_messages_received_total") == 2
    assert value(s, "relayguard_messages_received_bytes_total") > len("hello relay me")
    assert value(s, "relayguard_delivered_total", method="maildir") == 1
    assert value(s, "relayguard_delivered_total", method="smtp") == 0
    rcpt = {(dict(k[1])["rule"], dict(k[1])["verdict"]): v for k, v in s.items()
            if k[0] == "relayguard_rcpt_total" and v}
    assert rcpt == {("local-mailbox", "accept"): 1, ("unknown-user", "reject"): 1,
                    ("implicit-reject", "reject"): 1, ("local-host", "accept"): 1}
    mail = {(dict(k[1])["rule"], dict(k[1])["verdict"]): v for k, v in s.items()
            if k[0] == "relayguard_mail_total" and v}
    assert mail == {("sender-ok", "accept"): 3, ("local-sender-unauthenticated", "reject"): 1}
    assert value(s, "relayguard_queue_messages") == 1
    assert value(s, "relayguard_queue_recipients") == 1
    assert value(s, "relayguard_queue_held_messages") == 0
    assert 0 <= value(s, "relayguard_queue_oldest_age_seconds") < 60


def test_refused_sessions_by_reason(metrics_server, raw):
    srv = metrics_server("limit max-sessions 1\nlimit greeting-delay 5s")
    base = value(wait_for(srv.mport, "relayguard_smtp_sessions_active", 0),
                 "relayguard_smtp_sessions_total")
    first = raw(srv.port)  # holds the only session, waiting for its banner
    second = raw(srv.port)
    code, _ = second.reply()
    assert code == 421 and second.closed()
    first.send(b"EHLO early.example\r\n")  # before the banner
    assert first.reply()[0] == 554 and first.closed()
    s = wait_for(srv.mport, "relayguard_smtp_sessions_active", 0)
    assert value(s, "relayguard_smtp_sessions_total") == base + 2
    assert value(s, "relayguard_smtp_sessions_rejected_total", reason="max-sessions") == 1
    assert value(s, "relayguard_smtp_sessions_rejected_total", reason="pregreet") == 1


def http_status(port, path, method="GET", data=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_other_paths_and_methods(metrics_server):
    srv = metrics_server()
    assert http_status(srv.mport, "/")[0] == 404
    assert http_status(srv.mport, "/metrics/x")[0] == 404
    assert http_status(srv.mport, "/metrics?name[]=x")[0] == 200  # query ignored
    code, headers, _ = http_status(srv.mport, "/metrics", "POST", b"a=b")
    assert code == 405 and headers["Allow"] == "GET, HEAD"
    assert http_status(srv.mport, "/metrics", "DELETE")[0] == 405
    code, _, body = http_status(srv.mport, "/metrics", "HEAD")
    assert code == 200 and body == b""
    # garbage is refused by the HTTP library, and the server keeps serving
    with socket.create_connection(("127.0.0.1", srv.mport), timeout=5) as c:
        c.sendall(b"GARBAGE\r\n\r\n")
        answer = c.recv(100)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer
    assert scrape(srv.mport)


def test_connection_limit(metrics_server):
    """At most 8 HTTP connections at once: a ninth waits in the listen queue, unanswered, and
    is served once the others are gone."""
    srv = metrics_server()
    idle = [socket.create_connection(("127.0.0.1", srv.mport), timeout=5) for _ in range(8)]
    with socket.create_connection(("127.0.0.1", srv.mport), timeout=5) as ninth:
        ninth.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        ninth.settimeout(0.5)
        with pytest.raises(socket.timeout):
            ninth.recv(100)
        for c in idle:
            c.close()
        ninth.settimeout(5)
        assert ninth.recv(100).startswith(b"HTTP/1.1 200")


def test_off_by_default(server):
    assert listening_sockets(server.proc.pid) == 1  # SMTP only
    assert "metrics: listening" not in server.logtext()


def test_metrics_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        mport = busy.getsockname()[1]
        conf = tmp_path / "relayguard.conf"
        conf.write_text(BASE_CONF.format(port=free_port(), tmp=tmp_path,
                                         extra="metrics-listen 127.0.0.1:%d" % mport))
        out = subprocess.run([BIN, "serve", "-c", str(conf)], capture_output=True, text=True,
                             timeout=30)
    assert out.returncode == 1
    assert "metrics-listen 127.0.0.1:%d: Address already in use" % mport in out.stderr


@pytest.mark.parametrize("directive", ["metrics-listen", "blocklist-metrics-listen"])
@pytest.mark.parametrize("addr,warned", [("127.0.0.1", False), ("[::1]", False),
                                         ("0.0.0.0", True), ("127.0.0.2", False)])
def test_check_warns_about_a_non_loopback_metrics_address(tmp_path, addr, warned, directive):
    conf = tmp_path / "relayguard.conf"
    conf.write_text(BASE_CONF.format(port=free_port(), tmp=tmp_path,
                                     extra="%s %s:9100" % (directive, addr)))
    out = subprocess.run([BIN, "check", "-c", str(conf)], capture_output=True, text=True,
                         timeout=30)
    assert ("warning %s: metrics endpoint on %s:9100 is not a loopback address"
            % (directive, addr) in out.stdout) == warned, out.stdout
    assert out.returncode == (1 if warned else 0), out.stdout


def test_remote_delivery_counters(metrics_server):
    """One recipient delivered by SMTP, one refused by the remote server: delivered{smtp},
    bounced and dsn_sent move (the DSN itself is then delivered to the local sender)."""
    from sinks import Script, ScriptedSink
    sink = ScriptedSink(host="127.0.0.5", scripts=[
        Script(rcpt={"bad@example.net": "550 5.1.1 no such user", "*": "250 2.1.5 Ok"})])
    try:
        srv = metrics_server("route example.net via %s\ndelivery retry-min 1s" % sink.target)
        with smtplib.SMTP("127.0.0.1", srv.port, source_address=("127.0.0.1", 0)) as c:
            c.sendmail("alice@example.test", ["good@example.net", "bad@example.net"],
                       "Subject: m\r\n\r\nx\r\n")
        s = wait_for(srv.mport, "relayguard_dsn_sent_total", 1)
        assert value(s, "relayguard_dsn_sent_total") == 1
        assert value(s, "relayguard_delivered_total", method="smtp") == 1
        assert value(s, "relayguard_bounced_total") == 1
        assert value(s, "relayguard_deferred_total") == 0
        assert len(srv.wait_messages("alice", 1)) == 1  # the DSN
    finally:
        sink.stop()
