"""The RFC 5321 conversation, as an outside client (127.0.0.2) sees it: banner, EHLO
extensions, every reply code with its enhanced status code (RFC 3463 / RFC 2034), the
limits, timeouts, pipelining (RFC 2920), trace headers (RFC 5321 4.4), dot-stuffing
(4.5.2), SMTPUTF8 (RFC 6531), 8BITMIME (RFC 6152) and the log lines about a message."""
import re
import smtplib
import threading
import time

import pytest
from conftest import BASE_CONF
from smtp_helpers import (OUTSIDE, body_of, expect, field, log_lines, queued_id, rcpt_decisions,
                          read_message, session, wait_log)

MSG = b"Subject: test\r\n\r\nhello\r\n.\r\n"


def conf_with(**limits):
    """BASE_CONF with some of its own limit lines changed (a limit may appear only once)."""
    text = BASE_CONF
    for name, value in limits.items():
        name = name.replace("_", "-")
        text, n = re.subn(r"(?m)^limit %s .*$" % name, "limit %s %s" % (name, value), text)
        assert n == 1, name
    return text


# ---- greeting and EHLO ----------------------------------------------------------------------

def test_banner_is_220_with_hostname(server, raw):
    c = raw(server.port)
    code, text = c.reply()
    assert code == 220 and text.startswith("220 mx.example.test ")


@pytest.mark.parametrize("keyword", [
    pytest.param("PIPELINING", id="rfc2920-PIPELINING"),
    pytest.param("SIZE 10485760", id="rfc1870-SIZE-limit"),
    pytest.param("8BITMIME", id="rfc6152-8BITMIME"),
    pytest.param("ENHANCEDSTATUSCODES", id="rfc2034-ENHANCEDSTATUSCODES"),
    pytest.param("SMTPUTF8", id="rfc6531-SMTPUTF8"),
])
def test_ehlo_advertises(server, raw, keyword):
    c = session(raw, server.port, "banner")
    text = expect(c.cmd("EHLO client.example"), 250)
    lines = [l[4:] for l in text.split("\n")]
    assert lines[0].startswith("mx.example.test")
    assert keyword in lines[1:], text


def test_ehlo_size_follows_configured_limit(make_server, raw):
    srv = make_server("limit message-size 2M")
    c = session(raw, srv.port, "banner")
    assert "250-SIZE 2097152" in expect(c.cmd("EHLO client.example"), 250).split("\n")


def test_helo_works_for_a_whole_transaction(server, raw):
    """RFC 5321 4.1.1.1: HELO is still a valid greeting; mail flows after it."""
    c = session(raw, server.port, "banner")
    code, text = c.cmd("HELO oldclient.example")
    assert code == 250 and text == "250 mx.example.test"
    expect(c.cmd("MAIL FROM:<x@outside.example>"), 250, "2.1.0")
    expect(c.cmd("RCPT TO:<alice@example.test>"), 250, "2.1.5")
    expect(c.cmd("DATA"), 354)
    c.send(MSG)
    queued_id(c.reply())
    (msg,) = server.wait_messages("alice", 1)
    headers, _ = read_message(msg)
    assert "from oldclient.example ([127.0.0.2])" in headers["received"]
    assert " with SMTP " in headers["received"]


# ---- every reply code -----------------------------------------------------------------------
# (row id, state the session is in, command, code, enhanced code)

SEQUENCE = [
    ("rfc5321-4.1.4-MAIL-before-HELO", "banner", "MAIL FROM:<x@outside.example>", 503, "5.5.1"),
    ("rfc5321-4.1.4-RCPT-before-MAIL", "ehlo", "RCPT TO:<alice@example.test>", 503, "5.5.1"),
    ("rfc5321-4.1.4-DATA-before-MAIL", "ehlo", "DATA", 503, "5.5.1"),
    ("rfc5321-4.1.4-DATA-before-RCPT", "mail", "DATA", 503, "5.5.1"),
    ("rfc5321-4.1.4-nested-MAIL", "mail", "MAIL FROM:<y@outside.example>", 503, "5.5.1"),
    ("rfc5321-4.1.4-nested-MAIL-after-RCPT", "rcpt", "MAIL FROM:<y@outside.example>", 503, "5.5.1"),
]

SYNTAX = [
    ("rfc5321-4.1.1.2-MAIL-without-FROM", "ehlo", "MAIL <x@outside.example>", 501, "5.5.2"),
    ("rfc5321-4.1.1.3-RCPT-without-TO", "mail", "RCPT <alice@example.test>", 501, "5.5.2"),
    ("rfc5321-4.1.2-sender-without-brackets", "ehlo", "MAIL FROM:x@outside.example", 501, "5.1.7"),
    ("rfc5321-4.1.2-sender-with-space", "ehlo", "MAIL FROM:<x y@outside.example>", 501, "5.1.7"),
    ("rfc5321-4.1.2-sender-junk-after-path", "ehlo", "MAIL FROM:<x@outside.example>junk", 501, "5.1.7"),
    ("rfc5321-4.1.2-sender-bad-domain", "ehlo", "MAIL FROM:<x@-bad-.example>", 501, "5.1.7"),
    ("rfc5321-4.5.3.1.1-sender-local-part-65", "ehlo", "MAIL FROM:<%s@outside.example>" % ("a" * 65), 501, "5.1.7"),
    ("rfc5321-4.1.2-recipient-without-brackets", "mail", "RCPT TO:alice@example.test", 501, "5.1.3"),
    ("rfc5321-4.1.2-recipient-double-at", "mail", "RCPT TO:<alice@@example.test>", 501, "5.1.3"),
    ("rfc5321-4.1.2-recipient-bad-domain", "mail", "RCPT TO:<alice@exa_mple.test>", 501, "5.1.3"),
    ("rfc5321-4.1.2-recipient-empty-label", "mail", "RCPT TO:<alice@example..test>", 501, "5.1.3"),
    ("rfc5321-4.1.2-recipient-unclosed", "mail", "RCPT TO:<alice@example.test", 501, "5.1.3"),
    ("rfc5321-4.1.1.4-DATA-with-argument", "rcpt", "DATA now", 501, "5.5.4"),
    ("rfc5321-4.1.1.1-EHLO-without-argument", "banner", "EHLO", 501, "5.5.4"),
    ("rfc5321-4.1.1.1-HELO-without-argument", "banner", "HELO", 501, "5.5.4"),
    ("rfc5321-4.1.1.5-RSET-with-argument", "ehlo", "RSET all", 501, "5.5.4"),
    ("rfc5321-4.1.1.10-QUIT-with-argument", "ehlo", "QUIT now", 501, "5.5.4"),
    ("rfc5321-4.1.1.6-VRFY-without-argument", "ehlo", "VRFY", 501, "5.5.4"),
    ("rfc1870-SIZE-not-a-number", "ehlo", "MAIL FROM:<x@outside.example> SIZE=big", 501, "5.5.4"),
    ("rfc6152-BODY-unknown-value", "ehlo", "MAIL FROM:<x@outside.example> BODY=9BIT", 501, "5.5.4"),
    ("rfc5321-4.1.1.2-unqualified-sender", "ehlo", "MAIL FROM:<x>", 553, "5.1.7"),
    ("rfc5321-4.5.3.1.3-sender-path-over-256", "ehlo", "MAIL FROM:<x@%s.test>" % ".".join(["a" * 60] * 5), 501, "5.1.7"),
    ("rfc5321-4.5.3.1.3-recipient-path-over-256", "mail", "RCPT TO:<x@%s.test>" % ".".join(["a" * 60] * 5), 501, "5.1.3"),
    ("rfc5321-4.1.1.1-EHLO-two-words", "banner", "EHLO client example", 501, "5.5.4"),
    ("rfc5321-4.5.3.1.2-EHLO-name-over-255", "banner", "EHLO " + "h" * 256, 501, "5.5.4"),
    ("rfc1870-SIZE-twice", "ehlo", "MAIL FROM:<x@outside.example> SIZE=10 SIZE=20", 501, "5.5.4"),
    ("rfc6531-SMTPUTF8-takes-no-value", "ehlo", "MAIL FROM:<x@outside.example> SMTPUTF8=yes", 501, "5.5.4"),
]

UNKNOWN = [
    ("rfc5321-4.2.4-unknown-command", "ehlo", "FOO bar", 500, "5.5.1"),
    ("rfc5321-4.2.4-unknown-verb-prefix", "ehlo", "MAILX FROM:<x@outside.example>", 500, "5.5.1"),
    ("rfc5321-4.2.4-unknown-before-HELO", "banner", "TURN", 500, "5.5.1"),
    ("rfc5321-4.1.1.11-MAIL-unknown-parameter", "ehlo", "MAIL FROM:<x@outside.example> FOO=BAR", 555, "5.5.4"),
    ("rfc5321-4.5.3.1.10-unknown-local-user", "mail", "RCPT TO:<nosuchuser@example.test>", 550, "5.1.1"),
    ("rfc5321-4.5.3.1.10-bob-only-in-example.test", "mail", "RCPT TO:<bob@localhost>", 550, "5.1.1"),
    ("rfc1870-SIZE-over-limit-at-MAIL", "ehlo", "MAIL FROM:<x@outside.example> SIZE=10485761", 552, "5.3.4"),
    ("rfc1870-SIZE-huge-at-MAIL", "ehlo", "MAIL FROM:<x@outside.example> SIZE=1000000000000", 552, "5.3.4"),
    ("rfc6531-3.4-utf8-sender-without-SMTPUTF8", "ehlo", "MAIL FROM:<\u00fc@example.test>", 553, "5.6.7"),
    ("rfc6531-3.4-utf8-recipient-without-SMTPUTF8", "mail", "RCPT TO:<\u00fc@example.test>", 553, "5.6.7"),
]

OK = [
    ("rfc5321-4.1.1.9-NOOP", "banner", "NOOP", 250, "2.0.0"),
    ("rfc5321-4.1.1.9-NOOP-with-argument", "ehlo", "NOOP anything", 250, "2.0.0"),
    ("rfc5321-4.1.1.5-RSET", "rcpt", "RSET", 250, "2.0.0"),
    ("rfc5321-4.1.1.8-HELP", "banner", "HELP", 214, "2.0.0"),
    ("rfc5321-4.1.1.8-HELP-topic", "ehlo", "HELP MAIL", 214, "2.0.0"),
    ("rfc5321-3.5.3-VRFY", "ehlo", "VRFY alice", 252, "2.5.2"),
    ("rfc5321-3.5.3-EXPN", "ehlo", "EXPN alice", 252, "2.5.2"),
    ("rfc1870-SIZE-at-limit-at-MAIL", "ehlo", "MAIL FROM:<x@outside.example> SIZE=10485760", 250, "2.1.0"),
    ("rfc6152-BODY-8BITMIME", "ehlo", "MAIL FROM:<x@outside.example> BODY=8BITMIME", 250, "2.1.0"),
    ("rfc6152-BODY-7BIT", "ehlo", "MAIL FROM:<x@outside.example> BODY=7BIT", 250, "2.1.0"),
    ("rfc6531-3.4-utf8-sender-with-SMTPUTF8", "ehlo", "MAIL FROM:<\u00fc@example.test> SMTPUTF8", 250, "2.1.0"),
    ("rfc5321-4.1.1.2-null-sender", "ehlo", "MAIL FROM:<>", 250, "2.1.0"),
    ("rfc5321-4.1.1.2-space-after-colon-tolerated", "ehlo", "MAIL FROM: <x@outside.example>", 250, "2.1.0"),
    ("rfc5321-2.4-verbs-case-insensitive", "ehlo", "mail from:<x@outside.example>", 250, "2.1.0"),
    ("rfc5321-4.1.1.3-local-user", "mail", "RCPT TO:<alice@example.test>", 250, "2.1.5"),
    ("rfc5321-2.4-local-part-case-insensitive-here", "mail", "RCPT TO:<ALICE@Example.Test>", 250, "2.1.5"),
    ("rfc5321-4.1.1.4-DATA", "rcpt", "DATA", 354, None),
    ("rfc5321-4.5.3.1.2-EHLO-name-255", "banner", "EHLO " + "h" * 255, 250, None),
    ("rfc5321-4.1.3-EHLO-address-literal", "banner", "EHLO [127.0.0.2]", 250, None),
]


@pytest.mark.parametrize("state,command,code,enh",
                         [pytest.param(*row[1:], id=row[0]) for row in SEQUENCE + SYNTAX + UNKNOWN + OK])
def test_reply_codes(server, raw, state, command, code, enh):
    c = session(raw, server.port, state)
    expect(c.cmd(command), code, enh)
    # whatever the reply, the session goes on
    expect(c.cmd("NOOP") if code != 354 else (c.send(MSG) or c.reply()), 250, "2.0.0")


@pytest.mark.parametrize("rcpt,code,enh", [
    pytest.param("nosuchuser@example.test", 550, "5.1.1", id="rfc5321-3.3-after-unknown-user"),
    pytest.param("x@external.example", 554, "5.7.1", id="rfc5321-3.3-after-relay-denied"),
    pytest.param("alice@@example.test", 501, "5.1.3", id="rfc5321-3.3-after-bad-syntax"),
])
def test_data_when_every_recipient_was_rejected(server, raw, rcpt, code, enh):
    """RFC 5321 3.3: DATA after RCPTs that were all refused: 554 "no valid recipients"."""
    c = session(raw, server.port, "mail")
    expect(c.cmd("RCPT TO:<%s>" % rcpt), code, enh)
    expect(c.cmd("DATA"), 554, "5.5.1")
    expect(c.cmd("NOOP"), 250, "2.0.0")


def test_pipelined_data_after_only_refused_recipients(server, raw):
    """RFC 2920 3.1: a client that pipelines DATA cannot know the RCPTs failed; the server
    answers 554 and does not go into DATA."""
    c = session(raw, server.port)
    c.send(b"MAIL FROM:<x@outside.example>\r\nRCPT TO:<nosuchuser@example.test>\r\nDATA\r\n")
    expect(c.reply(), 250, "2.1.0")
    expect(c.reply(), 550, "5.1.1")
    expect(c.reply(), 554, "5.5.1")
    expect(c.cmd("RSET"), 250, "2.0.0")
    assert not log_lines(server, "smtp: message")


def test_unknown_command_is_500_before_and_after_helo(server, raw):
    c = session(raw, server.port, "banner")
    expect(c.cmd("XYZZY"), 500, "5.5.1")
    expect(c.cmd("EHLO client.example"), 250)
    expect(c.cmd("XYZZY"), 500, "5.5.1")


def test_vrfy_and_expn_disclose_nothing(server, raw):
    """RFC 5321 3.5.3 / 7.3: the same 252 for a real user and for nobody."""
    c = session(raw, server.port)
    replies = {}
    for verb in ("VRFY", "EXPN"):
        for who in ("alice", "nosuchuser", "alice@example.test", "nosuchuser@example.test"):
            code, text = c.cmd("%s %s" % (verb, who))
            expect((code, text), 252, "2.5.2")
            assert who.split("@")[0] not in text
            replies.setdefault(verb, set()).add(text)
    assert len(replies["VRFY"]) == 1 and len(replies["EXPN"]) == 1, replies


def test_help_is_214_multiline(server, raw):
    c = session(raw, server.port)
    text = expect(c.cmd("HELP"), 214, "2.0.0")
    for verb in ("EHLO", "MAIL", "RCPT", "DATA", "QUIT"):
        assert verb in text


def test_rset_clears_the_transaction(server, raw):
    c = session(raw, server.port, "rcpt")
    expect(c.cmd("RSET"), 250, "2.0.0")
    expect(c.cmd("RCPT TO:<alice@example.test>"), 503, "5.5.1")
    expect(c.cmd("DATA"), 503, "5.5.1")
    expect(c.cmd("MAIL FROM:<x@outside.example>"), 250, "2.1.0")  # not "nested" any more


def test_ehlo_again_clears_the_transaction(server, raw):
    """RFC 5321 4.1.4: EHLO in a transaction resets it like RSET."""
    c = session(raw, server.port, "rcpt")
    expect(c.cmd("EHLO client.example"), 250)
    expect(c.cmd("RCPT TO:<alice@example.test>"), 503, "5.5.1")


def test_quit_is_221_and_closes(server, raw):
    c = session(raw, server.port)
    code, text = c.cmd("QUIT")
    expect((code, text), 221, "2.0.0")
    assert c.closed()


def test_quit_in_a_transaction_delivers_nothing(server, raw):
    c = session(raw, server.port, "rcpt")
    expect(c.cmd("QUIT"), 221, "2.0.0")
    assert c.closed()
    assert not log_lines(server, "smtp: message queued")
    assert server.messages("alice") == []


# ---- limits ---------------------------------------------------------------------------------

def test_too_many_recipients_is_452_on_the_one_past_the_limit(make_server, raw):
    """RFC 5321 4.5.3.1.10: 452 for too many recipients; the accepted ones still get the mail."""
    srv = make_server("limit recipients 3")
    c = session(raw, srv.port, "mail")
    for rcpt in ("alice@example.test", "bob@example.test", "postmaster@example.test"):
        expect(c.cmd("RCPT TO:<%s>" % rcpt), 250, "2.1.5")
    expect(c.cmd("RCPT TO:<alice@localhost>"), 452, "4.5.3")
    expect(c.cmd("RCPT TO:<postmaster@localhost>"), 452, "4.5.3")
    expect(c.cmd("DATA"), 354)
    c.send(MSG)
    queued_id(c.reply())
    for user in ("alice", "bob", "postmaster"):
        assert len(srv.wait_messages(user, 1)) == 1
    (msg,) = srv.messages("alice")
    assert b"Delivered-To: alice@example.test\n" in msg.read_bytes()


def test_oversized_body_without_size_is_552_after_the_dot(make_server, raw):
    """RFC 1870 / RFC 5321 4.5.3.1.10: 552 at the end of data; nothing is stored."""
    srv = make_server("limit message-size 1K")
    c = session(raw, srv.port, "rcpt")
    expect(c.cmd("DATA"), 354)
    body = b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 60  # ~4.3 KB
    c.send(body)
    c.send(b".\r\n")
    expect(c.reply(), 552, "5.3.4")
    expect(c.cmd("NOOP"), 250, "2.0.0")  # the session goes on, no transaction left
    expect(c.cmd("RCPT TO:<alice@example.test>"), 503, "5.5.1")
    assert log_lines(srv, "smtp: message rejected", "client=127.0.0.2")
    assert not log_lines(srv, "smtp: message queued")
    assert not log_lines(srv, "smtp: message received")
    assert srv.messages("alice") == []
    assert srv.queue_list().strip().endswith("0 messages queued")


def test_body_just_under_the_size_limit_is_accepted(make_server, raw):
    srv = make_server("limit message-size 1K")
    c = session(raw, srv.port, "rcpt")
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: fits\r\n\r\n" + b"y" * 900 + b"\r\n.\r\n")
    queued_id(c.reply())
    assert len(srv.wait_messages("alice", 1)) == 1


@pytest.mark.parametrize("length,code,enh", [
    pytest.param(1000, 250, "2.0.0", id="rfc5321-4.5.3.1.4-line-at-limit"),
    pytest.param(1001, 500, "5.5.6", id="rfc5321-4.5.3.1.4-line-one-over"),
    pytest.param(5000, 500, "5.5.6", id="rfc5321-4.5.3.1.4-line-far-over"),
    pytest.param(70000, 500, "5.5.6", id="rfc5321-4.5.3.1.4-line-over-64K"),
])
def test_command_line_length(server, raw, length, code, enh):
    """limit line-length 1000 (CRLF included): a longer line gets 500 and the session goes on."""
    c = session(raw, server.port)
    line = b"NOOP " + b"x" * (length - 7) + b"\r\n"
    assert len(line) == length
    c.send(line)
    expect(c.reply(), code, enh)
    expect(c.cmd("NOOP"), 250, "2.0.0")
    expect(c.cmd("MAIL FROM:<x@outside.example>"), 250, "2.1.0")


def test_long_line_and_next_command_in_one_segment(server, raw):
    c = session(raw, server.port)
    c.send(b"MAIL FROM:<" + b"x" * 3000 + b"@outside.example>\r\nNOOP\r\n")
    expect(c.reply(), 500, "5.5.6")
    expect(c.reply(), 250, "2.0.0")
    expect(c.cmd("RCPT TO:<alice@example.test>"), 503, "5.5.1")  # the long MAIL did nothing


def test_header_size_limit(make_server, raw):
    """limit header-size: a header section over the limit is refused at the dot (552); the
    same amount of text in the body is fine."""
    srv = make_server("limit header-size 1K")
    c = session(raw, srv.port, "rcpt")
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: big header\r\n" + b"X-Filler: " + b"h" * 60 + b"\r\n" * 1 + (b"X-More: " + b"h" * 60 + b"\r\n") * 20
           + b"\r\nbody\r\n.\r\n")
    expect(c.reply(), 552, "5.3.4")
    expect(c.cmd("MAIL FROM:<x@outside.example>"), 250, "2.1.0")
    expect(c.cmd("RCPT TO:<alice@example.test>"), 250, "2.1.5")
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: small header\r\n\r\n" + (b"b" * 70 + b"\r\n") * 30 + b".\r\n")
    queued_id(c.reply())
    (msg,) = srv.wait_messages("alice", 1)
    assert b"Subject: small header" in msg.read_bytes()


def test_error_limit_closes_with_421(make_server, raw):
    srv = make_server(conf_text=conf_with(max_errors=3))
    c = session(raw, srv.port)
    expect(c.cmd("FOO"), 500, "5.5.1")
    expect(c.cmd("RCPT TO:<alice@example.test>"), 503, "5.5.1")
    expect(c.cmd("BAR"), 500, "5.5.1")      # the third error is answered...
    expect(c.reply(), 421, "4.7.0")           # ...and then the connection is closed
    assert c.closed()
    assert log_lines(srv, "smtp: too many errors", "client=127.0.0.2", "errors=3")


def test_error_limit_is_not_reached_by_good_commands(make_server, raw):
    srv = make_server(conf_text=conf_with(max_errors=3))
    c = session(raw, srv.port)
    for _ in range(2):
        expect(c.cmd("FOO"), 500, "5.5.1")
        for _ in range(5):
            expect(c.cmd("NOOP"), 250, "2.0.0")
    expect(c.cmd("QUIT"), 221, "2.0.0")


def test_command_timeout_is_421_and_close(make_server, raw):
    """RFC 5321 4.5.3.2.7: the server may time out an idle client; 421 then close."""
    srv = make_server("limit command-timeout 1s")
    c = session(raw, srv.port)
    start = time.time()
    expect(c.reply(), 421, "4.4.2")
    assert 0.8 <= time.time() - start < 5
    assert c.closed()
    assert log_lines(srv, "smtp: timeout", "client=127.0.0.2")


def test_data_timeout_is_421_and_close_and_nothing_delivered(make_server, raw):
    srv = make_server("limit data-timeout 1s")
    c = session(raw, srv.port, "rcpt")
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: stalled\r\n\r\nhalf a message\r\n")
    start = time.time()
    expect(c.reply(), 421, "4.4.2")
    assert 0.8 <= time.time() - start < 5
    assert c.closed()
    assert not log_lines(srv, "smtp: message queued")
    assert srv.messages("alice") == []


def test_command_timeout_does_not_apply_during_data(make_server, raw):
    srv = make_server("limit command-timeout 1s\nlimit data-timeout 5s")
    c = session(raw, srv.port, "rcpt")
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: slow\r\n\r\n")
    time.sleep(1.5)
    c.send(b"still here\r\n.\r\n")
    queued_id(c.reply())


def test_max_sessions_third_connection_gets_421(make_server, raw):
    srv = make_server("limit max-sessions 2")
    # the fixture's start-up probe was session 1; wait until the server has let it go
    assert wait_log(srv, "smtp: disconnect session=1 ")
    c1 = session(raw, srv.port, "banner")
    c2 = session(raw, srv.port, "banner")
    c3 = raw(srv.port)
    expect(c3.reply(), 421, "4.7.0")
    assert c3.closed()
    assert log_lines(srv, "smtp: too many sessions", "limit=2")
    expect(c2.cmd("NOOP"), 250, "2.0.0")  # the others are untouched
    expect(c1.cmd("QUIT"), 221, "2.0.0")
    assert c1.closed()
    assert wait_log(srv, "smtp: disconnect session=2 ") and wait_log(srv, "smtp: disconnect session=4 ")
    c4 = raw(srv.port)  # a slot is free again
    expect(c4.reply(), 220)


# ---- pipelining, trace headers, transparency -------------------------------------------------

def test_pipelined_replies_arrive_in_order(server, raw):
    """RFC 2920 3.1: a group of pipelined commands gets its replies in order."""
    c = session(raw, server.port, helo="pipeliner.example")
    c.send(b"MAIL FROM:<sender@outside.example>\r\n"
           b"RCPT TO:<alice@example.test>\r\n"
           b"RCPT TO:<nosuchuser@example.test>\r\n"
           b"DATA\r\n")
    expect(c.reply(), 250, "2.1.0")
    expect(c.reply(), 250, "2.1.5")
    expect(c.reply(), 550, "5.1.1")
    expect(c.reply(), 354)
    c.send(b"Subject: pipelined\r\n\r\nhello\r\n.\r\n")
    qid = queued_id(c.reply())
    (msg,) = server.wait_messages("alice", 1)
    headers, data = read_message(msg)
    # RFC 5321 4.4: Return-Path added at delivery, first line of the message
    assert data.startswith(b"Return-Path: <sender@outside.example>\n")
    received = headers["received"]
    assert received.startswith("from pipeliner.example ([127.0.0.2])"), received
    assert "by mx.example.test" in received
    assert " id %s" % qid in received
    assert "for <alice@example.test>" in received
    assert re.search(r"; \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$", received), received
    assert headers["subject"] == "pipelined"


def test_whole_transaction_pipelined_in_one_segment(server, raw):
    """RFC 2920: the client may send everything up to DATA, then the body, then QUIT."""
    c = session(raw, server.port)
    c.send(b"MAIL FROM:<a@outside.example>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    expect(c.reply(), 250, "2.1.0")
    expect(c.reply(), 250, "2.1.5")
    expect(c.reply(), 354)
    c.send(b"Subject: one\r\n\r\nbody\r\n.\r\nMAIL FROM:<b@outside.example>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    queued_id(c.reply())
    expect(c.reply(), 250, "2.1.0")
    expect(c.reply(), 250, "2.1.5")
    expect(c.reply(), 354)
    c.send(b"Subject: two\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    queued_id(c.reply())
    expect(c.reply(), 221, "2.0.0")
    assert c.closed()
    assert len(server.wait_messages("bob", 2)) == 2


def test_pipelining_flood_is_answered_in_full_and_in_order(server, raw):
    """RFC 2920: a client may send many commands before reading; the server may stop reading
    while its replies wait, but must answer every command, in order, without deadlock."""
    n = 8000  # ~110 KB of replies: more than the server buffers for a client that does not read
    c = session(raw, server.port)
    sender = threading.Thread(target=c.send, args=(b"".join(b"NOOP %d\r\n" % i for i in range(n)),))
    sender.start()
    for i in range(n):
        expect(c.reply(), 250, "2.0.0")
    sender.join(timeout=10)
    assert not sender.is_alive()
    expect(c.cmd("QUIT"), 221, "2.0.0")


def test_null_sender_is_accepted_and_delivered(server, raw):
    """RFC 5321 4.5.5 / 6.1: bounces come from <>; they must be accepted."""
    c = session(raw, server.port, "rcpt", mail_from="", rcpt="postmaster@example.test")
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: bounce\r\n\r\nundeliverable\r\n.\r\n")
    queued_id(c.reply())
    (msg,) = server.wait_messages("postmaster", 1)
    assert msg.read_bytes().startswith(b"Return-Path: <>\n")


def test_empty_message(server, raw):
    """RFC 5321 4.1.1.4: "DATA" CRLF then "." CRLF is an empty message (the CRLF of DATA ends
    the empty line before the dot)."""
    c = session(raw, server.port, "rcpt")
    expect(c.cmd("DATA"), 354)
    c.send(b".\r\n")
    qid = queued_id(c.reply())
    (msg,) = server.wait_messages("alice", 1)
    headers, data = read_message(msg)
    assert " id %s" % qid in headers["received"]
    assert re.search(rb"\n\t\w{3}, [^\n]*\n$", data), data  # nothing after the trace header


def test_each_message_gets_its_own_queue_id(server, raw):
    c = session(raw, server.port)
    qids = []
    for _ in range(3):
        expect(c.cmd("MAIL FROM:<x@outside.example>"), 250, "2.1.0")
        expect(c.cmd("RCPT TO:<alice@example.test>"), 250, "2.1.5")
        expect(c.cmd("DATA"), 354)
        c.send(MSG)
        qids.append(queued_id(c.reply()))
    assert len(set(qids)) == 3, qids
    assert len(server.wait_messages("alice", 3)) == 3


def test_received_header_with_several_recipients_has_no_for(server, raw):
    """Bcc privacy: "for <...>" only with a single recipient."""
    c = session(raw, server.port, "rcpt")
    expect(c.cmd("RCPT TO:<bob@example.test>"), 250, "2.1.5")
    expect(c.cmd("DATA"), 354)
    c.send(MSG)
    queued_id(c.reply())
    (msg,) = server.wait_messages("bob", 1)
    headers, _ = read_message(msg)
    assert "for <" not in headers["received"]
    assert "alice" not in headers["received"] and "bob" not in headers["received"]


def test_dot_stuffed_lines_arrive_unstuffed(server, raw):
    """RFC 5321 4.5.2: the server deletes the first of a line's leading dots."""
    c = session(raw, server.port, "rcpt")
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: dots\r\n\r\n..one dot\r\n...two dots\r\n..\r\n. x\r\nmiddle . dot\r\n.\r\n")
    queued_id(c.reply())
    (msg,) = server.wait_messages("alice", 1)
    assert body_of(msg.read_bytes()) == b".one dot\n..two dots\n.\n x\nmiddle . dot\n"


def test_smtplib_transparency_round_trip(server):
    """The client side of 4.5.2 (smtplib stuffs) and the server side agree."""
    text = "Subject: rt\r\n\r\n.\r\n..\r\n.leading\r\nlast\r\n"
    with smtplib.SMTP("127.0.0.1", server.port, source_address=(OUTSIDE, 0), timeout=10) as s:
        s.sendmail("x@outside.example", ["alice@example.test"], text)
    (msg,) = server.wait_messages("alice", 1)
    assert body_of(msg.read_bytes()) == b".\n..\n.leading\nlast\n"


def test_smtputf8_sender_and_body(server, raw):
    """RFC 6531: a UTF-8 address needs SMTPUTF8 on MAIL; with it the mail is delivered, and
    the trace header says UTF8SMTP (RFC 6531 3.7.3)."""
    c = session(raw, server.port)
    expect(c.cmd("MAIL FROM:<\u00fc@example.test>"), 553, "5.6.7")
    expect(c.cmd("MAIL FROM:<\u00fc@example.test> SMTPUTF8"), 250, "2.1.0")
    expect(c.cmd("RCPT TO:<alice@example.test>"), 250, "2.1.5")
    expect(c.cmd("DATA"), 354)
    c.send("Subject: gr\u00fc\u00dfe\r\n\r\nK\u00e4se \u2603\r\n.\r\n".encode())
    queued_id(c.reply())
    (msg,) = server.wait_messages("alice", 1)
    data = msg.read_bytes()
    assert data.startswith("Return-Path: <\u00fc@example.test>\n".encode())
    assert "Subject: gr\u00fc\u00dfe\n".encode() in data
    assert body_of(data) == "K\u00e4se \u2603\n".encode()
    headers, _ = read_message(msg)
    assert " with UTF8SMTP " in headers["received"]


def test_8bit_body_with_8bitmime_is_delivered_intact(server, raw):
    """RFC 6152: BODY=8BITMIME; every byte 0x80..0xff arrives unchanged."""
    high = bytes(range(0x80, 0x100))
    c = session(raw, server.port)
    expect(c.cmd("MAIL FROM:<x@outside.example> BODY=8BITMIME"), 250, "2.1.0")
    expect(c.cmd("RCPT TO:<alice@example.test>"), 250, "2.1.5")
    expect(c.cmd("DATA"), 354)
    body = b"latin1: caf\xe9\r\nutf8: caf\xc3\xa9\r\nall: " + high + b"\r\n"
    c.send(b"Subject: 8bit\r\nContent-Type: text/plain; charset=unknown-8bit\r\n\r\n" + body + b".\r\n")
    queued_id(c.reply())
    (msg,) = server.wait_messages("alice", 1)
    assert body_of(msg.read_bytes()) == body.replace(b"\r\n", b"\n")


# ---- the log about one message ---------------------------------------------------------------

def test_queue_id_from_250_is_on_every_log_line_about_the_message(server, raw):
    c = session(raw, server.port, "rcpt")
    expect(c.cmd("DATA"), 354)
    c.send(MSG)
    qid = queued_id(c.reply())
    assert len(server.wait_messages("alice", 1)) == 1
    assert wait_log(server, "deliver: delivered", "qid=%s " % qid)
    for event in ("smtp: message received", "smtp: message queued", "deliver: delivered"):
        lines = log_lines(server, event)
        assert len(lines) == 1, (event, server.logtext())
        assert field(lines[0], "qid") == qid, lines[0]
    assert field(log_lines(server, "smtp: message received")[0], "client") == "127.0.0.2"
    assert field(log_lines(server, "deliver: delivered")[0], "to") == "<alice@example.test>"


def test_every_rcpt_decision_is_logged_with_rule_and_client(server, raw):
    c = session(raw, server.port, "mail", helo="logcheck.example")
    tried = [
        ("alice@example.test", 250, "local-mailbox"),
        ("nosuchuser@example.test", 550, "unknown-user"),
        ("someone@external.example", 554, "implicit-reject"),
        ("someone", 553, "unqualified-recipient"),
        ("postmaster", 250, "postmaster-unqualified"),
        ("a%external.example@example.test", 550, "routing-in-local-part"),
    ]
    for rcpt, code, _ in tried:
        assert c.cmd("RCPT TO:<%s>" % rcpt)[0] == code
    lines = rcpt_decisions(server, "logcheck.example")
    assert len(lines) == len(tried), lines
    for line, (rcpt, code, rule) in zip(lines, tried):
        assert field(line, "rule") == rule, line
        assert field(line, "client") == "127.0.0.2", line
        assert field(line, "session") is not None and field(line, "from") == "<x@outside.example>"
        assert ("rcpt accepted" in line) == (code == 250), line
        assert field(line, "reply").startswith(str(code)), line
