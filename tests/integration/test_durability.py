"""Durability: a message acknowledged with 250 survives kill -9 and is delivered exactly once;
the spool is recovered at start; the queue lists relayed mail."""
import re
import smtplib
import threading
import time

SENDERS = 6          # concurrent client threads
PER_SENDER = 60      # messages each: the load loop is bounded in count...
BURST_SECONDS = 20   # ...and in time


def send_burst(port, acked, stop):
    def worker(n):
        for i in range(PER_SENDER):
            if stop.is_set():
                return
            token = "tok-%d-%d" % (n, i)
            try:
                with smtplib.SMTP("127.0.0.1", port, source_address=("127.0.0.2", 0), timeout=10) as s:
                    s.sendmail("sender@outside.example", ["alice@example.test"],
                               "Subject: %s\r\n\r\nbody %s\r\n" % (token, token))
                acked.add(token)  # sendmail returned: the server said 250 after DATA
            except (OSError, smtplib.SMTPException):
                return  # the server died under us

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(SENDERS)]
    for t in threads:
        t.start()
    return threads


def tokens_in_maildir(srv):
    counts = {}
    for path in srv.messages("alice"):
        m = re.search(rb"^Subject: (tok-\d+-\d+)", path.read_bytes(), re.M)
        assert m, path
        counts[m.group(1).decode()] = counts.get(m.group(1).decode(), 0) + 1
    return counts


def wait_queue_empty(srv, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if srv.queue_list().strip().endswith("0 messages queued"):
            return True
        time.sleep(0.1)
    return False


def test_kill9_during_burst_loses_nothing_and_delivers_once(make_server):
    srv = make_server()
    acked, stop = set(), threading.Event()
    threads = send_burst(srv.port, acked, stop)
    deadline = time.time() + BURST_SECONDS
    while len(acked) < 40 and time.time() < deadline:
        time.sleep(0.01)
    srv.kill9()  # mid-burst: sessions in DATA, commits and deliveries in flight
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acked) >= 40
    srv.start()
    assert wait_queue_empty(srv), srv.queue_list()
    counts = tokens_in_maildir(srv)
    missing = sorted(t for t in acked if counts.get(t, 0) == 0)
    dups = sorted(t for t, n in counts.items() if n > 1)
    assert not missing, "acknowledged but lost: %s" % missing
    assert not dups, "delivered more than once: %s" % dups


def test_kill9_twice_then_clean_restart(make_server):
    """Recovery itself is crash-safe: killing the server again while it redelivers loses nothing."""
    srv = make_server()
    acked, stop = set(), threading.Event()
    threads = send_burst(srv.port, acked, stop)
    while len(acked) < 30:
        time.sleep(0.01)
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    srv.start()
    srv.kill9()  # immediately: recovery and redelivery interrupted
    srv.start()
    assert wait_queue_empty(srv)
    counts = tokens_in_maildir(srv)
    assert all(counts.get(t) == 1 for t in acked), counts
    assert all(n == 1 for n in counts.values())


def test_relayed_mail_stays_queued_and_survives_restart(make_server):
    srv = make_server()
    with smtplib.SMTP("127.0.0.1", srv.port, source_address=("127.0.0.1", 0)) as s:
        s.sendmail("alice@example.test", ["friend@remote.example"], "Subject: out\r\n\r\nx\r\n")
    listing = srv.queue_list()
    assert "<friend@remote.example>" in listing and "rule=local-host" in listing
    assert srv.stop() == 0
    srv.start()
    assert "<friend@remote.example>" in srv.queue_list()
    assert "recovered=1" in srv.logtext()


def test_torn_tail_is_cut_and_never_delivered(make_server):
    """A record half-written at a crash was never acknowledged: recovery drops it."""
    srv = make_server()
    with smtplib.SMTP("127.0.0.1", srv.port, source_address=("127.0.0.2", 0)) as s:
        s.sendmail("a@outside.example", ["alice@example.test"], "Subject: tok-0-0\r\n\r\nx\r\n")
    assert len(srv.wait_messages("alice", 1)) == 1
    assert srv.stop() == 0
    seg = sorted((srv.tmp / "spool").glob("S*.seg"))[-1]
    with open(seg, "ab") as f:  # what a crash in the middle of a write leaves behind
        f.write(b"RGM1 7FFFFFFFFFFFFFFF 20 5000 00000000\nqid 7FFFFFFFFFFFFFFF\nfrom")
    srv.start()
    assert "torn record" in srv.logtext()
    assert wait_queue_empty(srv)
    assert len(srv.messages("alice")) == 1


def test_segments_rotate_and_delivered_ones_are_removed(make_server):
    """spool-segment-size: the spool moves on to a new segment file when one is full, and a
    segment whose messages are all delivered is deleted (oldest first)."""
    srv = make_server("spool-segment-size 1M")
    body = "Subject: tok-0-%d\r\n\r\n" + ("z" * 998 + "\r\n") * 100  # ~100 KB
    with smtplib.SMTP("127.0.0.1", srv.port, source_address=("127.0.0.2", 0)) as s:
        for i in range(30):  # ~3 MB through 1 MB segments
            s.sendmail("a@outside.example", ["alice@example.test"], body % i)
    assert len(srv.wait_messages("alice", 30)) == 30
    assert wait_queue_empty(srv)
    # give the loop a moment to reap after the last done record
    deadline = time.time() + 5
    while time.time() < deadline and len(list((srv.tmp / "spool").glob("S*.seg"))) > 1:
        time.sleep(0.05)
    segs = sorted(p.name for p in (srv.tmp / "spool").glob("S*.seg"))
    assert len(segs) == 1 and segs[0] >= "S0000000000000003.seg", segs  # rotated, old ones gone
    assert srv.stop() == 0
    srv.start()
    starts = [l for l in srv.logtext().splitlines() if "server: started" in l]
    assert len(starts) == 2 and "recovered=0" in starts[1]  # nothing pending after the restart
