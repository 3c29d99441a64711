"""Bounces (issue 4): a permanent failure (5xx) or expiry produces exactly one DSN (RFC 3464
multipart/report) to the envelope sender, never to the null sender; RFC 3461 NOTIFY, RET,
ENVID and ORCPT are honoured. The sender alice@example.test is local, so her DSNs land in her
Maildir, where Python's email package parses them."""
import pathlib

from remote_helpers import (closed_port, conf, dsns, mailbox, queue_count, send, settle,
                            wait_dsns, wait_mailbox, wait_queue_empty)
from sinks import Script, ScriptedSink, SmtpSink

NO_SUCH_USER = ["-f", "RCPT", "-B", "550 5.1.1 no such user"]


def route(sink):
    return conf("route example.net via %s" % sink.target)


def norm(value):
    return "".join(value.split()).lower()


def test_5xx_at_rcpt_one_dsn_to_the_sender(make_server, tmp_path):
    sink = SmtpSink(tmp_path, host="127.0.0.5", args=NO_SUCH_USER)
    try:
        srv = make_server(route(sink))
        send(srv, "alice@example.test", ["nobody@example.net"], subject="bounce me",
             body="the body BODYTOKEN\r\n")
        got = wait_dsns(srv, "alice", 1)
        assert len(got) == 1
        d = got[0]
        assert "alice@example.test" in d.msg["To"]
        assert d.msg["Subject"]
        assert srv.messages("alice")[0].read_bytes().startswith(b"Return-Path: <>\n")
        assert "mx.example.test" in d.fields["reporting-mta"]
        r = d.rcpt("nobody@example.net")
        assert r["action"] == "failed"
        assert r["status"] == "5.1.1"
        assert norm(r["final-recipient"]) == "rfc822;nobody@example.net"
        assert "550" in r["diagnostic-code"] and "no such user" in r["diagnostic-code"]
        assert len(d.rcpts) == 1
        assert d.returned.get_content_type() == "message/rfc822"
        original = d.returned_bytes()
        assert b"Subject: bounce me" in original and b"BODYTOKEN" in original
        assert wait_queue_empty(srv), srv.queue_list()
        settle(1.5)  # no second DSN, no retry of a permanent failure
        assert len(dsns(srv, "alice")) == 1
        assert sink.messages() == []
    finally:
        sink.stop()


def test_5xx_after_data_bounces_every_recipient(make_server, tmp_path):
    sink = ScriptedSink(host="127.0.0.5",
                        scripts=[Script(end="554 5.6.0 message content rejected")])
    try:
        srv = make_server(route(sink))
        send(srv, "alice@example.test", ["one@example.net", "two@example.net"],
             subject="rejected content")
        got = wait_dsns(srv, "alice", 1)
        assert len(got) == 1, [d.rcpts for d in got]
        for addr in ("one@example.net", "two@example.net"):
            r = got[0].rcpt(addr)
            assert r["action"] == "failed" and r["status"] == "5.6.0", r
        assert wait_queue_empty(srv), srv.queue_list()
    finally:
        sink.stop()


def test_notify_never_no_dsn(make_server, tmp_path):
    sink = SmtpSink(tmp_path, host="127.0.0.5", args=NO_SUCH_USER)
    try:
        srv = make_server(route(sink))
        send(srv, "alice@example.test", ["nobody@example.net"], subject="never tell",
             rcpt_options=["NOTIFY=NEVER"])
        assert wait_queue_empty(srv), srv.queue_list()
        settle(1.0)
        assert srv.messages("alice") == []
    finally:
        sink.stop()


def test_null_sender_never_gets_a_dsn(make_server, tmp_path):
    sink = SmtpSink(tmp_path, host="127.0.0.5", args=NO_SUCH_USER)
    try:
        srv = make_server(route(sink))
        send(srv, "", ["nobody@example.net"], subject="a bounce of a bounce")
        assert wait_queue_empty(srv), srv.queue_list()
        settle(1.5)
        assert queue_count(srv) == 0
        delivered = [p for p in pathlib.Path(tmp_path, "mail").glob("*/Maildir/new/*")]
        assert delivered == []
    finally:
        sink.stop()


def test_notify_success_to_a_server_without_dsn_gives_relayed(make_server, tmp_path):
    sink = SmtpSink(tmp_path, host="127.0.0.5", args=["-N"])
    try:
        srv = make_server(route(sink))
        send(srv, "alice@example.test", ["carol@example.net"], subject="tell me",
             rcpt_options=["NOTIFY=SUCCESS,FAILURE"])
        assert len(sink.wait_messages(1)) == 1
        assert "NOTIFY" not in " ".join(sink.messages()[0].rcpt_args)  # not offered: not sent
        got = wait_dsns(srv, "alice", 1)
        assert len(got) == 1
        r = got[0].rcpt("carol@example.net")
        assert r["action"] == "relayed"
        assert r["status"].startswith("2."), r
        assert wait_queue_empty(srv), srv.queue_list()
    finally:
        sink.stop()


def test_notify_success_to_a_dsn_server_is_passed_on(make_server, tmp_path):
    sink = SmtpSink(tmp_path, host="127.0.0.5")
    try:
        srv = make_server(route(sink))
        send(srv, "alice@example.test", ["carol@example.net"], subject="pass it on",
             mail_options=["RET=HDRS", "ENVID=env1"],
             rcpt_options=["NOTIFY=SUCCESS", "ORCPT=rfc822;carol@example.net"])
        msgs = sink.wait_messages(1)
        assert len(msgs) == 1
        assert "RET=HDRS" in msgs[0].mail_args and "ENVID=env1" in msgs[0].mail_args
        rcpt = msgs[0].rcpt_args[0]
        assert "NOTIFY=SUCCESS" in rcpt and "ORCPT=rfc822;carol@example.net" in rcpt
        assert wait_queue_empty(srv), srv.queue_list()
        settle(1.0)
        assert srv.messages("alice") == []  # the next hop reports success itself
    finally:
        sink.stop()


def test_ret_hdrs_returns_only_the_header(make_server, tmp_path):
    sink = SmtpSink(tmp_path, host="127.0.0.5", args=NO_SUCH_USER)
    try:
        srv = make_server(route(sink))
        send(srv, "alice@example.test", ["nobody@example.net"], subject="headers only",
             body="secret BODYTOKEN\r\n", mail_options=["RET=HDRS"])
        got = wait_dsns(srv, "alice", 1)
        assert len(got) == 1
        assert got[0].returned.get_content_type() == "text/rfc822-headers"
        returned = got[0].returned_bytes()
        assert b"Subject: headers only" in returned
        assert b"BODYTOKEN" not in got[0].msg.as_bytes()
    finally:
        sink.stop()


def test_envid_and_orcpt_appear_in_the_report(make_server, tmp_path):
    sink = SmtpSink(tmp_path, host="127.0.0.5", args=NO_SUCH_USER)
    try:
        srv = make_server(route(sink))
        send(srv, "alice@example.test", ["nobody@example.net"], subject="ids",
             mail_options=["ENVID=env+2B42.abc"],
             rcpt_options=["ORCPT=rfc822;original@example.net"])
        got = wait_dsns(srv, "alice", 1)
        assert len(got) == 1
        assert got[0].fields["original-envelope-id"].strip() == "env+42.abc"  # xtext decoded
        r = got[0].rcpt("nobody@example.net")
        assert norm(r["original-recipient"]) == "rfc822;original@example.net"
    finally:
        sink.stop()


def test_lifetime_expiry_bounces_with_4_4_7(make_server, tmp_path):
    port = closed_port("127.0.0.5")  # nothing listens: connection refused, every attempt
    srv = make_server(conf("route example.net via 127.0.0.5:%d" % port, "delivery lifetime 3s"))
    send(srv, "alice@example.test", ["carol@example.net"], subject="too late")
    settle(1.0)
    assert queue_count(srv) == 1 and srv.messages("alice") == []  # deferred, not bounced yet
    got = wait_dsns(srv, "alice", 1, timeout=10)
    assert len(got) == 1
    r = got[0].rcpt("carol@example.net")
    assert r["action"] == "failed"
    assert r["status"] == "4.4.7"
    assert wait_queue_empty(srv), srv.queue_list()
    settle(1.0)
    assert len(dsns(srv, "alice")) == 1


def test_mixed_local_and_remote_recipients(make_server, tmp_path):
    sink = ScriptedSink(host="127.0.0.5", scripts=[Script(
        rcpt={"bad@example.net": "550 5.1.1 no such user", "*": "250 2.1.5 Ok"})])
    try:
        srv = make_server(route(sink))
        send(srv, "alice@example.test",
             ["bob@example.test", "good@example.net", "bad@example.net"], subject="mixed")
        bob = wait_mailbox(srv, "bob", 1)
        assert [m["Subject"] for m in bob] == ["mixed"]
        delivered = sink.wait_delivered(1)
        assert [t.accepted_rcpts for t in delivered] == [["good@example.net"]]
        got = wait_dsns(srv, "alice", 1)
        assert len(got) == 1
        assert [r["final-recipient"].split(";")[-1].strip() for r in got[0].rcpts] == \
            ["bad@example.net"]
        assert wait_queue_empty(srv), srv.queue_list()
        settle(1.0)
        assert len(sink.delivered()) == 1 and len(mailbox(srv, "bob")) == 1
        assert len(dsns(srv, "alice")) == 1
    finally:
        sink.stop()


def test_bounce_size_limit_returns_only_the_header_of_a_big_message(make_server, tmp_path):
    sink = SmtpSink(tmp_path, host="127.0.0.5", args=NO_SUCH_USER)
    try:
        srv = make_server(route(sink) + "delivery bounce-size-limit 1K\n")
        send(srv, "alice@example.test", ["nobody@example.net"], subject="too big to return",
              body="BIGTOKEN " + "x" * 4000 + "\r\n")
        send(srv, "alice@example.test", ["nobody@example.net"], subject="small",
              body="SMALLTOKEN\r\n")
        got = wait_dsns(srv, "alice", 2)
        assert len(got) == 2
        big = next(g for g in got if b"too big to return" in g.returned_bytes())
        small = next(g for g in got if b"Subject: small" in g.returned_bytes())
        assert big.returned.get_content_type() == "text/rfc822-headers"
        assert b"BIGTOKEN" not in big.msg.as_bytes()
        assert small.returned.get_content_type() == "message/rfc822"
        assert b"SMALLTOKEN" in small.msg.as_bytes()
    finally:
        sink.stop()
