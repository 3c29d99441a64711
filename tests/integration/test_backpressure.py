"""Back-pressure (issue 9): when messages pile up in the queue (here: local delivery goes to an
LMTP server that is down), new sessions wait longer and longer for their banner from limit
queue-pressure on, and are refused with 421 4.3.2 at limit queue-refuse; both show in the
metrics."""
import smtplib
import time

from conftest import free_port
from smtp_helpers import expect, wait_log
from test_metrics import scrape, value


def send(srv, n):
    """Message n from an outside client; returns how long the banner took (s)."""
    start = time.time()
    s = smtplib.SMTP(timeout=10)
    s.source_address = ("127.0.0.2", 0)
    s.connect("127.0.0.1", srv.port)
    banner = time.time() - start
    s.sendmail("a@outside.example", ["alice@example.test"], "Subject: %d\r\n\r\nx\r\n" % n)
    s.quit()
    return banner


def test_banner_slows_then_sessions_are_refused(make_server, raw):
    dead, mport = free_port(), free_port()
    srv = make_server("local-delivery lmtp 127.0.0.1:%d\nmetrics-listen 127.0.0.1:%d\n"
                      "limit queue-pressure 2\nlimit queue-refuse 4\n"
                      "limit queue-pressure-delay 2s" % (dead, mport))
    delays = [send(srv, n) for n in range(4)]  # queued before each: 0, 1, 2, 3
    assert delays[0] < 0.5 and delays[1] < 0.5, delays
    assert 0.8 < delays[2] < 1.8, delays  # 1 s at 2 queued (half the way to 4) ...
    assert 1.8 < delays[3] < 3.0, delays  # ... the full 2 s at 3, the last count before 4
    assert delays[3] > delays[2]
    assert wait_log(srv, "smtp: banner delayed by back-pressure", "queued=3", "delay_ms=2000")
    s = scrape(mport)
    assert value(s, "relayguard_backpressure_delay_seconds") == 2.0
    c = raw(srv.port)  # 4 queued: refused
    expect(c.reply(), 421, "4.3.2", "queued")
    assert c.closed()
    assert wait_log(srv, "smtp: queue full, session refused", "queued=4", "limit=4")
    s = scrape(mport)
    assert value(s, "relayguard_smtp_sessions_rejected_total", reason="queue-refuse") == 1
    assert value(s, "relayguard_queue_messages") == 4
