"""Remote delivery (issue 4): relayed mail goes out through a static route or the MX records
of a real DNS server (dnsmasq) to real SMTP servers on loopback (Postfix's smtp-sink, or a
scripted sink that records every byte). Temporary failures are retried; a slow server is
deferred; the message on the wire is dot-stuffed with CRLF only; kill -9 loses nothing."""
import smtplib

import pytest
from dnsserver import DnsServer
from remote_helpers import (OUTSIDE, TRUSTED, closed_port, common_port, conf, dsns, queue_count,
                            send, settle, wait_dsns, wait_queue_empty)
from sinks import Script, ScriptedSink, SmtpSink, bare_line_ends, wait_until
from smtp_helpers import expect, queued_id, session


def test_trusted_client_relays_through_route_outside_client_refused(make_server, raw, tmp_path):
    sink = SmtpSink(tmp_path, host="127.0.0.5")
    try:
        srv = make_server(conf("route example.net via %s" % sink.target))
        send(srv, "alice@example.test", ["carol@example.net", "dave@example.net"],
             subject="via route", body="first line\r\n.leading dot\r\n",
             mail_options=["BODY=8BITMIME"])
        msgs = sink.wait_messages(1)
        assert len(msgs) == 1, msgs
        m = msgs[0]
        assert m.mail_from == "alice@example.test"
        assert sorted(m.rcpts) == ["carol@example.net", "dave@example.net"]
        assert m.header("Subject") == "via route"
        assert m.data.endswith(b"\n\nfirst line\n.leading dot\n"), m.data  # smtp-sink unstuffs
        assert m.header("Received") is not None  # ours, added at reception
        assert wait_queue_empty(srv), srv.queue_list()

        # an outside client may not relay: refused at RCPT, nothing queued or sent
        c = session(raw, srv.port, "mail", source=OUTSIDE)
        expect(c.cmd("RCPT TO:<carol@example.net>"), 554, "5.7.1")
        expect(c.cmd("QUIT"), 221)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            send(srv, "x@outside.example", ["carol@example.net"], source=OUTSIDE)
        settle(1.0)
        assert len(sink.messages()) == 1
        assert queue_count(srv) == 0
    finally:
        sink.stop()


def test_route_star_is_a_smarthost_and_domain_route_wins(make_server, tmp_path):
    smart = SmtpSink(tmp_path, host="127.0.0.5")
    partner = SmtpSink(tmp_path, host="127.0.0.6")
    try:
        srv = make_server(conf("route * via %s" % smart.target,
                               "route partner.example via %s" % partner.target))
        send(srv, "alice@example.test", ["a@partner.example"], subject="to partner")
        send(srv, "alice@example.test", ["b@elsewhere.example"], subject="to smarthost")
        assert [m.rcpts for m in partner.wait_messages(1)] == [["a@partner.example"]]
        assert [m.rcpts for m in smart.wait_messages(1)] == [["b@elsewhere.example"]]
        assert wait_queue_empty(srv), srv.queue_list()
    finally:
        smart.stop()
        partner.stop()


# --- MX through a real DNS server -------------------------------------------------------------
# dnsmasq answers the zone "test" authoritatively (a name it was not given is NXDOMAIN)

MX1, MX2 = "127.0.0.5", "127.0.0.6"


def mx_server(make_server, tmp_path, port, **dns):
    d = DnsServer(tmp_path, **dns).start()
    try:
        # (conftest drops its dead default DNS server when a test gives one)
        srv = make_server(conf("dns-server %s" % d.server, "delivery port %d" % port))
    except Exception:
        d.stop()
        raise
    return d, srv


def two_mx(domain):
    return dict(mx=[(domain, "mx1." + domain, 10), (domain, "mx2." + domain, 20)],
                a=[("mx1." + domain, MX1), ("mx2." + domain, MX2)])


def test_mx_preferred_host_gets_the_mail(make_server, tmp_path):
    port = common_port([MX1, MX2])
    s1 = SmtpSink(tmp_path, host=MX1, port=port)
    s2 = SmtpSink(tmp_path, host=MX2, port=port)
    d, srv = mx_server(make_server, tmp_path, port, **two_mx("remote.test"))
    try:
        for i in range(3):
            send(srv, "alice@example.test", ["user%d@remote.test" % i], subject="mx %d" % i)
        assert len(s1.wait_messages(3)) == 3
        assert wait_queue_empty(srv), srv.queue_list()
        assert s2.messages() == []
    finally:
        s1.stop()
        s2.stop()
        d.stop()


def test_mx_preferred_host_down_then_the_next(make_server, tmp_path):
    port = common_port([MX1, MX2])  # nothing listens on MX1:port
    s2 = SmtpSink(tmp_path, host=MX2, port=port)
    d, srv = mx_server(make_server, tmp_path, port, **two_mx("remote.test"))
    try:
        send(srv, "alice@example.test", ["user@remote.test"], subject="backup mx")
        msgs = s2.wait_messages(1)
        assert [m.rcpts for m in msgs] == [["user@remote.test"]]
        assert wait_queue_empty(srv), srv.queue_list()
        assert dsns(srv, "alice") == []
    finally:
        s2.stop()
        d.stop()


def test_null_mx_bounces_with_5_1_10(make_server, tmp_path):
    d, srv = mx_server(make_server, tmp_path, closed_port("127.0.0.5"),
                       mx=[("nullmx.test", ".", 0)])
    try:
        send(srv, "alice@example.test", ["user@nullmx.test"], subject="to a null MX")
        got = wait_dsns(srv, "alice", 1)
        assert len(got) == 1
        r = got[0].rcpt("user@nullmx.test")
        assert r["action"] == "failed"
        assert r["status"] == "5.1.10"
        assert wait_queue_empty(srv), srv.queue_list()
    finally:
        d.stop()


def test_nxdomain_bounces(make_server, tmp_path):
    d, srv = mx_server(make_server, tmp_path, closed_port("127.0.0.5"),
                       **two_mx("remote.test"))
    try:
        send(srv, "alice@example.test", ["user@nonexistent.test"], subject="to nowhere")
        got = wait_dsns(srv, "alice", 1)
        assert len(got) == 1
        r = got[0].rcpt("user@nonexistent.test")
        assert r["action"] == "failed"
        assert r["status"].startswith("5."), r
        assert wait_queue_empty(srv), srv.queue_list()
    finally:
        d.stop()


def test_servfail_is_deferred_not_bounced(make_server, tmp_path):
    d, srv = mx_server(make_server, tmp_path, closed_port("127.0.0.5"),
                       servfail=["broken.test"])
    try:
        send(srv, "alice@example.test", ["user@broken.test"], subject="dns down")
        assert wait_until(lambda: "broken.test" in d.logtext(), 5), d.logtext()  # it asked
        settle(3.0)  # several retries (retry-min 1s, retry-max 2s)
        assert queue_count(srv) == 1, srv.queue_list()
        assert "user@broken.test" in srv.queue_list()
        assert srv.messages("alice") == []  # no DSN of any kind (delay-warning is off)
    finally:
        d.stop()


# --- temporary failures, timeouts --------------------------------------------------------------

def test_4xx_then_2xx_delivers_one_copy(make_server, tmp_path):
    sink = ScriptedSink(host="127.0.0.5", scripts=[Script(rcpt="451 4.3.0 try again later"),
                                                  Script()])
    try:
        srv = make_server(conf("route example.net via %s" % sink.target))
        send(srv, "alice@example.test", ["carol@example.net"], subject="retry me")
        assert len(sink.wait_delivered(1, timeout=8)) == 1
        assert wait_queue_empty(srv), srv.queue_list()
        settle(1.0)
        delivered = sink.delivered()
        assert len(delivered) == 1, delivered
        assert delivered[0].rcpts == ["carol@example.net"]
        assert b"Subject: retry me\r\n" in delivered[0].data
        # the first try: a pipelined DATA may follow the refused RCPT (RFC 2920), but no
        # message data, only RSET or QUIT after the sink refused the DATA
        first = sink.connections[0]
        assert first.transactions[0].data == b"" and not first.transactions[0].complete
        after = first.commands[first.commands.index("DATA") + 1:] if "DATA" in first.commands \
            else []
        assert all(c.upper() in ("RSET", "QUIT") for c in after), first.commands
        assert dsns(srv, "alice") == []
    finally:
        sink.stop()


def test_smtp_sink_4xx_on_rcpt_is_deferred_and_retried(make_server, tmp_path):
    sink = SmtpSink(tmp_path, host="127.0.0.5", args=["-v", "-r", "RCPT"])
    try:
        srv = make_server(conf("route example.net via %s" % sink.target))
        send(srv, "alice@example.test", ["carol@example.net"], subject="soft bounce")
        # smtp-sink -v logs each command it reads: two RCPTs are two attempts
        log = sink.logtext
        assert wait_until(lambda: log().lower().count("rcpt to:<carol@example.net>") >= 2, 8), \
            log()
        assert "smtp-sink: data" not in log().lower()
        assert queue_count(srv) == 1, srv.queue_list()
        assert sink.messages() == []
        assert srv.messages("alice") == []
    finally:
        sink.stop()


def test_dropped_mid_data_is_retried_and_delivered_once(make_server, tmp_path):
    sink = ScriptedSink(host="127.0.0.5", scripts=[Script(drop_after=100), Script()])
    try:
        srv = make_server(conf("route example.net via %s" % sink.target))
        body = "".join("line %03d of a message long enough to be cut\r\n" % i for i in range(40))
        send(srv, "alice@example.test", ["carol@example.net"], subject="cut", body=body)
        assert len(sink.wait_delivered(1, timeout=8)) == 1
        assert wait_queue_empty(srv), srv.queue_list()
        settle(1.0)
        txs = sink.transactions()
        assert [t.complete for t in txs] == [False, True], txs
        assert len(sink.delivered()) == 1
        assert sink.delivered()[0].unstuffed().endswith(body.encode())
        assert dsns(srv, "alice") == []
    finally:
        sink.stop()


def test_slow_sink_past_command_timeout_is_deferred(make_server, tmp_path):
    sink = SmtpSink(tmp_path, host="127.0.0.5", args=["-w", "3"])
    try:
        srv = make_server(conf("route example.net via %s" % sink.target).replace(
            "delivery command-timeout 3s", "delivery command-timeout 1s"))
        send(srv, "alice@example.test", ["carol@example.net"], subject="slow")
        # the DATA reply would come after 3 s; the client gives up after 1 s and tries again
        # later: smtp-sink opens one dump file per transaction (at MAIL), two files = two tries
        assert wait_until(lambda: len(list(sink.dir.iterdir())) >= 2, 8)
        assert queue_count(srv) == 1, srv.queue_list()
        assert sink.messages() == []
        assert srv.messages("alice") == []
    finally:
        sink.stop()


# --- outbound smuggling ------------------------------------------------------------------------

def test_outbound_is_dot_stuffed_crlf_only(make_server, raw, tmp_path):
    """Bare LFs accepted under `bare-newline normalise` become CRLF; a "." at the start of any
    line (including after a normalised bare LF, and a lone "." line made from "\\n.\\n") is
    doubled on the way out, so the sink sees one message holding the smuggled text."""
    sink = ScriptedSink(host="127.0.0.5")
    try:
        srv = make_server(conf("route example.net via %s" % sink.target,
                               "bare-newline normalise"))
        c = session(raw, srv.port, "rcpt", source=TRUSTED, mail_from="alice@example.test",
                    rcpt="victim@example.net")
        expect(c.cmd("DATA"), 354)
        c.send(b"Subject: smuggle\r\n\r\n"
               b"..leading dot\r\n"
               b"bare\n.after bare LF\r\n"
               b"cr\rmid\r\n"
               b"x\n.\n"
               b"MAIL FROM:<evil@outside.example>\r\nRCPT TO:<other@example.net>\r\nDATA\r\n"
               b"smuggled\r\n"
               b"...two dots\r\n"
               b".\r\n")
        queued_id(c.reply())
        expect(c.cmd("QUIT"), 221)
        got = sink.wait_delivered(1)
        assert wait_queue_empty(srv), srv.queue_list()
        settle(0.5)
        assert len(sink.transactions()) == 1, sink.transactions()
        tx = sink.transactions()[0]
        assert tx.rcpts == ["victim@example.net"]
        wire = tx.data
        assert bare_line_ends(wire) == [], wire
        for conn in sink.connections:
            assert bare_line_ends(conn.received) == [], conn.received
        assert b"\r\n..leading dot\r\n" in wire
        assert b"bare\r\n..after bare LF\r\n" in wire
        assert b"cr\r\nmid\r\n" in wire
        assert b"x\r\n..\r\nMAIL FROM:<evil@outside.example>\r\n" in wire
        assert b"\r\n...two dots\r\n" in wire
        assert all(not l.startswith(b".") or l.startswith(b"..") for l in wire.split(b"\r\n"))
        assert got[0].unstuffed().endswith(b"smuggled\r\n..two dots\r\n")
    finally:
        sink.stop()


# --- kill -9 during remote delivery -----------------------------------------------------------

BATCH = 20


def test_kill9_during_remote_delivery_loses_nothing(make_server, tmp_path):
    sink = SmtpSink(tmp_path, host="127.0.0.5", args=["-w", "3"])
    try:
        srv = make_server(conf("route example.net via %s" % sink.target,
                               "delivery destination-concurrency %d" % BATCH).replace(
            "delivery command-timeout 3s", "delivery command-timeout 10s"))
        with smtplib.SMTP("127.0.0.1", srv.port, source_address=(TRUSTED, 0), timeout=10) as s:
            for i in range(BATCH):
                s.sendmail("alice@example.test", ["carol@example.net"],
                           "Subject: tok-%02d\r\n\r\nbody tok-%02d\r\n" % (i, i))
        # a transaction is open at the sink (its dump file exists from MAIL on): in flight
        assert wait_until(lambda: any(sink.dir.iterdir()), 5)
        assert sink.messages() == []  # nothing finished yet: the DATA reply comes after 3 s
        srv.kill9()
        srv.start()

        def tokens():
            return {m.header("Subject") for m in sink.messages()}
        want = {"tok-%02d" % i for i in range(BATCH)}
        wait_until(lambda: tokens() >= want, 15, step=0.1)
        assert sorted(want - tokens()) == []
        assert wait_queue_empty(srv), srv.queue_list()
    finally:
        sink.stop()


def test_destination_concurrency_limits_simultaneous_sessions(make_server, tmp_path):
    # every session takes 0.4 s at the final dot: with destination-concurrency 1 the sink must
    # never see two sessions at once
    sink = ScriptedSink(host="127.0.0.5", scripts=[Script(delay={".": 0.4})])
    try:
        srv = make_server(conf("route example.net via %s" % sink.target,
                               "delivery destination-concurrency 1"))
        for i in range(3):
            send(srv, "alice@example.test", ["carol@example.net"], subject="conc %d" % i)
        assert len(sink.wait_delivered(3, timeout=10)) == 3
        assert wait_until(lambda: all(c.closed for c in sink.connections), 5)
        spans = sorted((c.opened, c.closed) for c in sink.connections)
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start >= end - 0.05, spans
    finally:
        sink.stop()


def test_destination_rate_delay_spaces_connections(make_server, tmp_path):
    sink = ScriptedSink(host="127.0.0.5")
    try:
        srv = make_server(conf("route example.net via %s" % sink.target,
                               "delivery destination-rate-delay 1s"))
        for i in range(3):
            send(srv, "alice@example.test", ["carol@example.net"], subject="pace %d" % i)
        assert len(sink.wait_delivered(3, timeout=10)) == 3
        starts = sorted(c.opened for c in sink.connections)
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        assert len(starts) == 3 and all(g >= 0.9 for g in gaps), gaps
    finally:
        sink.stop()


def test_total_concurrency_spans_destinations(make_server, tmp_path):
    # two next hops, each session 0.4 s long: with delivery concurrency 1 no two sessions to
    # either sink ever overlap
    slow = [Script(delay={".": 0.4})]
    a = ScriptedSink(host="127.0.0.5", scripts=slow)
    b = ScriptedSink(host="127.0.0.6", scripts=slow)
    try:
        srv = make_server(conf("route example.net via %s" % a.target,
                               "route example.org via %s" % b.target,
                               "delivery concurrency 1"))
        for i in range(2):
            send(srv, "alice@example.test", ["carol@example.net"], subject="n %d" % i)
            send(srv, "alice@example.test", ["dave@example.org"], subject="o %d" % i)
        assert len(a.wait_delivered(2, timeout=10)) == 2
        assert len(b.wait_delivered(2, timeout=10)) == 2
        conns = a.connections + b.connections
        assert wait_until(lambda: all(c.closed for c in conns), 5)
        spans = sorted((c.opened, c.closed) for c in conns)
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start >= end - 0.05, spans
    finally:
        a.stop()
        b.stop()
