"""LMTP delivery (RFC 2033, issue 4): with `local-delivery lmtp unix:PATH|HOST:PORT` local
recipients go to a mailbox server over LMTP instead of Maildir. LMTP answers once per recipient
after the data: a 5xx for one recipient bounces that one only (the DSN is local mail too, so
it goes to the LMTP server); a 4xx retries that one only."""
import email
import email.policy

from remote_helpers import conf, send, settle, wait_queue_empty
from sinks import Script, ScriptedSink, SmtpSink


def test_lmtp_unix_socket_to_smtp_sink(make_server, tmp_path):
    sock = tmp_path / "lmtp.sock"
    sink = SmtpSink(tmp_path, unix=sock, lmtp=True)
    try:
        srv = make_server(conf("local-delivery lmtp %s" % sink.target))
        send(srv, "x@example.net", ["alice@example.test", "bob@example.test"], subject="by lmtp",
             body="lmtp body\r\n.dot line\r\n")
        msgs = sink.wait_messages(1)
        assert wait_queue_empty(srv), srv.queue_list()
        msgs = sink.messages()
        assert all(m.proto == "LMTP" for m in msgs), msgs
        rcpts = sorted(r for m in msgs for r in m.rcpts)
        assert rcpts == ["alice@example.test", "bob@example.test"]
        assert all(m.mail_from == "x@example.net" for m in msgs)
        assert all(m.header("Subject") == "by lmtp" for m in msgs)
        assert all(m.data.endswith(b"\n\nlmtp body\n.dot line\n") for m in msgs)
        assert srv.messages("alice") == [] and srv.messages("bob") == []  # not Maildir
    finally:
        sink.stop()


def test_lmtp_tcp(make_server, tmp_path):
    sink = SmtpSink(tmp_path, host="127.0.0.5", lmtp=True)
    try:
        srv = make_server(conf("local-delivery lmtp %s" % sink.target))
        send(srv, "x@example.net", ["postmaster@example.test"], subject="lmtp over tcp")
        msgs = sink.wait_messages(1)
        assert [m.rcpts for m in msgs] == [["postmaster@example.test"]]
        assert wait_queue_empty(srv), srv.queue_list()
    finally:
        sink.stop()


def test_lmtp_5xx_for_one_recipient_bounces_that_one_only(make_server, tmp_path):
    sink = ScriptedSink(unix=tmp_path / "lmtp.sock", lmtp=True, scripts=[Script(
        lmtp_rcpt={"bob@example.test": "550 5.1.1 mailbox unknown", "*": "250 2.0.0 Ok"})])
    try:
        srv = make_server(conf("local-delivery lmtp %s" % sink.target))
        send(srv, "alice@example.test", ["bob@example.test", "postmaster@example.test"],
             subject="one fails")
        assert wait_queue_empty(srv), srv.queue_list()
        settle(1.0)
        txs = sink.delivered()
        first = [t for t in txs if t.mail_from == "alice@example.test"]
        assert len(first) == 1, txs  # the 5xx is not retried, the 250 not repeated
        assert sorted(first[0].accepted_rcpts) == ["bob@example.test", "postmaster@example.test"]
        bounces = [t for t in txs if t.mail_from == ""]
        assert len(bounces) == 1, txs  # the DSN, to alice, by LMTP as well
        assert bounces[0].accepted_rcpts == ["alice@example.test"]
        dsn = email.message_from_bytes(bounces[0].unstuffed(), policy=email.policy.default)
        assert dsn.get_content_type() == "multipart/report"
        status = [p for p in dsn.get_payload() if p.get_content_type() == "message/delivery-status"]
        blocks = status[0].get_payload()[1:]
        assert len(blocks) == 1
        assert "bob@example.test" in blocks[0]["Final-Recipient"]
        assert blocks[0]["Action"].strip() == "failed"
        assert blocks[0]["Status"].strip() == "5.1.1"
    finally:
        sink.stop()


def test_lmtp_4xx_for_one_recipient_retries_that_one_only(make_server, tmp_path):
    sink = ScriptedSink(unix=tmp_path / "lmtp.sock", lmtp=True, scripts=[
        Script(lmtp_rcpt={"bob@example.test": "452 4.2.2 mailbox full", "*": "250 2.0.0 Ok"}),
        Script()])
    try:
        srv = make_server(conf("local-delivery lmtp %s" % sink.target))
        send(srv, "x@example.net", ["bob@example.test", "alice@example.test"], subject="retry bob")
        assert wait_queue_empty(srv), srv.queue_list()
        settle(1.0)
        txs = sink.delivered()
        assert len(txs) == 2, txs
        assert sorted(txs[0].accepted_rcpts) == ["alice@example.test", "bob@example.test"]
        assert txs[1].accepted_rcpts == ["bob@example.test"]  # alice got hers the first time
        assert b"Subject: retry bob" in txs[1].data
    finally:
        sink.stop()
