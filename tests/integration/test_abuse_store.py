"""The abuse store under concurrency (issue 6): the SQLite store runs queued requests in one
transaction (group commit); many sessions at once must still be counted exactly. And the store
is opened only when something uses it: not at start without greylisting or rate limits, but by
the reload that turns them on."""
import smtplib
import threading

from test_greylist import attempt

OUTSIDE = "127.0.0.2"
SESSIONS, MESSAGES = 8, 4


def store(tmp_path):
    return "abuse-store sqlite %s/db/abuse.db\nclock-offset 0\n" % tmp_path


def run_session(srv, barrier, codes, errors):
    try:
        with smtplib.SMTP("127.0.0.1", srv.port, source_address=(OUTSIDE, 0), timeout=10) as c:
            c.ehlo("client.example")
            for _ in range(MESSAGES):
                barrier.wait(timeout=10)  # every session's MAIL at once: one batch
                mcode, _ = c.mail("someone@sender.example")
                rcode, _ = c.rcpt("alice@example.test")
                codes.append((mcode, rcode))
                if mcode == 250 and rcode == 250:
                    c.data("Subject: batch\r\n\r\nbody\r\n")
                else:
                    c.rset()
    except Exception as e:  # noqa: BLE001 (reported by the test)
        errors.append(repr(e))
        barrier.abort()


def test_concurrent_sessions_counted_exactly(make_server, tmp_path):
    total = SESSIONS * MESSAGES
    srv = make_server(store(tmp_path) + "ratelimit ip-messages %d/1h\n"
                      "ratelimit ip-recipients %d/1h\n" % (total, total))
    barrier = threading.Barrier(SESSIONS)
    codes, errors = [], []
    threads = [threading.Thread(target=run_session, args=(srv, barrier, codes, errors))
               for _ in range(SESSIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and not any(t.is_alive() for t in threads), errors
    assert codes == [(250, 250)] * total, codes  # exactly the limit: all pass
    with smtplib.SMTP("127.0.0.1", srv.port, source_address=(OUTSIDE, 0), timeout=10) as c:
        c.ehlo("client.example")
        code, msg = c.mail("someone@sender.example")
    assert code == 450 and b"Too many messages" in msg, msg  # one more: refused
    assert len(srv.wait_messages("alice", total)) == total


def test_store_opened_only_when_used(make_server, tmp_path):
    db = tmp_path / "db" / "abuse.db"
    srv = make_server(store(tmp_path))
    code, _ = attempt(srv, source=OUTSIDE)
    assert code == 250 and not db.exists()  # nothing uses it: not opened, not created
    srv.conf.write_text(srv.conf.read_text() + "greylist on\ngreylist-delay 5m\n")
    out = srv.ctl("reload")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "abuse-store" not in out.stdout  # not "kept": it was never opened
    code, msg = attempt(srv, source=OUTSIDE)
    assert code == 451 and "Greylisted" in msg, msg  # the reload opened it
    assert db.exists()
