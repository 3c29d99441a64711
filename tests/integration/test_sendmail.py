"""`relayguard sendmail` and a program named sendmail (a link made in tmp): recipients as
arguments or from To/Cc/Bcc (-t, Bcc removed), -f, -F, -i/-oi, a lone "." line ending the
message without them, From/Date/Message-ID added, LF to CRLF; an unknown local user is
refused with nothing queued (exit 1); a server that is down is exit 75 (EX_TEMPFAIL)."""
import os
import subprocess

import pytest
from conftest import BIN
from queue_helpers import all_deferred, free_port_on, queue_json, route_extra, wait_queue
from smtp_helpers import wait_log


def sendmail(srv, tmp_path, args, stdin, name="sendmail"):
    link = tmp_path / name
    if not link.exists():
        os.symlink(BIN, link)
    return subprocess.run([str(link), "-C", str(srv.conf), *args], input=stdin,
                          capture_output=True, timeout=30)


def delivered(srv, user, n=1):
    msgs = srv.wait_messages(user, n)
    assert len(msgs) == n, srv.logtext()[-3000:]
    return [m.read_bytes() for m in msgs]


def header_and_body(data):
    head, _, body = data.partition(b"\n\n")  # Maildir files have LF line ends
    return head.decode(), body.decode()


def test_recipients_as_arguments(server, tmp_path):
    out = sendmail(server, tmp_path, ["alice@example.test", "bob"],
                   b"Subject: cron\n\nline one\nline two\n")
    assert out.returncode == 0 and out.stdout == b"" and out.stderr == b"", out
    (a,) = delivered(server, "alice")
    (b,) = delivered(server, "bob")
    head, body = header_and_body(a)
    assert "Subject: cron" in head and body == "line one\nline two\n"
    user = __import__("pwd").getpwuid(os.getuid()).pw_name
    assert "\nFrom: %s@mx.example.test\n" % user in head  # the invoking user @ hostname
    assert "\nDate: " in head and "\nMessage-ID: <" in head and "@mx.example.test>" in head
    assert head.startswith("Return-Path: <%s@mx.example.test>" % user)
    assert "with local-submit id " in head
    assert wait_log(server, "submit: message queued")
    assert header_and_body(b)[1] == body


def test_the_stored_message_has_crlf_lines(make_server, tmp_path):
    srv = make_server(route_extra(free_port_on("127.0.0.5")))
    out = sendmail(srv, tmp_path, ["friend@remote.example"], b"Subject: x\n\nbare lf\n")
    assert out.returncode == 0, out.stderr
    (m,) = wait_queue(srv, all_deferred)
    assert m["recipients"][0]["rule"] == "local-submit"
    shown = subprocess.run([BIN, "queue", "show", "--json", m["qid"], "-c", str(srv.conf)],
                           capture_output=True, text=True, timeout=30)
    header = __import__("json").loads(shown.stdout)["header"]
    assert header.endswith("Subject: x\r\n") and "\n" not in header.replace("\r\n", "")


def test_t_takes_to_cc_bcc_and_removes_bcc(server, tmp_path):
    msg = (b"From: Robot <robot@example.test>\nTo: Alice <alice@example.test>\n"
           b"Cc: \"Bob, B.\" <bob@example.test> (the\n  other one)\n"
           b"Bcc: postmaster@example.test\nSubject: t\n\nhi\n")
    out = sendmail(server, tmp_path, ["-t"], msg)
    assert out.returncode == 0, out.stderr
    for user in ("alice", "bob", "postmaster"):
        head, body = header_and_body(delivered(server, user)[0])
        own = head.split("\nReceived: ", 1)[1]  # after Return-Path and Delivered-To
        assert "\nBcc:" not in own and "postmaster@example.test" not in own, head
        assert "\nFrom: Robot <robot@example.test>\n" in head and body == "hi\n"
        assert head.count("\nFrom: ") == 1  # not added: there is one


def test_f_and_F(server, tmp_path):
    out = sendmail(server, tmp_path, ["-f", "sender@example.org", "-F", "Cron \"Daemon\"",
                                      "alice@example.test"], b"Subject: f\n\nx\n")
    assert out.returncode == 0, out.stderr
    head, _ = header_and_body(delivered(server, "alice")[0])
    assert head.startswith("Return-Path: <sender@example.org>")
    assert '\nFrom: "Cron \\"Daemon\\"" <sender@example.org>\n' in head
    out = sendmail(server, tmp_path, ["-fother@example.org", "alice@example.test"], b"x\n")
    assert out.returncode == 0, out.stderr
    heads = [header_and_body(m)[0] for m in delivered(server, "alice", 2)]
    assert any(h.startswith("Return-Path: <other@example.org>") for h in heads)


@pytest.mark.parametrize("flag", ["-i", "-oi"])
def test_i_keeps_a_dot_line(server, tmp_path, flag):
    out = sendmail(server, tmp_path, [flag, "alice@example.test"], b"Subject: d\n\na\n.\nb\n")
    assert out.returncode == 0, out.stderr
    assert header_and_body(delivered(server, "alice")[0])[1] == "a\n.\nb\n"


def test_a_dot_line_ends_the_message_without_i(server, tmp_path):
    out = sendmail(server, tmp_path, ["-oem", "-v", "--", "alice@example.test"],
                   b"Subject: d\n\na\n.\nnot sent\n")
    assert out.returncode == 0, out.stderr
    assert header_and_body(delivered(server, "alice")[0])[1] == "a\n"


def test_unknown_local_user_queues_nothing(server, tmp_path):
    out = sendmail(server, tmp_path, ["alice@example.test", "nobody@example.test"], b"x\n")
    assert out.returncode == 1
    assert out.stderr == b"relayguard: unknown local user <nobody@example.test>\n"
    assert queue_json(server) == [] and server.messages("alice") == []


@pytest.mark.parametrize("args,stderr", [
    ([], b"relayguard: no recipients (give them as arguments, or -t)\n"),
    (["-t"], b"relayguard: no recipients (give them as arguments, or -t)\n"),
    (["@bad"], b"relayguard: bad address <@bad>: "),
])
def test_bad_or_missing_recipients_are_exit_1(server, tmp_path, args, stderr):
    out = sendmail(server, tmp_path, args, b"Subject: none\n\nx\n")
    assert out.returncode == 1 and out.stderr.startswith(stderr), out.stderr


def test_too_big_is_refused(make_server, tmp_path):
    srv = make_server("limit message-size 2K")
    out = sendmail(srv, tmp_path, ["alice@example.test"], b"x" * 4096 + b"\n")
    assert out.returncode == 1 and b"message too big" in out.stderr
    assert queue_json(srv) == []


def test_unknown_option_is_usage(server, tmp_path):
    out = sendmail(server, tmp_path, ["-X", "alice@example.test"], b"x\n")
    assert out.returncode == 64 and out.stderr.startswith(b"usage: sendmail")


def test_server_down_is_exit_75(make_server, tmp_path):
    srv = make_server(start=False)
    out = sendmail(srv, tmp_path, ["alice@example.test"], b"Subject: down\n\nx\n")
    assert out.returncode == 75
    sock = srv.tmp / "run" / "relayguard.sock"
    assert out.stderr.startswith(b"relayguard: cannot reach the server at %s: " % str(sock).encode())
    srv.start()


def test_relayguard_sendmail_and_bp(server, tmp_path):
    out = subprocess.run([BIN, "sendmail", "-C", str(server.conf), "alice@example.test"],
                         input=b"Subject: direct\n\nx\n", capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "Subject: direct" in header_and_body(delivered(server, "alice")[0])[0]
    out = sendmail(server, tmp_path, ["-bp"], b"")
    assert out.returncode == 0 and out.stdout == b"Mail queue is empty\n"


def test_links_without_c_use_relayguard_conf(server, tmp_path):
    link = tmp_path / "sendmail"
    os.symlink(BIN, link)
    env = dict(os.environ, RELAYGUARD_CONF=str(server.conf))
    out = subprocess.run([str(link), "alice@example.test"], input=b"Subject: env\n\nx\n",
                         capture_output=True, timeout=30, env=env)
    assert out.returncode == 0, out.stderr
    assert "Subject: env" in header_and_body(delivered(server, "alice")[0])[0]
    os.symlink(BIN, tmp_path / "mailq")
    out = subprocess.run([str(tmp_path / "mailq")], capture_output=True, timeout=30, env=env)
    assert out.returncode == 0 and out.stdout == b"Mail queue is empty\n"


def raw_submit(srv, data):
    """The control protocol by hand: the whole answer."""
    import socket
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(srv.tmp / "run" / "relayguard.sock"))
        try:
            s.sendall(data)
        except BrokenPipeError:
            pass
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return out.decode()
            out += chunk


def test_submit_protocol(make_server):
    srv = make_server("limit message-size 1K")
    msg = b"Subject: raw\r\n\r\nx\r\n"
    ok = raw_submit(srv, b"submit <robot+40example.test> %d <alice+40example.test>\n%s"
                    % (len(msg), msg))
    status, qid, rest = ok.split("\n")
    assert status == "ok" and len(qid) == 16 and rest == "", ok
    assert wait_log(srv, "submit: message queued", "qid=%s" % qid)
    assert "Subject: raw" in header_and_body(delivered(srv, "alice")[0])[0]
    for req, err in [
        (b"submit <> 4096 <alice@example.test>\n", "error message too big: 4096 bytes"),
        (b"submit <> 2 <alice@example.test>\nabc", "error more data than the request announced"),
        (b"submit <> x <alice@example.test>\n", "error bad length x"),
        (b"submit <a b> 1 <alice@example.test>\n", "error bad length b>"),  # a space splits
        (b"submit <a+20b@x.example> 1 <alice@example.test>\nx", "error bad address <a b@x.example>"),
        (b"submit <> 1 <alice+25x@remote.example>\nx", "error bad address <alice%x@remote.example>"),
    ]:
        assert raw_submit(srv, req).startswith(err), req
    assert queue_json(srv) == []
