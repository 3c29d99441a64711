"""SMTP AUTH (RFC 4954) with real clients: swaks PLAIN/LOGIN, the gsasl CLI for SCRAM-SHA-256 and
SCRAM-SHA-256-PLUS (channel binding), Python smtplib; a hand-written SCRAM client (RFC 5802/7677)
for the attacks (wrong proof, tampered c= and nonce, the y,, downgrade, unknown user); the reply
codes; and the failed-AUTH guard (per session, per IP across connections, the allow-list)."""
import base64
import hashlib
import hmac
import os
import re
import smtplib
import ssl
import subprocess
import time

import pytest

from conftest import BIN, free_port, Raw
from smtp_helpers import wait_log
from tls_helpers import TlsLines, client_context, make_cert

PASSWORD = "s3cret pass"


def add_user(srv, login, password=PASSWORD, *extra):
    out = subprocess.run([BIN, "user", "add", login, "--stdin", "-c", str(srv.conf), *extra],
                         input=password + "\n", capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr


@pytest.fixture
def auth_server(make_server, tmp_path):
    """Port 'port' is role smtp (no AUTH by default); 'sub' is submission with STARTTLS;
    'implicit' is submission with TLS from the first byte; 'smtp_auth' is role smtp with
    'auth yes'. alice exists, carol is locked."""
    crt, key = make_cert(tmp_path / "tls")
    ports = {name: free_port() for name in ("sub", "implicit", "smtp_auth", "plain_auth")}
    srv = make_server(
        "tls-certificate %s\ntls-key %s\nauth-database %s/db/users.db\n"
        "listen 127.0.0.1:%d role submission\n"
        "listen 127.0.0.1:%d role submission tls implicit\n"
        "listen 127.0.0.1:%d auth yes\n"
        "relay allow from authenticated id users\n"
        "auth-allowlist 127.0.0.3\n"
        "limit auth-failure-delay 0s\n"
        % (crt, key, tmp_path, ports["sub"], ports["implicit"], ports["smtp_auth"]),
        start=False)
    add_user(srv, "alice")
    add_user(srv, "carol")
    subprocess.run([BIN, "user", "lock", "carol", "-c", str(srv.conf)], check=True,
                   capture_output=True, timeout=30)
    srv.start()
    for name, port in ports.items():
        setattr(srv, name, port)
    srv.crt = crt
    return srv


def connect(port, source="127.0.0.2", max_version=None):
    """EHLO, STARTTLS, EHLO again: a session ready for AUTH; returns (conn, ehlo text)."""
    raw = Raw(port, source=source)
    assert raw.reply()[0] == 220
    assert raw.cmd("EHLO client.test")[0] == 250
    code, _ = raw.cmd("STARTTLS")
    assert code == 220
    c = TlsLines(client_context(max_version).wrap_socket(raw.sock))
    code, text = c.cmd("EHLO client.test")
    assert code == 250
    return c, text


def b64(data):
    return base64.b64encode(data).decode()


def plain(login, password):
    return b64(b"\0" + login.encode() + b"\0" + password.encode())


def auth_keyword(ehlo_text):
    for line in ehlo_text.split("\n"):
        if line[4:].upper().startswith("AUTH "):
            return line[9:].split()
    return None


# ---- real clients ----

@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_auth_relays(auth_server, mech):
    out = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % auth_server.sub, "--tls",
                          "--auth", mech, "--auth-user", "alice", "--auth-password", PASSWORD,
                          "--local-interface", "127.0.0.2", "--from", "alice@example.test",
                          "--to", "someone@elsewhere.test", "--helo", "swaks.test",
                          "--timeout", "10"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "235 2.7.0" in out.stdout
    assert re.search(r"250 2\.0\.0 .*queued", out.stdout), out.stdout
    line = wait_log(auth_server, "smtp: auth ok", "mech=%s" % mech)[0]
    assert "login=alice" in line and "client=127.0.0.2" in line
    assert wait_log(auth_server, "rcpt accepted", "rule=users")


def test_swaks_wrong_password(auth_server):
    out = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % auth_server.sub, "--tls",
                          "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "nope",
                          "--local-interface", "127.0.0.2", "--to", "someone@elsewhere.test",
                          "--timeout", "10"], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "535 5.7.8" in out.stdout


def run_gsasl(srv, port, mech, password=PASSWORD, *extra):
    args = ["gsasl", "--smtp", "--connect", "127.0.0.1:%d" % port, "-m", mech, "-a", "alice",
            "-p", password, "--x509-ca-file", str(srv.crt), *extra]
    return subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=30)


def test_gsasl_scram_sha_256(auth_server):
    # --no-cb: a client that binds nothing says "n,,", which is fine
    out = run_gsasl(auth_server, auth_server.sub, "SCRAM-SHA-256", PASSWORD, "--no-cb")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "235 2.7.0" in out.stdout + out.stderr
    assert wait_log(auth_server, "smtp: auth ok", "mech=SCRAM-SHA-256 ")
    out = run_gsasl(auth_server, auth_server.sub, "SCRAM-SHA-256", "wrong", "--no-cb")
    assert out.returncode != 0
    assert "535 5.7.8" in out.stdout + out.stderr


def test_gsasl_scram_plus_channel_binding(auth_server):
    out = run_gsasl(auth_server, auth_server.sub, "SCRAM-SHA-256-PLUS")
    assert out.returncode == 0, out.stdout + out.stderr
    assert wait_log(auth_server, "smtp: auth ok", "mech=SCRAM-SHA-256-PLUS")


def test_smtplib_starttls_login_relays(auth_server):
    with smtplib.SMTP("127.0.0.1", auth_server.sub, timeout=10,
                      source_address=("127.0.0.2", 0)) as c:
        c.ehlo("client.test")
        assert not c.has_extn("auth"), "AUTH is not advertised before TLS"
        c.starttls(context=client_context())
        c.ehlo("client.test")
        assert "PLAIN" in c.esmtp_features["auth"].split()
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            c.login("alice", "not it")
        assert e.value.smtp_code == 535
        assert c.login("alice", PASSWORD)[0] == 235
        refused = c.sendmail("alice@example.test", ["friend@elsewhere.test"],
                             b"Subject: auth\r\n\r\nrelayed after AUTH\r\n")
        assert refused == {}


def test_implicit_tls_auth(auth_server):
    ctx = client_context()
    with smtplib.SMTP_SSL("127.0.0.1", auth_server.implicit, timeout=10, context=ctx,
                          source_address=("127.0.0.2", 0)) as c:
        c.ehlo("client.test")
        assert c.has_extn("auth")
        assert c.login("alice", PASSWORD)[0] == 235


# ---- a hand-written SCRAM-SHA-256 client (RFC 5802, RFC 7677) ----

def hi(password, salt, i):
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, i)


def hmac256(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def scram(conn, login, password, mech="SCRAM-SHA-256", gs2="n,,", cbind=b"", tamper=None):
    """One SCRAM exchange; tamper: None, "proof", "c", "nonce". Returns the final reply and the
    server-first message."""
    cnonce = b64(os.urandom(18))
    first_bare = "n=%s,r=%s" % (login, cnonce)
    code, text = conn.cmd("AUTH %s %s" % (mech, b64((gs2 + first_bare).encode())))
    if code != 334:
        return code, text, None
    server_first = base64.b64decode(text[4:]).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    nonce, salt, iters = attrs["r"], base64.b64decode(attrs["s"]), int(attrs["i"])
    assert nonce.startswith(cnonce)
    cbind_attr = b64(gs2.encode() + cbind)
    if tamper == "c":
        cbind_attr = b64(b"n,a=mallory,")
    if tamper == "nonce":
        nonce = nonce[:-2] + ("AA" if not nonce.endswith("AA") else "BB")
    final_bare = "c=%s,r=%s" % (cbind_attr, nonce)
    salted = hi(password, salt, iters)
    client_key = hmac256(salted, b"Client Key")
    stored_key = hashlib.sha256(client_key).digest()
    auth_message = ",".join([first_bare, server_first, final_bare]).encode()
    proof = bytes(a ^ b for a, b in zip(client_key, hmac256(stored_key, auth_message)))
    if tamper == "proof":
        proof = bytes([proof[0] ^ 1]) + proof[1:]
    code, text = conn.cmd(b64((final_bare + ",p=" + b64(proof)).encode()))
    if code != 334:
        return code, text, server_first
    server_key = hmac256(salted, b"Server Key")
    want = "v=" + b64(hmac256(server_key, auth_message))
    assert base64.b64decode(text[4:]).decode() == want, "the server proved it knows the key"
    code, text = conn.cmd("")
    return code, text, server_first


def test_scram_by_hand(auth_server):
    c, ehlo = connect(auth_server.sub)
    mechs = auth_keyword(ehlo)
    assert mechs[:2] == ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"], ehlo
    assert "PLAIN" in mechs and "LOGIN" in mechs
    code, text, _ = scram(c, "alice", PASSWORD)
    assert (code, text[:9]) == (235, "235 2.7.0")
    code, text = c.cmd("AUTH PLAIN " + plain("alice", PASSWORD))
    assert code == 503 and "5.5.1" in text, "AUTH twice"
    code, text = c.cmd("EHLO client.test")
    assert auth_keyword(text) is None, "no AUTH advertised once authenticated"


@pytest.mark.parametrize("tamper", ["proof", "c", "nonce"])
def test_scram_tampered(auth_server, tamper):
    c, _ = connect(auth_server.sub)
    code, text, _ = scram(c, "alice", PASSWORD, tamper=tamper)
    assert code == 535 and "5.7.8" in text, (tamper, text)
    assert wait_log(auth_server, "smtp: auth failed", "login=alice")


def test_scram_downgrade_refused(auth_server):
    """y,,: "I could bind, but I think the server cannot" while -PLUS is advertised means a
    man in the middle removed -PLUS (RFC 5802 6)."""
    c, ehlo = connect(auth_server.sub)
    assert "SCRAM-SHA-256-PLUS" in auth_keyword(ehlo)
    code, text, _ = scram(c, "alice", PASSWORD, gs2="y,,")
    assert code == 535 and "5.7.8" in text


def test_scram_unknown_user_looks_like_wrong_password(auth_server):
    c, _ = connect(auth_server.sub)
    code1, text1, first1 = scram(c, "mallory", PASSWORD)
    code2, text2, first2 = scram(c, "alice", "wrong password")
    assert (code1, text1) == (code2, text2) == (535, "535 5.7.8 Authentication credentials invalid")
    # a salt and a count like a real user's, and the same salt at the next try
    s1 = dict(kv.split("=", 1) for kv in first1.split(","))
    s2 = dict(kv.split("=", 1) for kv in first2.split(","))
    assert len(base64.b64decode(s1["s"])) == len(base64.b64decode(s2["s"]))
    assert s1["i"] == s2["i"]
    c2, _ = connect(auth_server.sub)
    _, _, again = scram(c2, "mallory", PASSWORD)
    assert dict(kv.split("=", 1) for kv in again.split(","))["s"] == s1["s"]
    # a locked user too, by PLAIN, and the same reply as a wrong password
    code, text = c2.cmd("AUTH PLAIN " + plain("carol", PASSWORD))
    assert (code, text) == (535, "535 5.7.8 Authentication credentials invalid")


def test_scram_plus_by_hand_tls_unique(auth_server):
    """TLS 1.2: SCRAM-SHA-256-PLUS with tls-unique (RFC 5929) as Python's ssl reports it; the
    same exchange with another connection's binding data fails."""
    c, ehlo = connect(auth_server.sub, max_version=ssl.TLSVersion.TLSv1_2)
    assert "SCRAM-SHA-256-PLUS" in auth_keyword(ehlo)
    unique = c.sock.get_channel_binding("tls-unique")
    assert unique
    code, text, _ = scram(c, "alice", PASSWORD, mech="SCRAM-SHA-256-PLUS",
                          gs2="p=tls-unique,,", cbind=unique)
    assert code == 235, text
    c2, _ = connect(auth_server.sub, max_version=ssl.TLSVersion.TLSv1_2)
    code, text, _ = scram(c2, "alice", PASSWORD, mech="SCRAM-SHA-256-PLUS",
                          gs2="p=tls-unique,,", cbind=unique)
    assert code == 535, "the binding of another TLS connection (a man in the middle)"


# ---- replies ----

def test_not_offered_without_tls_538(auth_server):
    raw = Raw(auth_server.smtp_auth)
    raw.reply()
    code, text = raw.cmd("EHLO client.test")
    assert "AUTH" not in text, "never advertised in plaintext"
    code, text = raw.cmd("AUTH PLAIN " + plain("alice", PASSWORD))
    assert code == 538 and "5.7.11" in text


def test_role_smtp_no_auth_by_default(auth_server):
    c, ehlo = connect(auth_server.port)
    assert auth_keyword(ehlo) is None
    code, text = c.cmd("AUTH PLAIN " + plain("alice", PASSWORD))
    assert code == 503
    c2, ehlo = connect(auth_server.smtp_auth)
    assert "PLAIN" in auth_keyword(ehlo), "auth yes offers it on role smtp"
    assert c2.cmd("AUTH PLAIN " + plain("alice", PASSWORD))[0] == 235
    # role smtp does not require AUTH: mail for a local user needs none
    assert c2.cmd("MAIL FROM:<alice@example.test>")[0] == 250  # her own address (sender rules)


def test_submission_requires_auth_530(auth_server):
    c, _ = connect(auth_server.sub)
    code, text = c.cmd("MAIL FROM:<alice@example.test>")
    assert code == 530 and "5.7.0" in text
    assert c.cmd("AUTH PLAIN " + plain("alice", PASSWORD))[0] == 235
    assert c.cmd("MAIL FROM:<alice@example.test>")[0] == 250
    code, text = c.cmd("RCPT TO:<bob@elsewhere.test>")
    assert code == 250, text


def test_auth_inside_transaction_503(auth_server):
    c, _ = connect(auth_server.smtp_auth)
    assert c.cmd("MAIL FROM:<x@outside.test>")[0] == 250
    code, text = c.cmd("AUTH PLAIN " + plain("alice", PASSWORD))
    assert code == 503 and "5.5.1" in text


def test_cancel_bad_base64_unknown_mech(auth_server):
    c, _ = connect(auth_server.sub)
    assert c.cmd("AUTH PLAIN") == (334, "334 ")
    code, text = c.cmd("*")
    assert code == 501 and "5.0.0" in text
    assert c.cmd("AUTH LOGIN") == (334, "334 " + b64(b"User Name"))
    code, text = c.cmd("not base64!")
    assert code == 501 and "5.5.2" in text
    code, text = c.cmd("AUTH PLAIN AGFsaWNl=ZZ")
    assert code == 501 and "5.5.2" in text
    code, text = c.cmd("AUTH CRAM-MD5")
    assert code == 504 and "5.5.4" in text
    code, text = c.cmd("AUTH X-NOT-A-MECHANISM-AT-ALL-TOO-LONG")
    assert code == 504
    # the session still works, and LOGIN with an initial response too
    assert c.cmd("AUTH LOGIN " + b64(b"alice")) == (334, "334 " + b64(b"Password"))
    assert c.cmd(b64(PASSWORD.encode()))[0] == 235


def test_long_auth_line_is_one_line(auth_server):
    """RFC 4954 4: 12288 octets for an AUTH line; other commands keep limit line-length."""
    c, _ = connect(auth_server.sub)
    pw = "x" * 8980
    line = "AUTH PLAIN " + plain("alice", pw)
    assert 11990 <= len(line) <= 12000
    code, text = c.cmd(line)
    assert (code, text[:9]) == (535, "535 5.7.8"), "read as one line and answered once"
    code, text = c.cmd("AUTH PLAIN")
    assert code == 334
    code, text = c.cmd(plain("alice", pw))
    assert code == 535, "a long response line inside the exchange too"
    code, text = c.cmd("NOOP " + "y" * 2000)
    assert code == 500 and "5.5.6" in text
    assert c.cmd("NOOP")[0] == 250


# ---- the guard ----

def test_session_failure_limit_421(auth_server):
    c, _ = connect(auth_server.sub, source="127.0.0.4")
    for _ in range(2):
        assert c.cmd("AUTH PLAIN " + plain("alice", "bad"))[0] == 535
    code, text = c.cmd("AUTH PLAIN " + plain("alice", "bad"))
    assert code == 535
    code, text = c.reply()
    assert code == 421 and "4.7.0" in text
    assert c.closed()


def brute_force(srv, source, attempts):
    """attempts wrong passwords over as many connections as the session limit needs; the
    replies to AUTH in order."""
    codes = []
    while len(codes) < attempts:
        c, _ = connect(srv.sub, source=source)
        for _ in range(2):  # below auth-session-failures (3)
            codes.append(c.cmd("AUTH PLAIN " + plain("alice", "guess%d" % len(codes)))[0])
        c.cmd("QUIT")
    return codes


def test_brute_force_blocks_ip_not_allowlisted(auth_server):
    codes = brute_force(auth_server, "127.0.0.2", 50)
    assert codes[:10] == [535] * 10
    assert set(codes[10:]) == {454}, codes
    c, _ = connect(auth_server.sub, source="127.0.0.2")
    code, text = c.cmd("AUTH PLAIN " + plain("alice", PASSWORD))
    assert code == 454 and "4.7.0" in text, "blocked even with the right password"
    assert auth_server.logtext().count("smtp: auth blocked client") == 1
    # the allow-listed address is never blocked
    codes = brute_force(auth_server, "127.0.0.3", 50)
    assert set(codes) == {535}
    c, _ = connect(auth_server.sub, source="127.0.0.3")
    assert c.cmd("AUTH PLAIN " + plain("alice", PASSWORD))[0] == 235
    # a trusted network (127.0.0.1) neither
    codes = brute_force(auth_server, "127.0.0.1", 12)
    assert set(codes) == {535}


def test_client_gone_while_step_runs(auth_server):
    """A session freed while its step runs on the worker (or during the failure delay): the
    step finishes on its own; the server goes on."""
    for i in range(20):
        c, _ = connect(auth_server.sub, source="127.0.0.3")
        c.sock.sendall(("AUTH PLAIN %s\r\n" % plain("alice", "bad" if i % 2 else PASSWORD))
                       .encode())
        c.sock.close()
    c, _ = connect(auth_server.sub, source="127.0.0.3")
    assert c.cmd("AUTH PLAIN " + plain("alice", PASSWORD))[0] == 235


def test_failure_delay_grows_per_failure(make_server, tmp_path):
    """limit auth-failure-delay: the Nth failure of a session is answered after N x the delay
    (a lower bound: a loaded machine only makes it later)."""
    crt, key = make_cert(tmp_path / "tls")
    sub = free_port()
    srv = make_server("tls-certificate %s\ntls-key %s\nauth-database %s/db/users.db\n"
                      "listen 127.0.0.1:%d role submission\nlimit auth-failure-delay 1s\n"
                      % (crt, key, tmp_path, sub), start=False)
    add_user(srv, "alice")
    srv.start()
    c, _ = connect(sub, source="127.0.0.4")
    waited = []
    for _ in range(2):
        start = time.monotonic()
        assert c.cmd("AUTH PLAIN " + plain("alice", "bad"))[0] == 535
        waited.append(time.monotonic() - start)
    assert waited[0] >= 0.9 and waited[1] >= 1.9, waited
    assert c.cmd("AUTH PLAIN " + plain("alice", PASSWORD))[0] == 235
