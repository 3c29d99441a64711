"""relayguard probe against real peers, each checked against nmap's smtp-open-relay on the same
server: relayguard (default config), Postfix closed and open, a server that accepts RCPT but
refuses the message, one that requires AUTH (530). Then TLS (--starttls, --tls) and the
delivered depth (--catch) against Postfix. Every client connects from 127.0.0.2 (outside).

nmap counts a test as relayed when RCPT gets 2xx; the probe only when the message gets 250
after DATA. So they agree (open iff open) on every server except the one that accepts RCPT and
refuses DATA: nmap says open, the probe says closed with every test at accepts-rcpt. That
documented difference is asserted exactly."""
import json
import re
import shutil
import subprocess

import pytest
from conftest import BASE_CONF, BIN
from postfix_peer import PostfixPeer, available
from sinks import Script, ScriptedSink

DOMAIN = "relay-test.example"  # the probe's {ext}, given to nmap as smtp-open-relay.domain

needs_nmap = pytest.mark.skipif(shutil.which("nmap") is None, reason="nmap not installed")


def probe(*args, timeout=60):
    out = subprocess.run([BIN, "probe", "--source", "127.0.0.2", *args], capture_output=True,
                         text=True, timeout=timeout)
    return out


def probe_json(*args):
    out = probe("--json", *args)
    return out.returncode, json.loads(out.stdout)


def nmap_relay(host, port, complete=True):
    """nmap's verdict from 127.0.0.2: (open, the RCPT paths it got 2xx for). complete=False
    also takes a run the server cut short before nmap found any relay (nmap does not
    reconnect; it prints the error instead of a verdict)."""
    out = subprocess.run(
        ["nmap", "-vv", "-Pn", "-n", "-S", "127.0.0.2", "-e", "lo", "-p", str(port),
         "--script", "+smtp-open-relay",  # "+": run it on a port that is not 25/465/587
         "--script-args", "smtp-open-relay.domain=%s,smtp-open-relay.ip=%s" % (DOMAIN, host),
         host], capture_output=True, text=True, timeout=90)
    text = out.stdout
    rcpts = set(re.findall(r"-> RCPT TO:(<.*>)", text))
    if "Server is an open relay" in text:
        return True, rcpts
    if ("doesn't seem to be an open relay" in text or
            "Server isn't an open relay, authentication needed" in text):
        return False, rcpts
    if not complete and re.search(r"smtp-open-relay: SMTP \w+: failed to receive data", text):
        return False, rcpts
    raise AssertionError("nmap gave no verdict:\n" + text + out.stderr)


def rcpt_accepted(report):
    """The RCPT paths of the probe's 16 nmap forms that got 2xx (what nmap counts)."""
    return {t["rcpt"] for t in report["tests"]
            if t["id"].startswith("nmap-") and t["verdict"] in ("accepts-rcpt", "OPEN")}


@pytest.fixture(scope="module")
def postfix():
    if not available():
        pytest.skip("postfix not installed or not root")
    peer = PostfixPeer()
    try:
        yield peer.start()
    finally:
        peer.stop()


@pytest.fixture
def sink():
    sinks = []

    def make(**script):
        s = ScriptedSink(host="127.0.0.5", scripts=[Script(**script)])
        sinks.append(s)
        return s
    yield make
    for s in sinks:
        s.stop()


# ---- agreement with nmap ----

@needs_nmap
def test_relayguard_closed_and_nmap_agrees(server):
    rc, report = probe_json("127.0.0.1:%d" % server.port)
    assert rc == 0 and report["result"] == "closed"
    assert {t["verdict"] for t in report["tests"]} == {"refused"}
    # the default limit max-errors 10 closes the session after 10 refusals: the probe
    # reconnects, nmap stops there, having found no relay
    assert nmap_relay("127.0.0.1", server.port, complete=False) == (False, set())


@needs_nmap
def test_relayguard_closed_and_nmap_agrees_over_all_16(make_server):
    """With room for nmap's 16 refusals in one session, nmap completes its run."""
    patient = make_server(conf_text=BASE_CONF.replace("limit max-errors 10",
                                                      "limit max-errors 100"))
    rc, report = probe_json("127.0.0.1:%d" % patient.port)
    assert rc == 0 and report["result"] == "closed"
    assert nmap_relay("127.0.0.1", patient.port) == (False, set())


@needs_nmap
def test_postfix_closed_and_nmap_agrees(postfix):
    host, port = postfix.target("closed").split(":")
    rc, report = probe_json(postfix.target("closed"))
    assert rc == 0 and report["result"] == "closed", report
    assert report["server_name"] == postfix.name
    # Postfix's default defer_unauth_destination: 454 to every foreign recipient
    assert {t["verdict"] for t in report["tests"]} == {"refused"}
    assert nmap_relay(host, int(port)) == (False, set())


@needs_nmap
def test_postfix_open_and_nmap_agrees_form_by_form(postfix):
    host, port = postfix.target("open").split(":")
    rc, report = probe_json(postfix.target("open"))
    assert rc == 1 and report["result"] == "OPEN RELAY"
    by_id = {t["id"]: t for t in report["tests"]}
    assert by_id["external-to-external"]["verdict"] == "OPEN"
    assert by_id["external-to-external"]["depth"] == "data"
    is_open, nmap_rcpts = nmap_relay(host, int(port))
    assert is_open
    # the same forms got past RCPT for both (nmap's test 2 has another sender, which
    # Postfix accepts at MAIL all the same)
    assert rcpt_accepted(report) == nmap_rcpts and nmap_rcpts


@needs_nmap
def test_rcpt_accepted_data_refused_nmap_says_open_probe_says_not(sink):
    s = sink(data="554 5.7.1 no relaying after all")
    rc, report = probe_json(s.target)
    assert rc == 0 and report["result"] == "closed"
    assert {(t["verdict"], t["depth"]) for t in report["tests"]} == {("accepts-rcpt", "rcpt")}
    is_open, nmap_rcpts = nmap_relay(s.host, s.port)
    assert is_open  # nmap stops at RCPT
    assert rcpt_accepted(report) == nmap_rcpts
    assert not s.delivered()


@needs_nmap
def test_auth_required_is_closed_for_both(sink):
    s = sink(mail="530 5.7.0 Authentication required")
    out = probe(s.target)
    assert out.returncode == 0, out.stdout
    assert "result: closed, auth required" in out.stdout
    assert "closed-auth-required" in out.stdout
    assert nmap_relay(s.host, s.port) == (False, set())


# ---- TLS ----

def test_starttls_against_postfix(postfix):
    rc, report = probe_json("--starttls", postfix.target("open"))
    assert rc == 1 and report["result"] == "OPEN RELAY"
    assert report["tls"].startswith("TLSv1."), report["tls"]
    rc, report = probe_json("--starttls", postfix.target("closed"))
    assert rc == 0 and report["tls"] and report["result"] == "closed"


def test_implicit_tls_against_postfix(postfix):
    out = probe("--tls", postfix.target("open_tls"))
    assert out.returncode == 1, out.stdout
    assert ", TLS TLSv1." in out.stdout.splitlines()[0]
    assert "result: OPEN RELAY" in out.stdout


def test_tls_handshake_failure_is_not_a_verdict(sink):
    s = sink()  # plain SMTP: its banner is no TLS ServerHello
    rc, report = probe_json("--tls", "--timeout", "2", s.target)
    assert rc == 2 and report["result"] == "could not test" and report["tls"] is None
    assert "TLS handshake failed" in report["tests"][0]["note"]


def test_starttls_required_but_not_offered(sink):
    s = sink()  # the scripted EHLO reply has no STARTTLS
    rc, report = probe_json("--starttls", s.target)
    assert rc == 2 and report["result"] == "could not test"
    assert report["error"] == "STARTTLS not offered"
    assert not s.transactions()  # not one test ran in the clear
    out = probe("--starttls", s.target)
    assert "result: could not test: STARTTLS not offered" in out.stdout
    # =auto: plain when not offered
    rc, report = probe_json("--starttls=auto", s.target)
    assert rc == 1 and report["tls"] is None and report["result"] == "OPEN RELAY"


# ---- the delivered depth ----

def test_catch_confirms_delivery_through_postfix(postfix):
    rc, report = probe_json("--catch", postfix.catch, "--catch-wait", "20",
                            postfix.target("open"))
    assert rc == 1 and report["catch_domain"] == "[127.0.0.9]"
    by_id = {t["id"]: t for t in report["tests"]}
    assert by_id["external-to-external"]["rcpt"] == "<recipient@[127.0.0.9]>"
    relayed = [t for t in report["tests"] if t["verdict"] == "OPEN" and t["catchable"]]
    direct = [t for t in relayed if t["rcpt"].endswith("@[127.0.0.9]>")]
    assert len(direct) >= 10
    assert all(t["delivered"] and t["depth"] == "delivered" for t in direct), report
    # Postfix's percent hack rewrites relaytest%[127.0.0.9]@its-own-name to the catcher:
    # delivered shows what RCPT and DATA alone cannot
    assert by_id["nmap-06"]["depth"] == "delivered"
    # a form Postfix routed elsewhere (to the discard transport) stays at data depth
    assert by_id["nmap-05"]["verdict"] == "OPEN" and by_id["nmap-05"]["depth"] == "data"
    assert "not delivered to the catcher within" in by_id["nmap-05"]["note"]
    assert report["delivered"] == len([t for t in relayed if t["delivered"]]) >= 16
    # a fixed RFC 2606 recipient cannot reach the catcher: judged at data depth
    trailing = by_id["case-trailing-dot"]
    assert not trailing["catchable"] and trailing["depth"] == "data"
    assert "relay=127.0.0.9[127.0.0.9]:%d" % postfix.catch_port in postfix.maillog()
    assert "status=sent (250 2.0.0 caught by relayguard probe)" in postfix.maillog()


def test_accepted_but_never_delivered_stays_at_data_depth(sink):
    s = sink()  # accepts every message and forwards nothing
    rc, report = probe_json("--catch", "127.0.0.9:%d" % _free_catch_port(), "--catch-wait", "1",
                            s.target)
    assert rc == 1 and report["delivered"] == 0
    opened = [t for t in report["tests"] if t["verdict"] == "OPEN"]
    assert opened and {t["depth"] for t in opened} == {"data"}
    assert all("not delivered to the catcher within 1.0s" in t["note"]
               for t in opened if t["catchable"])


def test_catch_against_closed_relayguard_and_postfix(server, postfix):
    rc, report = probe_json("--catch", postfix.catch, "--catch-wait", "2",
                            "127.0.0.1:%d" % server.port)
    assert rc == 0 and report["result"] == "closed" and report["delivered"] == 0
    assert server.queue_list().strip().endswith("0 messages queued")
    out = probe("--catch", postfix.catch, "--catch-wait", "2", postfix.target("closed"))
    assert out.returncode == 0
    assert "catcher %s, test recipients at [127.0.0.9]" % postfix.catch in out.stdout
    assert "0 delivered to the catcher" in out.stdout


def _free_catch_port():
    from sinks import free_port
    return free_port("127.0.0.9")


def test_sni_is_the_host_name_never_an_address(tmp_path):
    """--tls against a TLS listener that records the SNI of every session and answers 554:
    the name goes in SNI when HOST is a name, nothing when it is an address."""
    import socket
    import ssl
    import threading
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=x",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=30)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))

    def sni_of_run(host):
        seen = []
        ctx.sni_callback = lambda sock, name, c: seen.append(name)
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.1)
        done = threading.Event()

        def serve():
            while not done.is_set():
                try:
                    conn, _ = listener.accept()
                except OSError:
                    continue
                conn.settimeout(2)
                try:
                    with ctx.wrap_socket(conn, server_side=True) as tls:
                        tls.sendall(b"554 5.3.2 no service here\r\n")
                except (OSError, ssl.SSLError):
                    pass
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        out = probe("--tls", "--max-time", "1", "--timeout", "2",
                    "%s:%d" % (host, listener.getsockname()[1]))
        done.set()
        t.join(5)
        listener.close()
        assert out.returncode == 2 and "result: could not test" in out.stdout
        return set(seen)
    assert sni_of_run("localhost") == {"localhost"}
    assert sni_of_run("127.0.0.1") == {None}
