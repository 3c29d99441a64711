"""The relay matrix of issue 5: {outside client, trusted network, authenticated user} x
{local, foreign recipient} x {port-25 role, submission role}. Only the expected cells relay, and
a relayed message really reaches the next hop (a static route to smtp-sink). Real client:
Python smtplib with STARTTLS and AUTH PLAIN."""
import smtplib
import subprocess

import pytest
from conftest import BIN, free_port
from sinks import SmtpSink
from tls_helpers import client_context, make_cert

OUTSIDE, TRUSTED = "127.0.0.2", "127.0.0.1"
LOGIN, PASSWORD = "alice@example.test", "correct horse battery staple"
LOCAL, FOREIGN = "bob@example.test", "carol@relay-test.example"

# (role, client, rcpt) -> expected: "relay"/"local" = accepted and delivered,
# ("mail", code) = MAIL refused, ("rcpt", code) = RCPT refused
EXPECTED = {
    ("smtp", "outside", "local"): "local",
    ("smtp", "outside", "foreign"): ("rcpt", 554),
    ("smtp", "trusted", "local"): "local",
    ("smtp", "trusted", "foreign"): "relay",
    # AUTH is not offered on the port-25 role by default: the would-be authenticated client
    # stays an outside client there, and its sender (its own address, in our domain) is then a
    # forged local sender: the postmaster rule refuses it at MAIL
    ("smtp", "auth", "local"): ("mail", 550),
    ("smtp", "auth", "foreign"): ("mail", 550),
    ("submission", "outside", "local"): ("mail", 530),
    ("submission", "outside", "foreign"): ("mail", 530),
    ("submission", "trusted", "local"): ("mail", 530),
    ("submission", "trusted", "foreign"): ("mail", 530),
    ("submission", "auth", "local"): "local",
    ("submission", "auth", "foreign"): "relay",
}


@pytest.fixture
def matrix_server(make_server, tmp_path):
    sink = SmtpSink(tmp_path)
    try:  # the sink stops even when the server does not start
        crt, key = make_cert(tmp_path / "tls")
        sub = free_port()
        srv = make_server(
            "listen 127.0.0.1:%d role submission\n"
            "tls-certificate %s\ntls-key %s\n"
            "relay allow from authenticated id users\n"
            "route relay-test.example via %s\n"
            "auth-database %s/db/users.db\n"
            "limit auth-failure-delay 0s\n" % (sub, crt, key, sink.target, tmp_path),
            start=False)
        out = subprocess.run([BIN, "user", "add", LOGIN, "--stdin", "-c", str(srv.conf)],
                             input=PASSWORD + "\n", capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        srv.start()
        yield srv, {"smtp": srv.port, "submission": sub}, sink
    finally:
        sink.stop()


def attempt(port, client, rcpt, token):
    source = TRUSTED if client == "trusted" else OUTSIDE
    sender = LOGIN if client == "auth" else "someone@sender.example"
    with smtplib.SMTP("127.0.0.1", port, source_address=(source, 0), timeout=10) as c:
        c.ehlo("client.example")
        c.starttls(context=client_context())
        c.ehlo("client.example")
        if client == "auth":
            if "auth" in c.esmtp_features:
                c.login(LOGIN, PASSWORD)
            else:
                code, _ = c.docmd("AUTH", "PLAIN")
                assert code >= 500  # refused where AUTH is not offered
        code, msg = c.mail(sender)
        if code != 250:
            return ("mail", code)
        code, msg = c.rcpt(rcpt)
        if code != 250:
            return ("rcpt", code)
        c.data("Subject: %s\r\n\r\nmatrix test\r\n" % token)
        return "accepted"


@pytest.mark.parametrize("role", ["smtp", "submission"])
def test_relay_matrix(matrix_server, role):
    srv, ports, sink = matrix_server
    relayed = []
    for client in ("outside", "trusted", "auth"):
        for kind, rcpt in (("local", LOCAL), ("foreign", FOREIGN)):
            token = "matrix-%s-%s-%s" % (role, client, kind)
            want = EXPECTED[(role, client, kind)]
            got = attempt(ports[role], client, rcpt, token)
            if want in ("local", "relay"):
                assert got == "accepted", (role, client, kind, got)
                if want == "relay":
                    relayed.append(token)
            else:
                assert got == want, (role, client, kind, got)
    n_local = sum(1 for (r, _, k), w in EXPECTED.items() if r == role and w == "local")
    assert len(srv.wait_messages("bob", n_local)) == n_local
    msgs = sink.wait_messages(len(relayed), timeout=15)
    subjects = sorted(m.header("Subject") for m in msgs)
    assert subjects == sorted(relayed)
