"""Server-side TLS: STARTTLS (RFC 3207) and implicit TLS (RFC 8314) with real clients
(openssl s_client, Python smtplib/ssl, swaks), the CVE-2011-0411 injection, the session reset,
certificate reload and the configuration errors."""
import hashlib
import pathlib
import re
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import BIN, free_port
from tls_helpers import TlsLines, client_context, make_cert


def fingerprint_of_file(crt):
    der = ssl.PEM_cert_to_DER_cert(pathlib.Path(crt).read_text())
    return hashlib.sha256(der).hexdigest()


@pytest.fixture
def tls_server(make_server, tmp_path):
    crt, key = make_cert(tmp_path / "tls")
    implicit = free_port()
    srv = make_server("tls-certificate %s\ntls-key %s\nlisten 127.0.0.1:%d tls implicit\n"
                      % (crt, key, implicit))
    srv.implicit_port = implicit
    srv.crt, srv.key = crt, key
    return srv


def ehlo_keywords(reply_text):
    return [line[4:].split(" ")[0].upper() for line in reply_text.split("\n")[1:]]


def start_tls(raw, ctx=None):
    """STARTTLS on a Raw connection after EHLO; returns the TLS socket."""
    code, text = raw.cmd("STARTTLS")
    assert code == 220 and "2.0.0" in text, text
    assert raw.buf == b""
    return (ctx or client_context()).wrap_socket(raw.sock)


def s_client(port, *args, data=b"EHLO again\nQUIT\n"):
    return subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-crlf",
                           "-ign_eof", *args], input=data, capture_output=True, timeout=20)


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_openssl_s_client_starttls(tls_server, version):
    out = s_client(tls_server.port, "-starttls", "smtp", version)
    text = out.stdout.decode(errors="replace")
    assert out.returncode == 0, text + out.stderr.decode(errors="replace")
    want = "TLSv1.2" if version == "-tls1_2" else "TLSv1.3"
    assert re.search(r"(Protocol *: *|New, )%s" % re.escape(want), text), text
    # the EHLO sent inside TLS: answered, and STARTTLS is not offered a second time
    after = text[text.index("250-mx.example.test Hello again"):]
    assert "STARTTLS" not in after
    assert "221 2.0.0" in after
    assert "smtp: TLS established" in tls_server.logtext()


def test_smtplib_starttls_message_has_tls_in_received(tls_server):
    with smtplib.SMTP("127.0.0.1", tls_server.port, timeout=10,
                      source_address=("127.0.0.2", 0)) as c:
        c.ehlo("client.test")
        assert c.has_extn("starttls")
        code, _ = c.starttls(context=client_context())
        assert code == 220
        version, cipher = c.sock.version(), c.sock.cipher()[0]
        c.ehlo("client.test")
        assert not c.has_extn("starttls")
        c.sendmail("sender@outside.test", ["alice@example.test"],
                   b"Subject: tls\r\n\r\nover TLS\r\n")
    msgs = tls_server.wait_messages("alice", 1)
    assert len(msgs) == 1
    text = msgs[0].read_text()
    assert re.search(r"with ESMTPS \(%s:%s:\d+\) id " % (re.escape(version), re.escape(cipher)),
                     text), text
    assert 'tls="%s %s"' % (version, cipher) in tls_server.logtext()


def test_swaks_tls(tls_server):
    out = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % tls_server.port, "--tls",
                          "--from", "sender@outside.test", "--to", "alice@example.test",
                          "--helo", "swaks.test", "--timeout", "10"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "TLS started" in out.stdout
    msgs = tls_server.wait_messages("alice", 1)
    assert "with ESMTPS (TLSv1." in msgs[0].read_text()


def test_implicit_tls_smtp_ssl(tls_server):
    with smtplib.SMTP_SSL("127.0.0.1", tls_server.implicit_port, timeout=10,
                          context=client_context(), source_address=("127.0.0.2", 0)) as c:
        code, banner = c.ehlo("client.test")
        assert code == 250
        assert not c.has_extn("starttls")  # already TLS
        code, text = c.docmd("STARTTLS")
        assert code == 503 and "5.5.1" in text.decode()
        c.sendmail("sender@outside.test", ["alice@example.test"], b"Subject: 465\r\n\r\nx\r\n")
    msgs = tls_server.wait_messages("alice", 1)
    assert "with ESMTPS (TLSv1.3:" in msgs[0].read_text()


def test_plaintext_on_implicit_port_fails_the_handshake(tls_server, raw):
    c = raw(tls_server.implicit_port)
    c.send(b"EHLO plain.test\r\n")
    assert c.closed()
    deadline = time.time() + 5
    while "TLS handshake failed" not in tls_server.logtext() and time.time() < deadline:
        time.sleep(0.02)
    assert "TLS handshake failed" in tls_server.logtext()


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_tls11_refused(tls_server, mode):
    # SECLEVEL=0 lets this OpenSSL client offer TLS 1.1 at all: the refusal is the server's
    args = ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]
    port = tls_server.implicit_port
    if mode == "starttls":
        args += ["-starttls", "smtp"]
        port = tls_server.port
    out = s_client(port, *args, data=b"")
    assert out.returncode != 0
    deadline = time.time() + 5
    while "TLS handshake failed" not in tls_server.logtext() and time.time() < deadline:
        time.sleep(0.02)
    line = [l for l in tls_server.logtext().splitlines() if "TLS handshake failed" in l]
    assert line and "unsupported protocol" in line[0], tls_server.logtext()[-2000:]


def test_pipelined_plaintext_after_starttls_is_discarded(tls_server, raw):
    """CVE-2011-0411: RSET sent with STARTTLS in one segment must never run inside TLS."""
    c = raw(tls_server.port)
    assert c.reply()[0] == 220
    assert c.cmd("EHLO client.test")[0] == 250
    c.send(b"STARTTLS\r\nRSET\r\n")
    code, _ = c.reply()
    assert code == 220
    assert c.buf == b""  # nothing but the 220 in plaintext
    tls = client_context().wrap_socket(c.sock)
    tls.settimeout(0.5)
    with pytest.raises(socket.timeout):  # no reply to RSET arrives inside TLS
        tls.recv(1)
    tls.settimeout(10)
    t = TlsLines(tls)
    code, text = t.cmd("EHLO client.test")
    assert code == 250 and text.startswith("250-mx.example.test Hello client.test"), text
    assert t.cmd("QUIT")[0] == 221
    assert "plaintext pipelined after STARTTLS discarded" in tls_server.logtext()


def test_starttls_resets_the_session(tls_server, raw):
    c = raw(tls_server.port)
    c.reply()
    c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<sender@outside.test>")[0] == 250
    t = TlsLines(start_tls(c))
    code, text = t.cmd("RCPT TO:<alice@example.test>")
    assert code == 503, text  # the transaction died with STARTTLS
    assert t.cmd("MAIL FROM:<sender@outside.test>")[0] == 503  # so did EHLO
    assert t.cmd("EHLO client.test")[0] == 250
    assert t.cmd("RCPT TO:<alice@example.test>")[0] == 503
    assert t.cmd("MAIL FROM:<sender@outside.test>")[0] == 250
    assert t.cmd("RCPT TO:<alice@example.test>")[0] == 250
    assert t.cmd("QUIT")[0] == 221


def test_starttls_replies(tls_server, raw):
    c = raw(tls_server.port)
    c.reply()
    code, text = c.cmd("STARTTLS")
    assert code == 503 and "5.5.1" in text  # EHLO first: STARTTLS is an EHLO extension
    c.cmd("EHLO client.test")
    code, text = c.cmd("STARTTLS now")
    assert code == 501 and "5.5.4" in text
    t = TlsLines(start_tls(c))
    t.cmd("EHLO client.test")
    code, text = t.cmd("STARTTLS")
    assert code == 503 and "5.5.1" in text


def test_no_certificate_no_starttls(server, raw):
    c = raw(server.port)
    c.reply()
    code, text = c.cmd("EHLO client.test")
    assert "STARTTLS" not in ehlo_keywords(text)
    code, text = c.cmd("STARTTLS")
    assert code == 454 and "4.7.0" in text


def peer_fingerprint(port):
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
        c.starttls(context=client_context())
        return hashlib.sha256(c.sock.getpeercert(binary_form=True)).hexdigest()


def test_certificate_reload(tls_server, tmp_path):
    first = fingerprint_of_file(tls_server.crt)
    assert peer_fingerprint(tls_server.port) == first
    # a session started before the reload keeps its context until it ends
    old = smtplib.SMTP("127.0.0.1", tls_server.port, timeout=10)
    old.ehlo("old.test")
    new_crt, new_key = make_cert(tmp_path / "tls2", cn="new.example.test")
    tls_server.crt.write_bytes(new_crt.read_bytes())
    tls_server.key.write_bytes(new_key.read_bytes())
    out = tls_server.ctl("reload")
    assert out.returncode == 0, out.stderr
    second = fingerprint_of_file(tls_server.crt)
    assert second != first
    assert peer_fingerprint(tls_server.port) == second
    old.starttls(context=client_context())
    assert hashlib.sha256(old.sock.getpeercert(binary_form=True)).hexdigest() == first
    old.quit()
    # a broken certificate fails the reload with the file and the reason; the old one stays
    tls_server.crt.write_text("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
    out = tls_server.ctl("reload")
    assert out.returncode != 0
    assert str(tls_server.crt) in out.stderr and "tls-certificate" in out.stderr, out.stderr
    assert peer_fingerprint(tls_server.port) == second
    # and a key that is not the certificate's
    tls_server.crt.write_bytes(new_crt.read_bytes())
    tls_server.key.write_bytes(make_cert(tmp_path / "tls3")[1].read_bytes())
    out = tls_server.ctl("reload")
    assert out.returncode != 0
    assert "tls-key %s: key values mismatch" % tls_server.key in out.stderr, out.stderr


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=30)


def write_conf(tmp_path, text):
    conf = tmp_path / "bad.conf"
    conf.write_text("hostname mx.example.test\nspool %s/spool\ncontrol-socket %s/ctl.sock\n%s"
                    % (tmp_path, tmp_path, text))
    return conf


@pytest.mark.parametrize("body,problem", [
    ("listen 127.0.0.1:{p}\nlisten 127.0.0.1:{q} tls implicit\n",
     ":5:8: listen 127.0.0.1:{q}: 'tls implicit' needs tls-certificate and tls-key"),
    ("listen 127.0.0.1:{p}\ntls-certificate {crt}\n", ":5:1: tls-certificate without tls-key"),
    ("listen 127.0.0.1:{p}\ntls-key {key}\n", ":5:1: tls-key without tls-certificate"),
    ("listen 127.0.0.1:{p}\ntls-certificate {crt}\ntls-key {tmp}/missing.key\n",
     "tls-key {tmp}/missing.key: No such file or directory"),
    ("listen 127.0.0.1:{p}\ntls-certificate {crt}\ntls-key {other}\n",
     "tls-key {other}: key values mismatch"),
    ("listen 127.0.0.1:{p}\ntls-certificate {key}\ntls-key {key}\n",
     "tls-certificate {key}: no start line"),
], ids=["implicit-without-cert", "cert-without-key", "key-without-cert", "missing-key",
        "mismatched-key", "key-as-cert"])
def test_config_errors(tmp_path, body, problem):
    crt, key = make_cert(tmp_path / "tls")
    other = make_cert(tmp_path / "tls", name="other")[1]
    fields = dict(p=free_port(), q=free_port(), crt=crt, key=key, other=other, tmp=tmp_path)
    conf = write_conf(tmp_path, body.format(**fields))
    want = problem.format(**fields)
    if want.startswith(":"):
        want = str(conf) + want
    for cmd, status in (("check", 2), ("serve", 1)):
        out = run(cmd, "-c", str(conf))
        assert out.returncode == status, (cmd, out.stdout, out.stderr)
        assert want in out.stderr, (cmd, out.stderr)


def test_check_reports_the_certificate(tmp_path):
    crt, key = make_cert(tmp_path / "tls")
    conf = write_conf(tmp_path, "listen 127.0.0.1:%d\nlisten 127.0.0.1:%d tls implicit\n"
                      "tls-certificate %s\ntls-key %s\n" % (free_port(), free_port(), crt, key))
    out = run("check", "-c", str(conf))
    assert "tls: certificate %s and key %s load and match" % (crt, key) in out.stdout, out.stdout
