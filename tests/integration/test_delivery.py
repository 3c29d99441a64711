"""Local delivery: `mailbox ADDR user NAME` delivers into NAME's Maildir; Maildir files hold
LF line ends with Return-Path and Delivered-To; delivery-workers 1 still delivers everything."""
import smtplib
import time


def test_mailbox_user_and_single_worker(make_server):
    srv = make_server("mailbox carol@example.test user robert\ndelivery-workers 1")
    with smtplib.SMTP("127.0.0.1", srv.port, source_address=("127.0.0.2", 0)) as s:
        for i in range(5):
            s.sendmail("x@outside.example", ["carol@example.test"],
                       "Subject: %d\r\n\r\nline one\r\n.dot\r\n" % i)
        s.sendmail("", ["alice@example.test", "carol@example.test"], "Subject: both\r\n\r\nx\r\n")
    robert = srv.wait_messages("robert", 6)
    assert len(robert) == 6 and not srv.messages("carol")
    assert len(srv.wait_messages("alice", 1)) == 1
    data = robert[0].read_bytes()
    assert data.startswith(b"Return-Path: <x@outside.example>\nDelivered-To: carol@example.test\n")
    assert b"\r" not in data and b"\n.dot\n" in data  # local LF form; smtplib stuffed the dot, the server unstuffed it
    both = [m.read_bytes() for m in robert if b"Subject: both" in m.read_bytes()]
    assert len(both) == 1 and both[0].startswith(b"Return-Path: <>\n")
    assert b"\tfor <" not in both[0]  # two recipients: no "for" clause (Bcc privacy)


def test_failed_maildir_delivery_is_retried_after_local_retry(make_server):
    """delivery local-retry: a Maildir that cannot be created (a file stands where the user's
    directory should be) fails, stays queued, and is delivered by a retry once it is fixed."""
    srv = make_server("delivery local-retry 1s", start=False)
    (srv.tmp / "mail").mkdir()
    blocker = srv.tmp / "mail" / "alice"
    blocker.write_text("not a directory")
    srv.start()
    with smtplib.SMTP("127.0.0.1", srv.port, source_address=("127.0.0.2", 0)) as s:
        s.sendmail("a@outside.example", ["alice@example.test"], "Subject: r\r\n\r\nx\r\n")
    deadline = time.time() + 5
    while time.time() < deadline and "maildir failed, will retry" not in srv.logtext():
        time.sleep(0.05)
    assert "retry=1s" in srv.logtext()
    blocker.unlink()
    assert len(srv.wait_messages("alice", 1, timeout=5)) == 1
