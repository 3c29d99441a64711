"""Relay control. From an OUTSIDE client (127.0.0.2, no AUTH) no recipient outside the local
domains is ever accepted, whatever the spelling: the batteries of nmap's smtp-open-relay,
Greenbone's "Mail relaying (thorough test)" (smtp_relay2.nasl) and the classic routing tricks.
Every RCPT decision is logged with the rule that made it. Real local users, in every
legitimate spelling, are accepted and delivered; the trusted host may relay."""
import re
import subprocess

import pytest
from smtp_helpers import (OUTSIDE, TRUSTED, expect, field, log_lines, queued_id, rcpt_decisions,
                          read_message, session)

SRV = "mx.example.test"   # the name in the banner (nmap's "srvname", Greenbone's dest_name)
IP = "127.0.0.1"          # the server's address (nmap's "ip", Greenbone's dest_ip)
EXT = "external.example"  # the third-party domain a relay tester wants to reach

RELAY = (554, "5.7.1", "implicit-reject")
ROUTING = (550, "5.7.1", "routing-in-local-part")
UNQUALIFIED = (553, "5.1.3", "unqualified-recipient")
UNKNOWN = (550, "5.1.1", "unknown-user")
SYNTAX = (501, "5.1.3", None)         # refused by the path parser: no policy decision
NEEDS_UTF8 = (553, "5.6.7", None)


def probe(srv, raw, helo, mail_from, rcpt_to, mail_fmt="MAIL FROM:<%s>", rcpt_fmt="RCPT TO:<%s>",
          smtputf8=False, source=OUTSIDE):
    """One relay attempt on its own connection: EHLO helo, MAIL, RCPT. Returns both replies."""
    c = session(raw, srv.port, helo=helo, source=source)
    mail = c.cmd(mail_fmt % mail_from + (" SMTPUTF8" if smtputf8 else ""))
    rcpt = c.cmd(rcpt_fmt % rcpt_to)
    expect(c.cmd("QUIT"), 221, "2.0.0")
    return mail, rcpt


def check_refused(srv, helo, rcpt, expected):
    """The RCPT reply is the expected refusal and the log holds the matching decision."""
    code, enh, rule = expected
    expect(rcpt, code, enh)
    decisions = rcpt_decisions(srv, helo)
    if rule is None:
        assert decisions == [], decisions
    else:
        assert len(decisions) == 1, decisions
        line = decisions[0]
        assert " smtp: rcpt rejected " in line, line
        assert field(line, "rule") == rule, line
        assert field(line, "client") == "127.0.0.2", line
        assert field(line, "reply") == rcpt[1], line
    assert not log_lines(srv, "smtp: rcpt accepted"), srv.logtext()


# ---- nmap smtp-open-relay: its 16 MAIL/RCPT combinations ---------------------------------------
# domain = EXT (the tester's), from = antispam, to = relaytest, srvname = SRV, ip = IP

NMAP = [
    ("", "relaytest@%s" % EXT, RELAY),
    ("antispam@%s" % EXT, "relaytest@%s" % EXT, RELAY),
    ("antispam@%s" % SRV, "relaytest@%s" % EXT, RELAY),
    ("antispam@[%s]" % IP, "relaytest@%s" % EXT, RELAY),
    ("antispam@[%s]" % IP, "relaytest%%%s@[%s]" % (EXT, IP), ROUTING),
    ("antispam@[%s]" % IP, "relaytest%%%s@%s" % (EXT, SRV), ROUTING),
    ("antispam@[%s]" % IP, '"relaytest@%s"' % EXT, ROUTING),
    ("antispam@[%s]" % IP, '"relaytest%%%s"' % EXT, ROUTING),
    ("antispam@[%s]" % IP, "relaytest@%s@[%s]" % (EXT, IP), SYNTAX),
    ("antispam@[%s]" % IP, '"relaytest@%s"@[%s]' % (EXT, IP), ROUTING),
    ("antispam@[%s]" % IP, "relaytest@%s@%s" % (EXT, SRV), SYNTAX),
    ("antispam@[%s]" % IP, "@[%s]:relaytest@%s" % (IP, EXT), RELAY),
    ("antispam@[%s]" % IP, "@%s:relaytest@%s" % (SRV, EXT), RELAY),
    ("antispam@[%s]" % IP, "%s!relaytest" % EXT, ROUTING),
    ("antispam@[%s]" % IP, "%s!relaytest@[%s]" % (EXT, IP), ROUTING),
    ("antispam@[%s]" % IP, "%s!relaytest@%s" % (EXT, SRV), ROUTING),
]


def ours(sender):
    """A sender in a local domain or at the server's own address literal: from an outside
    client the postmaster rule refuses it at MAIL (550 5.7.1 local-sender-unauthenticated)."""
    return sender.rpartition("@")[2].lower() in ("example.test", "localhost", "[%s]" % IP)


def check_forged_sender(srv, helo, mail, rcpt):
    """MAIL was refused by the postmaster rule (logged with its rule), so RCPT has no
    transaction and no RCPT decision is made."""
    expect(mail, *FORGED)
    (line,) = log_lines(srv, "smtp: sender rejected", "helo=%s" % helo)
    assert field(line, "rule") == "local-sender-unauthenticated", line
    check_refused(srv, helo, rcpt, NO_TX)


@pytest.mark.parametrize("mail_from,rcpt_to,expected",
                         [pytest.param(*row, id="nmap-smtp-open-relay-%02d:<%s>" % (i + 1, row[1]))
                          for i, row in enumerate(NMAP)])
def test_nmap_smtp_open_relay(server, raw, mail_from, rcpt_to, expected):
    helo = "nmap.%s" % EXT
    mail, rcpt = probe(server, raw, helo, mail_from, rcpt_to)
    if ours(mail_from):
        check_forged_sender(server, helo, mail, rcpt)
        # the recipient form on its own, behind a sender the postmaster rule lets through
        helo = "nmap2.%s" % EXT
        mail, rcpt = probe(server, raw, helo, "antispam@%s" % EXT, rcpt_to)
    expect(mail, 250, "2.1.0")
    check_refused(server, helo, rcpt, expected)


def test_nmap_smtp_open_relay_replayed_in_one_session(server, raw):
    """As the script runs it: one connection, RSET before each MAIL/RCPT pair. No RCPT is
    accepted; refused RCPTs count as errors, so limit max-errors (10 here) ends the session
    with 421 before the 16 tests are through."""
    c = session(raw, server.port, helo="nmap.%s" % EXT)
    refused = 0
    for mail_from, rcpt_to, _ in NMAP:
        expect(c.cmd("RSET"), 250, "2.0.0")
        mail = c.cmd("MAIL FROM:<%s>" % mail_from)
        if ours(mail_from):  # refused at MAIL by the postmaster rule: the script moves on
            expect(mail, *FORGED)
        else:
            expect(mail, 250, "2.1.0")
            code, text = c.cmd("RCPT TO:<%s>" % rcpt_to)
            assert code >= 500, text
        refused += 1
        if refused == 10:
            expect(c.reply(), 421, "4.7.0")
            assert c.closed()
            break
    assert refused == 10
    assert not log_lines(server, "smtp: rcpt accepted")
    assert log_lines(server, "smtp: too many errors", "client=127.0.0.2")


# ---- Greenbone / OpenVAS smtp_relay2.nasl ("Mail relaying (thorough test)") --------------------
# It writes "MAIL FROM: <x>" / "RCPT TO: <x>" with a space; vt = openvas, domain = EXT.

NO_TX = (503, "5.5.1", None)          # MAIL was refused, so RCPT has no transaction
MAIL_OK = (250, "2.1.0")
FORGED = (550, "5.7.1")               # the postmaster rule: one of our senders from outside

# (from, to, MAIL reply, RCPT reply) in the script's order; its row 4 has an unqualified
# sender, refused at MAIL (the script then skips RCPT; sending it anyway must not help); rows
# 3, 8 and 14 forge a sender of ours (localhost, [127.0.0.1]), refused at MAIL by the
# postmaster rule.
GREENBONE = [
    ("nobody@%s" % EXT, "nobody@%s" % EXT, MAIL_OK, RELAY),
    ("openvas@rnd4711.%s" % EXT, "nobody@%s" % EXT, MAIL_OK, RELAY),
    ("openvas@localhost", "nobody@%s" % EXT, FORGED, NO_TX),
    ("openvas", "nobody@%s" % EXT, (553, "5.1.7"), NO_TX),
    ("", "nobody@%s" % EXT, MAIL_OK, RELAY),
    ("", "nobody@%s" % EXT, MAIL_OK, RELAY),
    ("openvas@%s" % SRV, "nobody@%s" % EXT, MAIL_OK, RELAY),
    ("openvas@[%s]" % IP, "nobody@%s" % EXT, FORGED, NO_TX),
    ("openvas@%s" % SRV, "nobody%%%s@%s" % (EXT, SRV), MAIL_OK, ROUTING),
    ("openvas@%s" % SRV, "nobody%%%s@[%s]" % (EXT, IP), MAIL_OK, ROUTING),
    ("openvas@%s" % SRV, "nobody@%s@%s" % (EXT, SRV), MAIL_OK, SYNTAX),
    ("openvas@%s" % SRV, '"nobody@%s"@[%s]' % (EXT, IP), MAIL_OK, ROUTING),
    ("openvas@%s" % SRV, "nobody@%s@[%s]" % (EXT, IP), MAIL_OK, SYNTAX),
    ("openvas@[%s]" % IP, "@%s:nobody@%s" % (SRV, EXT), FORGED, NO_TX),
    ("openvas@%s" % SRV, "@[%s]:nobody@%s" % (IP, EXT), MAIL_OK, RELAY),
    ("openvas@%s" % SRV, "%s!nobody@[%s]" % (EXT, IP), MAIL_OK, ROUTING),
    ("postmaster@%s" % SRV, "nobody@%s" % EXT, MAIL_OK, RELAY),
]

# More senders and recipients of the same kind (named, not from the script).
SENDERS = [
    ("forged-own-domain-sender", "alice@example.test", "nobody@%s" % EXT, FORGED, NO_TX),
    ("own-postmaster-sender", "postmaster@example.test", "nobody@%s" % EXT, FORGED, NO_TX),
    ("localhost-postmaster-sender", "postmaster@localhost", "nobody@%s" % EXT, FORGED, NO_TX),
    ("unqualified-postmaster-sender", "postmaster", "nobody@%s" % EXT, (553, "5.1.7"), NO_TX),
    ("unqualified-recipient", "openvas@%s" % SRV, "nobody", MAIL_OK, UNQUALIFIED),
    ("null-recipient", "openvas@%s" % SRV, "", MAIL_OK, UNQUALIFIED),
    ("unknown-user-at-localhost", "openvas@%s" % SRV, "nobody@localhost", MAIL_OK, UNKNOWN),
    ("own-ip-literal-recipient-default-no", "openvas@%s" % SRV, "nobody@[%s]" % IP, MAIL_OK, RELAY),
    ("postmaster-of-external-domain", "openvas@%s" % SRV, "postmaster@%s" % EXT, MAIL_OK, RELAY),
]


@pytest.mark.parametrize(
    "mail_from,rcpt_to,mail_expected,expected",
    [pytest.param(*row, id="greenbone-smtp_relay2-%02d:<%s>:<%s>" % (i + 1, row[0], row[1]))
     for i, row in enumerate(GREENBONE)] +
    [pytest.param(*row[1:], id="greenbone-style-" + row[0]) for row in SENDERS])
def test_greenbone_smtp_relay2(server, raw, mail_from, rcpt_to, mail_expected, expected):
    helo = "openvas.%s" % EXT
    mail, rcpt = probe(server, raw, helo, mail_from, rcpt_to, "MAIL FROM: <%s>", "RCPT TO: <%s>")
    expect(mail, *mail_expected)
    check_refused(server, helo, rcpt, expected)


# ---- the other routing tricks, spellings and look-alikes --------------------------------------

TRICKS = [
    ("percent-hack-via-local-domain", "relaytest%%%s@example.test" % EXT, ROUTING, False),
    ("percent-hack-via-localhost", "relaytest%%%s@localhost" % EXT, ROUTING, False),
    ("percent-hack-to-local-user", "alice%example.test@example.test", ROUTING, False),
    ("percent-hack-double", "relaytest%%%s%%example.test@example.test" % EXT, ROUTING, False),
    ("uucp-bang-unqualified", "%s!relaytest" % EXT, ROUTING, False),
    ("uucp-bang-via-local-domain", "%s!relaytest@example.test" % EXT, ROUTING, False),
    ("uucp-bang-two-hops", "a.example!%s!relaytest@example.test" % EXT, ROUTING, False),
    ("rfc5321-C-source-route-via-local-domain", "@example.test:relaytest@%s" % EXT, RELAY, False),
    ("rfc5321-C-source-route-two-hops", "@%s,@example.test:relaytest@%s" % (SRV, EXT), RELAY, False),
    ("rfc5321-C-source-route-ipv6-literal", "@[IPv6:::1]:relaytest@%s" % EXT, RELAY, False),
    ("rfc5321-C-source-route-without-mailbox", "@example.test:relaytest", SYNTAX, False),
    ("quoted-at-via-local-domain", '"relaytest@%s"@example.test' % EXT, ROUTING, False),
    ("quoted-percent-via-local-domain", '"relaytest%%%s"@example.test' % EXT, ROUTING, False),
    ("quoted-bang-via-local-domain", '"%s!relaytest"@example.test' % EXT, ROUTING, False),
    ("quoted-escaped-at-via-local-domain", '"relaytest\\@%s"@example.test' % EXT, ROUTING, False),
    ("quoted-at-unqualified", '"relaytest@%s"' % EXT, ROUTING, False),
    ("double-at-via-local-domain", "relaytest@%s@example.test" % EXT, SYNTAX, False),
    ("double-at-via-localhost", "relaytest@%s@localhost" % EXT, SYNTAX, False),
    ("trailing-dot-external", "relaytest@%s." % EXT, RELAY, False),
    ("two-trailing-dots-external", "relaytest@%s.." % EXT, SYNTAX, False),
    ("upper-case-external", "RELAYTEST@EXTERNAL.EXAMPLE", RELAY, False),
    ("mixed-case-trailing-dot-external", "RelayTest@External.Example.", RELAY, False),
    ("idn-external-utf8", "relaytest@b\u00fccher.example", RELAY, True),
    ("idn-external-utf8-upper-case", "relaytest@B\u00dcCHER.EXAMPLE.", RELAY, True),
    ("idn-external-utf8-without-SMTPUTF8", "relaytest@b\u00fccher.example", NEEDS_UTF8, False),
    ("idn-external-a-label", "relaytest@xn--bcher-kva.example", RELAY, False),
    ("utf8-local-part-external", "r\u00e9laytest@%s" % EXT, RELAY, True),
    ("subdomain-of-local-domain", "relaytest@sub.example.test", RELAY, False),
    ("local-domain-as-prefix", "relaytest@example.test.%s" % EXT, RELAY, False),
    ("local-domain-as-suffix-lookalike", "relaytest@notexample.test", RELAY, False),
    ("server-name-is-not-a-local-domain", "relaytest@%s" % SRV, RELAY, False),
    ("own-ip-literal-default-no", "relaytest@[%s]" % IP, RELAY, False),
    ("local-user-at-own-ip-literal-default-no", "alice@[%s]" % IP, RELAY, False),
    ("ipv6-literal", "relaytest@[IPv6:::1]", RELAY, False),
    ("foreign-ip-literal", "relaytest@[192.0.2.1]", RELAY, False),
    ("bad-ip-literal", "relaytest@[127.0.0.256]", SYNTAX, False),
    ("general-address-literal", "relaytest@[x400:c=us]", SYNTAX, False),
    ("unknown-user-in-local-domain", "relaytest@example.test", UNKNOWN, False),
    ("bob-is-not-in-localhost", "bob@localhost", UNKNOWN, False),
    ("unqualified-not-postmaster", "alice", UNQUALIFIED, False),
]


@pytest.mark.parametrize("rcpt_to,expected,smtputf8",
                         [pytest.param(*row[1:], id=row[0]) for row in TRICKS])
def test_routing_tricks_and_spellings_are_refused(server, raw, rcpt_to, expected, smtputf8):
    helo = "tricks.%s" % EXT
    mail, rcpt = probe(server, raw, helo, "x@outside.example", rcpt_to, smtputf8=smtputf8)
    expect(mail, 250, "2.1.0")
    check_refused(server, helo, rcpt, expected)


@pytest.mark.parametrize("mail_from,rcpt_to", [
    pytest.param("x@outside.example", '"x rule=local-mailbox client=127.0.0.1 y"@%s' % EXT, id="forged-fields-in-recipient"),
    pytest.param('"x rule=local-host client=127.0.0.1 y"@outside.example', "relaytest@%s" % EXT, id="forged-fields-in-sender"),
    pytest.param("x@outside.example", '"x\\" rule=local-mailbox \\"y"@%s' % EXT, id="forged-fields-with-escaped-quotes"),
])
def test_client_text_cannot_forge_log_fields(server, raw, mail_from, rcpt_to):
    """A quoted local part may hold spaces, '=' and quotes; in the log it stays inside one
    field, so the decision line still has exactly one rule= and one client= (field() fails on
    a second one)."""
    helo = "forger.example"
    mail, rcpt = probe(server, raw, helo, mail_from, rcpt_to)
    expect(mail, 250, "2.1.0")
    expect(rcpt, 554, "5.7.1")
    (line,) = rcpt_decisions(server, helo)
    assert field(line, "rule") == "implicit-reject", line
    assert field(line, "client") == "127.0.0.2", line


def test_trusted_host_is_refused_routing_forms_too(server, raw):
    """The percent hack never relays, whoever asks: a later hop could read it as a route."""
    helo = "trusted.example"
    mail, rcpt = probe(server, raw, helo, "alice@example.test", "relaytest%%%s@example.test" % EXT,
                       source=TRUSTED)
    expect(mail, 250, "2.1.0")
    expect(rcpt, *ROUTING[:2])
    (line,) = rcpt_decisions(server, helo)
    assert field(line, "rule") == ROUTING[2] and field(line, "client") == TRUSTED


# ---- what IS accepted --------------------------------------------------------------------------

def send_one(srv, raw, rcpt_to, source=OUTSIDE, helo="client.example", smtputf8=False, subject="t"):
    """A whole transaction to one recipient; returns the queue ID."""
    c = session(raw, srv.port, helo=helo, source=source)
    expect(c.cmd("MAIL FROM:<x@outside.example>%s" % (" SMTPUTF8" if smtputf8 else "")), 250, "2.1.0")
    expect(c.cmd("RCPT TO:<%s>" % rcpt_to), 250, "2.1.5")
    expect(c.cmd("DATA"), 354)
    c.send(("Subject: %s\r\n\r\nbody\r\n.\r\n" % subject).encode())
    qid = queued_id(c.reply())
    expect(c.cmd("QUIT"), 221, "2.0.0")
    return qid


LOCAL = [
    ("plain-local-user", "alice@example.test", "alice", "local-mailbox"),
    ("bob-in-example.test", "bob@example.test", "bob", "local-mailbox"),
    ("alice-in-localhost", "alice@localhost", "alice", "local-mailbox"),
    ("upper-case-local", "ALICE@EXAMPLE.TEST", "alice", "local-mailbox"),
    ("trailing-dot-upper-case-local", "alice@EXAMPLE.TEST.", "alice", "local-mailbox"),
    ("trailing-dot-localhost", "alice@localhost.", "alice", "local-mailbox"),
    ("rfc5321-4.1.2-quoted-plain-local-part", '"alice"@example.test', "alice", "local-mailbox"),
    ("rfc5321-C-source-route-to-local-user", "@%s:alice@example.test" % SRV, "alice", "local-mailbox"),
    ("rfc5321-4.5.1-unqualified-postmaster", "postmaster", "postmaster", "postmaster-unqualified"),
    ("rfc5321-4.5.1-unqualified-POSTMASTER", "POSTMASTER", "postmaster", "postmaster-unqualified"),
    ("rfc5321-4.5.1-postmaster-at-localhost", "postmaster@localhost", "postmaster", "local-mailbox"),
]


@pytest.mark.parametrize("rcpt_to,user,rule", [pytest.param(*row[1:], id=row[0]) for row in LOCAL])
def test_real_local_users_are_accepted_and_delivered(server, raw, rcpt_to, user, rule):
    qid = send_one(server, raw, rcpt_to, helo="local.example")
    (line,) = rcpt_decisions(server, "local.example")
    assert " smtp: rcpt accepted " in line and field(line, "rule") == rule, line
    assert field(line, "client") == "127.0.0.2"
    (msg,) = server.wait_messages(user, 1)
    headers, _ = read_message(msg)
    assert " id %s" % qid in headers["received"]
    others = {"alice", "bob", "postmaster"} - {user}
    assert all(server.messages(u) == [] for u in others)


def test_trusted_host_may_relay_and_the_message_is_queued(server, raw):
    rcpt = "relaytest@%s" % EXT
    qid = send_one(server, raw, rcpt, source=TRUSTED, helo="trusted.example")
    (line,) = rcpt_decisions(server, "trusted.example")
    assert " smtp: rcpt accepted " in line
    assert field(line, "rule") == "local-host" and field(line, "client") == TRUSTED, line
    listing = server.queue_list()
    assert qid in listing
    assert re.search(r"(?m)^\s+relay\s+<%s>\s+rule=local-host(  state=.*)?$" % re.escape(rcpt), listing), listing


def test_same_recipient_from_outside_and_from_trusted(server, raw):
    """The one difference between the two clients is the rule that matches."""
    rcpt = "relaytest@%s" % EXT
    _, outside = probe(server, raw, "outside.example", "x@outside.example", rcpt)
    _, inside = probe(server, raw, "inside.example", "x@outside.example", rcpt, source=TRUSTED)
    expect(outside, 554, "5.7.1")
    expect(inside, 250, "2.1.5")
    assert field(rcpt_decisions(server, "outside.example")[0], "rule") == "implicit-reject"
    assert field(rcpt_decisions(server, "inside.example")[0], "rule") == "local-host"


def test_idn_local_domain(make_server, raw):
    """A local domain written in UTF-8 in the config matches its U-label (with SMTPUTF8) and its
    A-label, in any case and with a trailing dot."""
    srv = make_server("local-domain b\u00fccher.example")
    helo = "idn.example"
    for i, (rcpt, utf8) in enumerate([("alice@b\u00fccher.example", True),
                                      ("alice@xn--bcher-kva.example", False),
                                      ("alice@B\u00dcCHER.EXAMPLE.", True),
                                      ("alice@XN--BCHER-KVA.EXAMPLE.", False)]):
        send_one(srv, raw, rcpt, helo=helo, smtputf8=utf8, subject="idn%d" % i)
    lines = rcpt_decisions(srv, helo)
    assert len(lines) == 4 and all(field(l, "rule") == "local-mailbox" for l in lines), lines
    assert all(field(l, "to") == "<alice@xn--bcher-kva.example>" for l in lines), lines
    assert len(srv.wait_messages("alice", 4)) == 4
    # without SMTPUTF8 the U-label is refused (RFC 6531 3.4), and an unknown user is unknown
    mail, rcpt = probe(srv, raw, "idn2.example", "x@outside.example", "alice@b\u00fccher.example")
    expect(rcpt, 553, "5.6.7")
    mail, rcpt = probe(srv, raw, "idn3.example", "x@outside.example", "nobody@b\u00fccher.example",
                       smtputf8=True)
    expect(rcpt, 550, "5.1.1")
    # bob exists only in example.test
    mail, rcpt = probe(srv, raw, "idn4.example", "x@outside.example", "bob@xn--bcher-kva.example")
    expect(rcpt, 550, "5.1.1")


def test_ip_literal_recipients_yes_makes_own_literal_local(make_server, raw):
    srv = make_server("ip-literal-recipients yes")
    send_one(srv, raw, "alice@[%s]" % IP, helo="literal.example")
    (line,) = rcpt_decisions(srv, "literal.example")
    assert field(line, "rule") == "local-mailbox", line
    assert len(srv.wait_messages("alice", 1)) == 1
    # still only OUR address, still only real users
    for helo, rcpt, expected in [("lit1.example", "alice@[127.0.0.3]", RELAY),
                                 ("lit2.example", "alice@[192.0.2.1]", RELAY),
                                 ("lit3.example", "relaytest@[%s]" % IP, UNKNOWN),
                                 ("lit4.example", "relaytest%%%s@[%s]" % (EXT, IP), ROUTING)]:
        _, reply = probe(srv, raw, helo, "x@outside.example", rcpt)
        expect(reply, *expected[:2])
        (line,) = rcpt_decisions(srv, helo)
        assert field(line, "rule") == expected[2], line


def test_ip_literal_recipients_default_no_rejects_as_relay(server, raw):
    _, reply = probe(server, raw, "literal.example", "x@outside.example", "alice@[%s]" % IP)
    expect(reply, 554, "5.7.1")
    (line,) = rcpt_decisions(server, "literal.example")
    assert field(line, "rule") == "implicit-reject"


RULES = """\
relay deny from 127.0.0.2 to partner.example id block-outside
relay allow from 127.0.0.0/8 to partner.example,other.example id loopback-partners
relay allow from 127.0.0.2,192.0.2.0/24 to third.example
"""


@pytest.mark.parametrize("source,rcpt,code,enh,rule", [
    pytest.param(OUTSIDE, "x@partner.example", 554, "5.7.1", "block-outside", id="deny-before-allow"),
    pytest.param(OUTSIDE, "x@other.example", 250, "2.1.5", "loopback-partners", id="allow-after-deny"),
    pytest.param(OUTSIDE, "x@third.example", 250, "2.1.5", "FILE:LINE", id="default-id-is-file-line"),
    pytest.param(OUTSIDE, "x@fourth.example", 554, "5.7.1", "implicit-reject", id="no-rule-matches"),
    pytest.param(OUTSIDE, "alice@example.test", 250, "2.1.5", "local-mailbox", id="local-mail-unaffected"),
    pytest.param(TRUSTED, "x@partner.example", 250, "2.1.5", "local-host", id="first-rule-wins-for-trusted"),
    pytest.param(OUTSIDE, "x@sub.partner.example", 554, "5.7.1", "implicit-reject", id="to-is-exact-not-subdomains"),
    pytest.param(OUTSIDE, "x@PARTNER.EXAMPLE.", 554, "5.7.1", "block-outside", id="to-matches-normalised-domain"),
])
def test_relay_rules_in_file_order(make_server, raw, source, rcpt, code, enh, rule):
    srv = make_server(RULES)
    if rule == "FILE:LINE":
        lines = srv.conf.read_text().splitlines()
        n = next(i for i, l in enumerate(lines) if l.startswith("relay allow from 127.0.0.2,")) + 1
        rule = "%s:%d" % (srv.conf, n)
    _, reply = probe(srv, raw, "rules.example", "x@outside.example", rcpt, source=source)
    expect(reply, code, enh)
    (line,) = rcpt_decisions(srv, "rules.example")
    assert field(line, "rule") == rule, line
    assert field(line, "client") == source


# ---- swaks -----------------------------------------------------------------------------------

def swaks(srv, to, source=OUTSIDE):
    return subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(srv.port),
                           "--local-interface", source, "--helo", "swaks.example",
                           "--to", to, "--from", "y@outside.example", "--timeout", "10"],
                          capture_output=True, text=True, timeout=30)


def test_swaks_relay_attempt_from_outside_fails(server):
    out = swaks(server, "x@%s" % EXT)
    assert out.returncode != 0, out.stdout
    assert "<** 554 5.7.1" in out.stdout, out.stdout
    (line,) = rcpt_decisions(server, "swaks.example")
    assert field(line, "rule") == "implicit-reject"
    assert server.queue_list().strip().endswith("0 messages queued")


def test_swaks_delivery_to_local_user_succeeds(server):
    out = swaks(server, "alice@example.test")
    assert out.returncode == 0, out.stdout + out.stderr
    m = re.search(r"<-  250 2\.0\.0 Ok: queued as (\S+)", out.stdout)
    assert m, out.stdout
    (msg,) = server.wait_messages("alice", 1)
    headers, _ = read_message(msg)
    assert " id %s" % m.group(1) in headers["received"]
    assert headers["x-mailer"].startswith("swaks")


def test_backup_mx_relays_only_its_listed_users(make_server, raw):
    """A backup MX (relay allow from any to DOMAIN) with relay-recipient lines: an outside
    client's mail for a listed user is accepted, for anybody else refused at RCPT (no
    backscatter later), with the rule on the log line."""
    srv = make_server("relay allow from any to backup.example id backup-mx\n"
                      "relay-recipient ann@backup.example\n")
    c = session(raw, srv.port, state="mail", mail_from="someone@sender.example")
    expect(c.cmd("RCPT TO:<Ann@backup.example>"), 250, "2.1.5")
    expect(c.cmd("RCPT TO:<zed@backup.example>"), 550, "5.1.1")
    expect(c.cmd("QUIT"), 221, "2.0.0")
    assert log_lines(srv, "rcpt accepted", "rule=backup-mx")
    assert log_lines(srv, "rcpt rejected", "rule=unknown-relay-recipient")
