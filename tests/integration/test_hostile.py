"""Hostile clients (issue 9): connection floods, slow and non-reading clients, endless lines,
command floods, thousands of RCPTs, huge headers. In every case the abuser gets the right reply
or a clean close, the server's memory stays bounded, and a normal client sends a real message
in the middle that is delivered. Every load loop is bounded in count and time."""
import smtplib
import socket
import time

from smtp_helpers import expect, session, wait_log


def rss_kib(srv):
    """The server's resident memory (VmRSS of /proc/PID/status), KiB."""
    for line in open("/proc/%d/status" % srv.proc.pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def send_real_message(srv, n, source="127.0.0.9"):
    """A normal client sends message n to alice; it must be delivered."""
    with smtplib.SMTP("127.0.0.1", srv.port, source_address=(source, 0), timeout=10) as s:
        s.sendmail("good@outside.example", ["alice@example.test"],
                   "Subject: normal %d\r\n\r\nhello\r\n" % n)
    msgs = srv.wait_messages("alice", n)
    assert any(("Subject: normal %d" % n).encode() in m.read_bytes() for m in msgs), n


def test_flood_from_one_ip_hits_max_sessions_per_ip(make_server, raw):
    srv = make_server("limit max-sessions-per-ip 3")
    assert wait_log(srv, "smtp: disconnect session=1 ")  # the fixture's start-up probe
    held = [session(raw, srv.port, "ehlo") for _ in range(3)]
    for _ in range(5):  # the flood: every further session from 127.0.0.2 is refused
        c = raw(srv.port)
        expect(c.reply(), 421, "4.7.0", "from your address")
        assert c.closed()
    send_real_message(srv, 1)  # another address is not affected
    trusted = [session(raw, srv.port, "banner", source="127.0.0.1") for _ in range(5)]
    expect(trusted[-1].cmd("NOOP"), 250)  # trusted networks are exempt
    assert srv.logtext().count("smtp: too many sessions from one client") == 5
    expect(held[0].cmd("QUIT"), 221)
    assert held[0].closed()
    assert wait_log(srv, "smtp: disconnect session=2 ")
    session(raw, srv.port, "ehlo")  # a slot of 127.0.0.2 is free again
    expect(held[1].cmd("NOOP"), 250)


def test_flood_from_many_ips_hits_max_sessions(make_server, raw):
    srv = make_server("limit max-sessions 20")
    assert wait_log(srv, "smtp: disconnect session=1 ")
    normal = smtplib.SMTP("127.0.0.1", srv.port, source_address=("127.0.0.9", 0), timeout=10)
    normal.ehlo("normal.example")
    got = {220: 0, 421: 0}
    conns = []
    for i in range(2, 51):  # 49 sources, 127.0.0.2 .. 127.0.0.50, one session each
        c = raw(srv.port, source="127.0.0.%d" % i)
        code, text = c.reply()
        got[code] += 1
        if code == 421:
            assert "4.7.0" in text and c.closed()
        conns.append(c)
    assert got == {220: 19, 421: 30}, got  # 19 + the normal client = 20
    normal.sendmail("good@outside.example", ["alice@example.test"],
                    "Subject: normal 1\r\n\r\nhello\r\n")
    normal.quit()
    assert srv.wait_messages("alice", 1)
