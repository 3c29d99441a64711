"""Sender rules at MAIL FROM (docs/config.md, "Sender rules"): the postmaster rule refuses a
sender in one of our local domains (or at our own address literal) from a client that is
neither in a trusted network nor authenticated, 550 5.7.1, logged with its rule; foreign
senders and the null sender are accepted from anyone; the trusted host may use local senders.
After STARTTLS + AUTH (smtplib, swaks --auth PLAIN) a user may send only as themselves: the
login, their mailboxes, their sender-grant lines; anything else is 553 5.7.1, logged with login=."""
import smtplib
import subprocess

import pytest
from conftest import BIN, free_port
from smtp_helpers import OUTSIDE, TRUSTED, expect, field, log_lines, queued_id, session

POSTMASTER_RULE = "local-sender-unauthenticated"


def sender_lines(srv, helo):
    """The MAIL decision log lines ("smtp: sender accepted|rejected") of one HELO name."""
    return [l for l in srv.logtext().splitlines()
            if " smtp: sender " in l and field(l, "helo") == helo]


def send(srv, raw, helo, sender, rcpt="alice@example.test", source=OUTSIDE):
    """EHLO, MAIL; when accepted RCPT and DATA. Returns (MAIL reply, queue ID or None)."""
    c = session(raw, srv.port, helo=helo, source=source)
    mail = c.cmd("MAIL FROM:<%s>" % sender)
    qid = None
    if mail[0] == 250:
        expect(c.cmd("RCPT TO:<%s>" % rcpt), 250, "2.1.5")
        expect(c.cmd("DATA"), 354)
        c.send(b"Subject: sender test\r\n\r\nhello\r\n.\r\n")
        qid = queued_id(c.reply())
    expect(c.cmd("QUIT"), 221, "2.0.0")
    return mail, qid


@pytest.mark.parametrize("sender", [
    pytest.param("alice@example.test", id="local-user"),
    pytest.param("postmaster@example.test", id="postmaster"),
    pytest.param("nosuch@example.test", id="unknown-local-user"),
    pytest.param("Alice@EXAMPLE.TEST.", id="case-and-trailing-dot"),
    pytest.param("postmaster@localhost", id="second-local-domain"),
    pytest.param("antispam@[127.0.0.1]", id="own-address-literal"),
    pytest.param('"alice"@example.test', id="quoted-local-part"),
])
def test_local_sender_from_outside_is_refused(server, raw, sender):
    helo = "forger.example"
    mail, qid = send(server, raw, helo, sender)
    expect(mail, 550, "5.7.1")
    assert qid is None
    (line,) = sender_lines(server, helo)
    assert " smtp: sender rejected " in line, line
    assert field(line, "rule") == POSTMASTER_RULE, line
    assert field(line, "client") == OUTSIDE, line
    assert field(line, "reply") == mail[1], line
    assert field(line, "login") is None, line
    assert field(line, "qid"), line
    assert not log_lines(server, "smtp: rcpt "), "no transaction, no RCPT decision"


@pytest.mark.parametrize("source,sender,rule", [
    pytest.param(TRUSTED, "alice@example.test", "sender-ok", id="local-sender-from-trusted-host"),
    pytest.param(TRUSTED, "antispam@[127.0.0.1]", "sender-ok", id="own-literal-from-trusted-host"),
    pytest.param(OUTSIDE, "someone@outside.example", "sender-ok", id="foreign-sender-from-outside"),
    pytest.param(OUTSIDE, "alice@sub.example.test", "sender-ok", id="subdomain-is-not-local"),
    pytest.param(OUTSIDE, "x@[127.0.0.9]", "sender-ok", id="other-address-literal"),
    pytest.param(OUTSIDE, "", "sender-null", id="null-sender-from-outside"),
    pytest.param(TRUSTED, "", "sender-null", id="null-sender-from-trusted-host"),
])
def test_sender_accepted_and_delivered(server, raw, source, sender, rule):
    helo = "sender-%s.example" % rule
    mail, qid = send(server, raw, helo, sender, source=source)
    expect(mail, 250, "2.1.0")
    (line,) = sender_lines(server, helo)
    assert " smtp: sender accepted " in line, line
    assert field(line, "rule") == rule, line
    assert field(line, "client") == source, line
    assert field(line, "qid") == qid, line  # the transaction's queue ID, as on RCPT lines
    (msg,) = server.wait_messages("alice", 1)
    assert msg.read_bytes().startswith(("Return-Path: <%s>\n" % sender).encode())


def test_refusal_counts_as_an_error_and_the_session_goes_on(server, raw):
    c = session(raw, server.port, helo="retry.example")
    expect(c.cmd("MAIL FROM:<alice@example.test>"), 550, "5.7.1")
    expect(c.cmd("RCPT TO:<alice@example.test>"), 503, "5.5.1")
    expect(c.cmd("MAIL FROM:<alice@outside.example>"), 250, "2.1.0")
    expect(c.cmd("RCPT TO:<alice@example.test>"), 250, "2.1.5")
    expect(c.cmd("QUIT"), 221, "2.0.0")


def test_trusted_network_other_than_localhost(make_server, raw):
    """Any trusted-network, not only the loopback host, may use local senders."""
    srv = make_server("trusted-network 127.0.0.2/32\n")
    mail, _ = send(srv, raw, "office.example", "alice@example.test")
    expect(mail, 250, "2.1.0")
    (line,) = sender_lines(srv, "office.example")
    assert field(line, "rule") == "sender-ok", line


def swaks(srv, sender, to="alice@example.test", source=OUTSIDE):
    return subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(srv.port),
                           "--local-interface", source, "--helo", "swaks.example",
                           "--to", to, "--from", sender, "--timeout", "10"],
                          capture_output=True, text=True, timeout=30)


def test_swaks_forged_local_sender_from_outside(server):
    out = swaks(server, "alice@example.test")
    assert out.returncode != 0, out.stdout
    assert "<** 550 5.7.1 " in out.stdout, out.stdout
    assert not server.messages("alice")
    assert log_lines(server, "smtp: sender rejected", "rule=%s" % POSTMASTER_RULE)


def test_swaks_foreign_sender_and_trusted_local_sender(server):
    out = swaks(server, "friend@outside.example")
    assert out.returncode == 0, out.stdout + out.stderr
    out = swaks(server, "bob@example.test", source=TRUSTED)
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(server.wait_messages("alice", 2)) == 2


def test_check_prints_the_sender_rules_and_the_battery_refusals(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("listen 127.0.0.1:2525\nlocal-domain example.test\nmailbox alice\n"
                    "trusted-network 127.0.0.1\nrelay allow from trusted\n"
                    "sender-grant alice sales@Example.Test @alice.example\n")
    out = subprocess.run([BIN, "check", "-c", str(conf)], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 0, out.stdout + out.stderr
    rules = out.stdout.split("sender rules (MAIL FROM, first match wins):\n")[1].split("audit")[0]
    ids = [l.rsplit("[", 1)[1].rstrip("]") for l in rules.splitlines() if l.endswith("]")]
    assert ids == ["sender-null", "unqualified-sender", "sender-login", "sender-mailbox",
                   "sender-grant", "sender-login-mismatch", POSTMASTER_RULE, "sender-ok"], rules
    assert "  grant alice: sales@example.test @alice.example\n" in rules
    refused = [l for l in out.stdout.splitlines() if l.startswith("  refused at MAIL [%s]:" %
                                                                  POSTMASTER_RULE)]
    assert len(refused) == 1 and " greenbone-forged-own" in refused[0], out.stdout
    assert " nmap-03 " in refused[0] and " external-to-external" not in refused[0]


@pytest.mark.parametrize("line,col,problem", [
    ("sender-grant alice", 1, "'sender-grant' expects LOGIN ADDRESS|@DOMAIN..."),
    ("sender-grant alice sales", 20, "sender-grant expects an address or @DOMAIN, not 'sales'"),
    ("sender-grant alice x@bad..example", 20, "invalid domain in sender-grant 'x@bad..example'"),
])
def test_bad_sender_grant_names_its_line(tmp_path, line, col, problem):
    conf = tmp_path / "c.conf"
    conf.write_text("listen 127.0.0.1:2525\nlocal-domain example.test\n%s\n" % line)
    out = subprocess.run([BIN, "check", "-c", str(conf)], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 2, out
    assert "%s:3:%d: %s" % (conf, col, problem) in out.stderr, out.stderr


# ---- authenticated sessions: the sender bound to the login -----------------------------------

PASSWORD = "sender rules 42 horse"


@pytest.fixture
def auth_server(make_server, tmp_path):
    """TLS, a submission listener (AUTH on), users alice and dave@example.test, a grant for
    alice, and carol@ (every local domain) delivered to alice's mailbox."""
    from tls_helpers import make_cert
    crt, key = make_cert(tmp_path / "tls")
    sub = free_port()
    srv = make_server("tls-certificate %s\ntls-key %s\nlisten 127.0.0.1:%d role submission\n"
                      "auth-database %s/db/users.db\nrelay allow from authenticated id users\n"
                      "mailbox carol user alice\n"
                      "sender-grant alice sales@example.test @alice.example\n"
                      % (crt, key, sub, tmp_path), start=False)
    for login in ("alice", "dave@example.test"):
        out = subprocess.run([BIN, "user", "add", login, "--stdin", "-c", str(srv.conf)],
                             input=PASSWORD + "\n", capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
    srv.start()
    srv.sub_port = sub
    return srv


def logged_in(srv, login):
    """An smtplib session on the submission port after STARTTLS and AUTH PLAIN."""
    from tls_helpers import client_context
    c = smtplib.SMTP("127.0.0.1", srv.sub_port, local_hostname="user.example",
                     source_address=(OUTSIDE, 0), timeout=10)
    c.starttls(context=client_context())
    c.login(login, PASSWORD)
    return c


@pytest.mark.parametrize("login,sender,code,rule", [
    pytest.param("alice", "alice@example.test", 250, "sender-mailbox", id="own-mailbox"),
    pytest.param("alice", "ALICE@localhost", 250, "sender-mailbox", id="own-mailbox-other-domain"),
    pytest.param("alice", "carol@example.test", 250, "sender-mailbox", id="alias-via-mailbox-user"),
    pytest.param("alice", "sales@example.test", 250, "sender-grant", id="grant-address"),
    pytest.param("alice", "anyone@alice.example", 250, "sender-grant", id="grant-domain"),
    pytest.param("alice", "", 250, "sender-null", id="null-sender"),
    pytest.param("alice", "bob@example.test", 553, "sender-login-mismatch", id="someone-elses"),
    pytest.param("alice", "postmaster@example.test", 553, "sender-login-mismatch",
                 id="postmaster"),
    pytest.param("alice", "alice@outside.example", 553, "sender-login-mismatch", id="foreign"),
    pytest.param("alice", "x@sub.alice.example", 553, "sender-login-mismatch",
                 id="grant-domain-not-subdomains"),
    pytest.param("dave@example.test", "Dave@Example.Test", 250, "sender-login",
                 id="address-login"),
    pytest.param("dave@example.test", "dave@localhost", 553, "sender-login-mismatch",
                 id="address-login-other-domain"),
])
def test_authenticated_sender_bound_to_login(auth_server, login, sender, code, rule):
    c = logged_in(auth_server, login)
    got, text = c.mail(sender)
    assert got == code, text
    if code == 553:
        assert text.decode() == "5.7.1 Sender address not owned by user %s" % login
    else:
        got, text = c.rcpt("friend@far.example")  # relayed for the authenticated user
        assert got == 250, text
    c.quit()
    (line,) = [l for l in auth_server.logtext().splitlines()
               if " smtp: sender " in l and field(l, "login") == login]
    assert field(line, "rule") == rule, line
    assert field(line, "client") == OUTSIDE, line
    assert (" smtp: sender rejected " in line) == (code != 250), line


def test_swaks_auth_plain_with_a_foreign_sender_is_refused(auth_server):
    base = ["swaks", "--server", "127.0.0.1", "--port", str(auth_server.sub_port), "--tls",
            "--local-interface", OUTSIDE, "--helo", "swaks.example", "--auth", "PLAIN",
            "--auth-user", "alice", "--auth-password", PASSWORD, "--to", "alice@example.test",
            "--timeout", "10"]
    out = subprocess.run(base + ["--from", "bob@example.test"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode != 0, out.stdout
    assert "<~* 553 5.7.1 Sender address not owned by user alice" in out.stdout, out.stdout  # inside TLS
    out = subprocess.run(base + ["--from", "alice@example.test"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(auth_server.wait_messages("alice", 1)) == 1
