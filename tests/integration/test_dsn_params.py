"""The DSN extension (RFC 3461) on the receiving side: EHLO offers DSN; MAIL takes RET and
ENVID, RCPT takes NOTIFY and ORCPT; malformed or repeated ones get 501 5.5.4, unknown ones
still 555 5.5.4; what was accepted is stored in the spool with the message (and survives a
restart), as `relayguard queue list` shows."""
import re

import pytest
from smtp_helpers import TRUSTED, expect, queued_id, session

MSG = b"Subject: dsn\r\n\r\nhello\r\n.\r\n"
# Relayed recipients stay queued; the static route points at a closed port so that a delivery
# attempt, once remote delivery runs, only defers them.
ROUTE = "route * via 127.0.0.1:9"


def test_ehlo_advertises_dsn(server, raw):
    c = session(raw, server.port, "banner")
    lines = [l[4:] for l in expect(c.cmd("EHLO client.example"), 250).split("\n")]
    assert "DSN" in lines[1:], lines


ACCEPTED = [
    ("rfc3461-4.3-RET-FULL", "ehlo", "MAIL FROM:<x@outside.example> RET=FULL", 250, "2.1.0"),
    ("rfc3461-4.3-RET-HDRS-lower-case", "ehlo", "MAIL FROM:<x@outside.example> ret=hdrs", 250, "2.1.0"),
    ("rfc3461-4.4-ENVID", "ehlo", "MAIL FROM:<x@outside.example> ENVID=QQ314159", 250, "2.1.0"),
    ("rfc3461-4.4-ENVID-hexchar", "ehlo", "MAIL FROM:<x@outside.example> ENVID=a+2Bb+3D", 250, "2.1.0"),
    ("rfc3461-4.4-ENVID-100-chars", "ehlo", "MAIL FROM:<x@outside.example> ENVID=" + "e" * 100, 250, "2.1.0"),
    ("rfc3461-RET-ENVID-SIZE", "ehlo", "MAIL FROM:<> SIZE=100 RET=HDRS ENVID=id1", 250, "2.1.0"),
    ("rfc3461-4.1-NOTIFY-NEVER", "mail", "RCPT TO:<alice@example.test> NOTIFY=NEVER", 250, "2.1.5"),
    ("rfc3461-4.1-NOTIFY-list", "mail", "RCPT TO:<alice@example.test> NOTIFY=SUCCESS,FAILURE,DELAY", 250, "2.1.5"),
    ("rfc3461-4.2-ORCPT", "mail", "RCPT TO:<alice@example.test> ORCPT=rfc822;alice@example.test", 250, "2.1.5"),
    ("rfc3461-4.2-ORCPT-hexchar", "mail", "RCPT TO:<alice@example.test> ORCPT=rfc822;A+2Bb@example.test", 250, "2.1.5"),
    ("rfc3461-NOTIFY-ORCPT", "mail", "RCPT TO:<alice@example.test> NOTIFY=FAILURE ORCPT=rfc822;a@b.example", 250, "2.1.5"),
]

MALFORMED = [
    ("RET-unknown-value", "ehlo", "MAIL FROM:<x@outside.example> RET=BODY"),
    ("RET-without-value", "ehlo", "MAIL FROM:<x@outside.example> RET"),
    ("RET-twice", "ehlo", "MAIL FROM:<x@outside.example> RET=FULL RET=HDRS"),
    ("ENVID-101-chars", "ehlo", "MAIL FROM:<x@outside.example> ENVID=" + "e" * 101),
    ("ENVID-lower-case-hex", "ehlo", "MAIL FROM:<x@outside.example> ENVID=a+2b"),
    ("ENVID-decodes-to-CRLF", "ehlo", "MAIL FROM:<x@outside.example> ENVID=a+0D+0Ab"),
    ("ENVID-empty", "ehlo", "MAIL FROM:<x@outside.example> ENVID="),
    ("ENVID-twice", "ehlo", "MAIL FROM:<x@outside.example> ENVID=a ENVID=b"),
    ("NOTIFY-NEVER-combined", "mail", "RCPT TO:<alice@example.test> NOTIFY=NEVER,FAILURE"),
    ("NOTIFY-unknown-kind", "mail", "RCPT TO:<alice@example.test> NOTIFY=ALWAYS"),
    ("NOTIFY-repeated-kind", "mail", "RCPT TO:<alice@example.test> NOTIFY=DELAY,DELAY"),
    ("NOTIFY-empty-item", "mail", "RCPT TO:<alice@example.test> NOTIFY=FAILURE,,DELAY"),
    ("NOTIFY-twice", "mail", "RCPT TO:<alice@example.test> NOTIFY=FAILURE NOTIFY=DELAY"),
    ("ORCPT-without-addr-type", "mail", "RCPT TO:<alice@example.test> ORCPT=alice@example.test"),
    ("ORCPT-empty-address", "mail", "RCPT TO:<alice@example.test> ORCPT=rfc822;"),
    ("ORCPT-bad-xtext", "mail", "RCPT TO:<alice@example.test> ORCPT=rfc822;a+zz@b"),
    ("ORCPT-decodes-to-LF", "mail", "RCPT TO:<alice@example.test> ORCPT=rfc822;a+0A@b"),
    ("ORCPT-over-500", "mail", "RCPT TO:<alice@example.test> ORCPT=rfc822;" + "o" * 494),
    ("ORCPT-twice", "mail", "RCPT TO:<alice@example.test> ORCPT=rfc822;a@b ORCPT=rfc822;c@d"),
]

UNKNOWN = [
    ("unknown-beside-DSN-on-MAIL", "ehlo", "MAIL FROM:<x@outside.example> RET=FULL FOO=1"),
    ("unknown-beside-DSN-on-RCPT", "mail", "RCPT TO:<alice@example.test> NOTIFY=NEVER FOO"),
    ("MAIL-parameter-on-RCPT", "mail", "RCPT TO:<alice@example.test> RET=FULL"),
    ("RCPT-parameter-on-MAIL", "ehlo", "MAIL FROM:<x@outside.example> NOTIFY=NEVER"),
]


@pytest.mark.parametrize("state,command,code,enh", [pytest.param(*r[1:], id=r[0]) for r in ACCEPTED])
def test_parameters_accepted(server, raw, state, command, code, enh):
    c = session(raw, server.port, state)
    expect(c.cmd(command), code, enh)


@pytest.mark.parametrize("state,command", [pytest.param(*r[1:], id=r[0]) for r in MALFORMED])
def test_malformed_parameters_get_501(server, raw, state, command):
    c = session(raw, server.port, state)
    expect(c.cmd(command), 501, "5.5.4")
    expect(c.cmd("NOOP"), 250, "2.0.0")  # the session goes on


@pytest.mark.parametrize("state,command", [pytest.param(*r[1:], id=r[0]) for r in UNKNOWN])
def test_unknown_parameters_still_get_555(server, raw, state, command):
    c = session(raw, server.port, state)
    expect(c.cmd(command), 555, "5.5.4")


def send(srv, raw, mail, rcpts, rset_first=None):
    """One transaction from the trusted host; rcpts are (command tail, expected code)."""
    c = session(raw, srv.port, "ehlo", source=TRUSTED)
    if rset_first:
        expect(c.cmd(rset_first), 250, "2.1.0")
        expect(c.cmd("RSET"), 250, "2.0.0")
    expect(c.cmd(mail), 250, "2.1.0")
    for tail, code in rcpts:
        expect(c.cmd("RCPT TO:" + tail), code)
    expect(c.cmd("DATA"), 354)
    c.send(MSG)
    qid = queued_id(c.reply())
    expect(c.cmd("QUIT"), 221)
    return qid


def message_block(listing, qid):
    """The queue list lines of one message: its own line and its recipients' lines."""
    m = re.search(r"(?m)^%s .*\n(?:    .*\n)*" % re.escape(qid), listing)
    assert m, listing
    return m.group(0)


def test_accepted_parameters_are_spooled_and_survive_restart(make_server, raw):
    srv = make_server(ROUTE)
    qid = send(srv, raw, "MAIL FROM:<alice@example.test> RET=HDRS ENVID=QQ+2B1",
               [("<friend@remote.example> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;Friend+2Bx@remote.example", 250),
                ("<plain@remote.example>", 250),
                ("<never@remote.example> NOTIFY=never", 250)])
    for attempt in ("running", "restarted"):
        block = message_block(srv.queue_list(), qid)
        head, *rcpts = block.rstrip("\n").split("\n")
        assert head.endswith(" <alice@example.test> ret=HDRS envid=QQ+2B1"), (attempt, head)
        assert re.fullmatch(r"\s+relay\s+<friend@remote\.example>\s+rule=local-host "
                            r"notify=SUCCESS,DELAY orcpt=rfc822;Friend\+2Bx@remote\.example", rcpts[0]), rcpts
        assert re.fullmatch(r"\s+relay\s+<plain@remote\.example>\s+rule=local-host", rcpts[1]), rcpts
        assert re.fullmatch(r"\s+relay\s+<never@remote\.example>\s+rule=local-host notify=NEVER", rcpts[2]), rcpts
        if attempt == "running":
            assert srv.stop() == 0
            srv.start()


def test_rset_forgets_ret_and_envid_and_a_refused_rcpt_is_not_stored(make_server, raw):
    srv = make_server(ROUTE)
    qid = send(srv, raw, "MAIL FROM:<alice@example.test>",
               [("<bad@remote.example> NOTIFY=NEVER,DELAY", 501),
                ("<good@remote.example> ORCPT=rfc822;good@remote.example", 250)],
               rset_first="MAIL FROM:<alice@example.test> RET=FULL ENVID=old")
    block = message_block(srv.queue_list(), qid)
    head, *rcpts = block.rstrip("\n").split("\n")
    assert "ret=" not in head and "envid=" not in head, head
    assert len(rcpts) == 1 and "<good@remote.example>" in rcpts[0], rcpts
    assert rcpts[0].endswith(" orcpt=rfc822;good@remote.example") and "notify=" not in rcpts[0]
