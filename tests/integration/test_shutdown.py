"""Graceful stop (SIGTERM/SIGINT): no new connections; idle sessions get 421 4.3.2 at once; a
session inside a transaction may finish it within limit shutdown-grace (its next command then
gets 421), and what it was acknowledged is delivered; past the grace it is cut and nothing of
it is kept; a second signal stops at once."""
import signal
import socket
import subprocess
import time

import pytest
from conftest import BIN
from smtp_helpers import expect, queued_id, session, wait_log


def wait_exit(srv, timeout=10):
    """The server's exit status once it has stopped by itself (bounded wait)."""
    rc = srv.proc.wait(timeout=timeout)
    srv.proc = None
    srv.logf.close()
    return rc


def refuses_connections(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_idle_sessions_get_421_and_the_server_exits(make_server, raw, sig):
    srv = make_server()
    banner_only = session(raw, srv.port, state="banner")
    after_ehlo = session(raw, srv.port, state="ehlo")
    srv.proc.send_signal(sig)
    for c in (banner_only, after_ehlo):
        expect(c.reply(), 421, "4.3.2", contains="mx.example.test Service shutting down")
        assert c.closed()
    assert wait_exit(srv) == 0
    assert wait_log(srv, "server: stopping", "signal=%d" % sig, "sessions=2", "grace=10s")
    assert not (srv.tmp / "run" / "relayguard.sock").exists()


def test_a_message_in_data_completes_and_is_delivered(make_server, raw):
    srv = make_server()
    c = session(raw, srv.port, state="rcpt")
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: in flight\r\n\r\nfirst half\r\n")
    srv.proc.send_signal(signal.SIGTERM)
    assert wait_log(srv, "server: stopping")
    assert refuses_connections(srv.port)       # stopped accepting at once
    assert srv.ctl("status").returncode == 2   # the control socket too
    c.send(b"second half\r\n.\r\n")
    qid = queued_id(c.reply())                 # finished within the grace
    expect(c.cmd("MAIL FROM:<x@outside.example>"), 421, "4.3.2")
    assert c.closed()
    assert wait_exit(srv) == 0
    srv.start()
    (msg,) = srv.wait_messages("alice", 1)
    assert b"first half\nsecond half" in msg.read_bytes()
    assert qid in msg.name
    deadline = time.time() + 10
    while not srv.queue_list().strip().endswith("0 messages queued") and time.time() < deadline:
        time.sleep(0.05)
    assert srv.queue_list().strip().endswith("0 messages queued")
    assert len(srv.messages("alice")) == 1


def test_a_transaction_before_data_may_go_on(make_server, raw):
    srv = make_server()
    c = session(raw, srv.port, state="mail")
    srv.proc.send_signal(signal.SIGTERM)
    assert wait_log(srv, "server: stopping")
    expect(c.cmd("RCPT TO:<alice@example.test>"), 250, "2.1.5")
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: late\r\n\r\nx\r\n.\r\n")
    queued_id(c.reply())
    expect(c.cmd("QUIT"), 221)  # QUIT is still answered politely
    assert wait_exit(srv) == 0


def test_past_the_grace_the_session_is_cut_and_nothing_is_kept(make_server, raw):
    srv = make_server("limit shutdown-grace 1s")
    c = session(raw, srv.port, state="rcpt")
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: never finished\r\n\r\nhalf\r\n")
    srv.proc.send_signal(signal.SIGTERM)
    expect(c.reply(), 421, "4.3.2")  # the grace ran out
    assert c.closed()
    assert wait_exit(srv) == 0
    assert wait_log(srv, "server: stopping now", "reason=shutdown-grace-over", "sessions=1")
    srv.start()
    assert srv.queue_list().strip().endswith("0 messages queued")
    assert srv.messages("alice") == []


def test_a_second_signal_stops_at_once(make_server, raw):
    srv = make_server("limit shutdown-grace 5m")
    c = session(raw, srv.port, state="rcpt")
    expect(c.cmd("DATA"), 354)
    srv.proc.send_signal(signal.SIGTERM)
    assert wait_log(srv, "server: stopping", "grace=300s")
    srv.proc.send_signal(signal.SIGTERM)
    assert wait_exit(srv, timeout=10) == 0  # long before the 5 minutes
    assert wait_log(srv, "server: stopping now", "reason=second-signal")
    expect(c.reply(), 421, "4.3.2")


def test_zero_grace_cuts_transactions_at_once(make_server, raw):
    srv = make_server("limit shutdown-grace 0")
    idle = session(raw, srv.port, state="ehlo")
    busy = session(raw, srv.port, state="mail")
    srv.proc.send_signal(signal.SIGTERM)
    assert wait_exit(srv) == 0
    for c in (idle, busy):
        expect(c.reply(), 421, "4.3.2")
        assert c.closed()


def test_shutdown_grace_range(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("listen 127.0.0.1:1\nlimit shutdown-grace 6m\n")
    out = subprocess.run([BIN, "check", "-c", str(conf)], capture_output=True, text=True, timeout=10)
    assert out.returncode == 2
    assert "%s:2:22: " % conf in out.stderr and "0s..5m" in out.stderr, out.stderr
