"""Reload (`relayguard reload` and SIGHUP): a new config applies to sessions that start after it,
while a session already open keeps the config it started with; a broken config, an open relay
or a listen address that cannot be bound changes nothing and says why; listeners are added and
removed; settings that need a restart keep their old value and are named."""
import contextlib
import signal
import smtplib
import socket
import threading
import time

from conftest import Server, free_port
from smtp_helpers import expect, log_lines, session, wait_log


def edit(srv, add="", remove=None):
    text = srv.conf.read_text()
    if remove is not None:
        assert remove in text
        text = text.replace(remove, "")
    srv.conf.write_text(text + add + "\n")


def reload_ok(srv):
    out = srv.ctl("reload")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("reloaded %s\n" % srv.conf), out.stdout
    return out.stdout


@contextlib.contextmanager
def reloading(srv, limit=500, seconds=60):
    """`relayguard reload` in a loop on another thread while the body runs (bounded: at most
    limit reloads and seconds of time)."""
    stop = threading.Event()
    deadline = time.time() + seconds

    def reloader():
        for _ in range(limit):
            if stop.is_set() or time.time() > deadline:
                return
            srv.ctl("reload")

    t = threading.Thread(target=reloader)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(timeout=30)


def test_new_mailbox_applies_to_new_sessions_only(make_server, raw):
    srv = make_server()
    before = session(raw, srv.port, state="mail")  # opened under the old config
    edit(srv, "mailbox carol")
    reload_ok(srv)
    assert wait_log(srv, "server: reloaded", "mailboxes=4")
    after = session(raw, srv.port, state="mail")
    expect(after.cmd("RCPT TO:<carol@example.test>"), 250, "2.1.5")
    expect(before.cmd("RCPT TO:<carol@example.test>"), 550, "5.1.1")  # still the old table
    expect(before.cmd("RCPT TO:<alice@example.test>"), 250, "2.1.5")
    for c, subject in ((after, "new"), (before, "old")):
        expect(c.cmd("DATA"), 354)
        c.send(b"Subject: " + subject.encode() + b"\r\n\r\nx\r\n.\r\n")
        expect(c.reply(), 250, "2.0.0")
    assert len(srv.wait_messages("carol", 1)) == 1
    assert len(srv.wait_messages("alice", 1)) == 1


def test_new_relay_rule_applies_to_new_sessions_only(make_server, raw):
    srv = make_server()
    before = session(raw, srv.port, state="mail")
    expect(before.cmd("RCPT TO:<bob@partner.example>"), 554, "5.7.1")
    edit(srv, "relay allow from 127.0.0.2 to partner.example id partner")
    out = reload_ok(srv)
    assert "relay rules 2" in out
    after = session(raw, srv.port, state="mail")
    expect(after.cmd("RCPT TO:<bob@partner.example>"), 250, "2.1.5")
    expect(before.cmd("RCPT TO:<bob@partner.example>"), 554, "5.7.1")
    assert log_lines(srv, "rcpt accepted", "to=<bob@partner.example>", "rule=partner")


def test_broken_config_keeps_the_old_one_and_names_file_line_col(make_server, raw):
    srv = make_server()
    edit(srv, "mailbox carol\nrelya allow from any")
    line = srv.conf.read_text().splitlines().index("relya allow from any") + 1
    out = srv.ctl("reload")
    where = "%s:%d:1: unknown directive 'relya'" % (srv.conf, line)
    assert out.returncode == 1
    assert out.stderr == "relayguard: %s\n" % where
    (failed,) = wait_log(srv, "server: reload failed")
    assert where in failed
    c = session(raw, srv.port, state="mail")  # still serving, under the old config
    expect(c.cmd("RCPT TO:<carol@example.test>"), 550, "5.1.1")
    expect(c.cmd("RCPT TO:<alice@example.test>"), 250, "2.1.5")
    assert "reloads 0" in srv.ctl("status").stdout


def test_sighup_reloads_too(make_server, raw):
    srv = make_server()
    edit(srv, "mailbox carol\nlimit recipients zero")
    srv.proc.send_signal(signal.SIGHUP)
    (failed,) = wait_log(srv, "server: reload failed")
    assert "%s:" % srv.conf in failed and "limit recipients" in failed
    expect(session(raw, srv.port, state="mail").cmd("RCPT TO:<carol@example.test>"), 550, "5.1.1")
    edit(srv, remove="limit recipients zero\n")
    srv.proc.send_signal(signal.SIGHUP)
    assert wait_log(srv, "server: reloaded")
    expect(session(raw, srv.port, state="mail").cmd("RCPT TO:<carol@example.test>"), 250, "2.1.5")


def test_open_relay_is_refused_like_a_syntax_error(make_server, raw):
    srv = make_server()
    edit(srv, "relay allow from any id everyone")
    out = srv.ctl("reload")
    assert out.returncode == 1
    assert "refusing to load an open relay: everyone: relay test" in out.stderr, out.stderr
    assert wait_log(srv, "server: reload failed", "refusing to load an open relay")
    c = session(raw, srv.port, state="mail")
    expect(c.cmd("RCPT TO:<victim@remote.example>"), 554, "5.7.1")
    assert "OPEN RELAY" not in srv.logtext()


def test_open_relay_with_override_is_loaded_and_announced(make_server, raw):
    srv = make_server()
    edit(srv, 'relay allow from any id everyone\nopen-relay-override "lab, ticket 7"')
    out = reload_ok(srv)
    assert "OPEN RELAY" in out
    assert wait_log(srv, "OPEN RELAY", 'override="lab, ticket 7"')
    c = session(raw, srv.port, state="mail")
    expect(c.cmd("RCPT TO:<victim@remote.example>"), 250, "2.1.5")


def test_listener_added_and_removed(make_server, raw):
    srv = make_server()
    old_port, new_port = srv.port, free_port()
    kept = session(raw, old_port, state="ehlo")  # a session on the listener that goes away
    edit(srv, "listen 127.0.0.1:%d role submission" % new_port, remove="listen 127.0.0.1:%d\n" % old_port)
    out = reload_ok(srv)
    assert "listeners 1 (1 added, 1 removed)" in out, out
    expect(session(raw, new_port, state="ehlo").cmd("NOOP"), 250)
    try:
        socket.create_connection(("127.0.0.1", old_port), timeout=2).close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    assert refused, "the removed listener still accepts"
    expect(kept.cmd("NOOP"), 250)  # sessions it accepted go on
    assert wait_log(srv, "smtp: listener closed", "listen=127.0.0.1:%d" % old_port)
    assert wait_log(srv, "smtp: listening", "listen=127.0.0.1:%d" % new_port, "role=submission")
    srv.port = new_port


def test_bind_failure_applies_nothing(make_server, raw):
    srv = make_server()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        free = free_port()
        edit(srv, "mailbox carol\nlisten 127.0.0.1:%d\nlisten 127.0.0.1:%d" % (free, port))
        out = srv.ctl("reload")
    assert out.returncode == 1
    assert "listen 127.0.0.1:%d: Address already in use" % port in out.stderr, out.stderr
    expect(session(raw, srv.port, state="mail").cmd("RCPT TO:<carol@example.test>"), 550, "5.1.1")
    try:  # the other new listener was closed again
        socket.create_connection(("127.0.0.1", free), timeout=2).close()
        bound = True
    except ConnectionRefusedError:
        bound = False
    assert not bound


def test_settings_that_need_a_restart_keep_their_old_value(make_server):
    srv = make_server()
    metrics_port = free_port()
    edit(srv, "delivery-workers 2\nmailbox carol\nmetrics-listen 127.0.0.1:%d\n"
              "dns-server 127.0.0.1:%d" % (metrics_port, free_port()),
         remove="spool %s/spool\n" % srv.tmp)
    edit(srv, "spool %s/spool-new" % srv.tmp)
    out = reload_ok(srv)
    kept = "spool,delivery-workers,metrics-listen,dns-server"
    assert "need a restart; their old values stay in force: %s" % kept in out, out
    assert wait_log(srv, "server: reload: changed settings need a restart", "settings=" + kept)
    try:  # not started by a reload
        socket.create_connection(("127.0.0.1", metrics_port), timeout=2).close()
        metrics_on = True
    except ConnectionRefusedError:
        metrics_on = False
    assert not metrics_on
    with smtplib.SMTP("127.0.0.1", srv.port, source_address=("127.0.0.2", 0)) as s:
        s.sendmail("x@outside.example", ["carol@example.test"], "Subject: c\r\n\r\nx\r\n")
    assert len(srv.wait_messages("carol", 1)) == 1  # the rest of the new config applies
    assert not (srv.tmp / "spool-new").exists()       # the spool stays where it was


def test_concurrent_reloads_all_get_an_answer(make_server):
    srv = make_server()
    edit(srv, "mailbox carol")
    results = []
    threads = [threading.Thread(target=lambda: results.append(srv.ctl("reload"))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 6
    assert all(r.returncode == 0 and "mailboxes 4" in r.stdout for r in results), results


def test_reload_during_a_delivery_burst_loses_nothing(make_server):
    """Deliveries pin the config they started with: reloading while the workers write Maildirs
    (and the old config may be freed) neither loses nor duplicates a message."""
    srv = make_server()
    with reloading(srv):
        with smtplib.SMTP("127.0.0.1", srv.port, source_address=("127.0.0.2", 0)) as s:
            for i in range(40):
                s.sendmail("x@outside.example", ["alice@example.test"], "Subject: %d\r\n\r\nx\r\n" % i)
    assert len(srv.wait_messages("alice", 40)) == 40
    assert len(log_lines(srv, "server: reloaded")) >= 1


def test_reload_during_remote_delivery_loses_nothing(make_server, tmp_path):
    """Remote attempts pin the config they started with (their EHLO name, timeouts): reloads
    while relayed mail goes out through a route neither lose nor break a delivery. The sink
    waits a second before its banner, so every attempt spans several reloads (under ASan an
    unpinned config is a use after free at EHLO)."""
    sink_dir = tmp_path / "sink"
    sink_dir.mkdir()
    sink = Server(sink_dir, "local-domain remote.example\nmailbox friend@remote.example\n"
                            "limit greeting-delay 1s")
    sink.start()
    try:
        srv = make_server("route remote.example via 127.0.0.1:%d\ndelivery-tls none" % sink.port)
        with reloading(srv):
            with smtplib.SMTP("127.0.0.1", srv.port, source_address=("127.0.0.1", 0)) as s:
                for i in range(5):
                    s.sendmail("alice@example.test", ["friend@remote.example"],
                               "Subject: %d\r\n\r\nx\r\n" % i)
            assert len(sink.wait_messages("friend", 5)) == 5  # reloading all along
        assert len(log_lines(srv, "server: reloaded")) >= 1
    finally:
        assert sink.stop() == 0
