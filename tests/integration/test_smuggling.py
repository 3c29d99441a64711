"""SMTP smuggling (SEC Consult, Dec 2023; CVE-2023-51764/51765/51766): only CR LF "." CR LF
ends the data (RFC 5321 4.1.1.4); a bare CR or LF is not a line end (RFC 5321 2.3.8). Every
near-miss end-of-data sequence is followed by a complete smuggled transaction; the server must
never run it. Default (bare-newline reject): exactly one final reply, 554 5.6.0, nothing stored.
bare-newline normalise: exactly one message, holding the smuggled text as body text.
Each case is sent in one TCP segment, and split at every byte of the sequence."""
import socket
import time

import pytest
from smtp_helpers import expect, log_lines, queued_id, rcpt_decisions, session

SMUGGLED = (b"MAIL FROM:<evil@outside.example>\r\n"
            b"RCPT TO:<bob@example.test>\r\n"
            b"DATA\r\n"
            b"smuggled\r\n")
END = b"\r\n.\r\n"
PAUSE = 0.03  # between the two halves of a split send: enough for the server to read one

SEQUENCES = [
    pytest.param(b"\n.\n", id="smuggling-LF.LF"),
    pytest.param(b"\n.\r\n", id="smuggling-LF.CRLF"),
    pytest.param(b"\r.\r\n", id="smuggling-CR.CRLF"),
    pytest.param(b"\r\n.\r", id="smuggling-CRLF.CR"),
    pytest.param(b"\r\n.\n", id="smuggling-CRLF.LF"),
    pytest.param(b"\r.\n", id="smuggling-CR.LF"),
    pytest.param(b"\r\n\x00.\r\n", id="smuggling-CRLF-NUL.CRLF"),
    pytest.param(b"\r.\r", id="smuggling-CR.CR"),
    pytest.param(b"\n.\r", id="smuggling-LF.CR"),
    pytest.param(b"\r\n.\r\r\n", id="smuggling-CRLF.CR-CRLF"),
]


def split_points(seq):
    """None: one segment; k: the first send ends k bytes into the sequence."""
    return [None] + list(range(len(seq) + 1))


CASES = [pytest.param(p.values[0], k, id="%s-%s" % (p.id, "one-segment" if k is None else "split-at-%d" % k))
         for p in SEQUENCES for k in split_points(p.values[0])]


def nodelay(c):
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def send_split(c, data, at):
    if at is None:
        c.send(data)
    else:
        c.send(data[:at])
        time.sleep(PAUSE)
        c.send(data[at:])


def smuggle(srv, raw, seq, split):
    """Send one message to alice whose body holds seq + a smuggled transaction to bob.
    Returns the client and the one final reply."""
    c = session(raw, srv.port, "rcpt", helo="smuggler.example")
    nodelay(c)
    expect(c.cmd("DATA"), 354)
    prefix = b"Subject: smuggling\r\n\r\nbefore"
    data = prefix + seq + SMUGGLED + END
    send_split(c, data, None if split is None else len(prefix) + split)
    return c, c.reply()


def session_goes_on(srv, c):
    """The next reply is NOOP's (no smuggled reply queued before it), and a normal
    transaction still works on the same connection; returns once it is delivered."""
    expect(c.cmd("NOOP"), 250, "2.0.0")
    expect(c.cmd("MAIL FROM:<x@outside.example>"), 250, "2.1.0")
    expect(c.cmd("RCPT TO:<postmaster@example.test>"), 250, "2.1.5")
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: after\r\n\r\nafter\r\n.\r\n")
    queued_id(c.reply())
    expect(c.cmd("QUIT"), 221, "2.0.0")
    assert len(srv.wait_messages("postmaster", 1)) == 1


def nothing_smuggled(srv):
    decisions = rcpt_decisions(srv, "smuggler.example")
    assert not [l for l in decisions if "bob@example.test" in l], decisions
    assert not log_lines(srv, "evil@outside.example"), srv.logtext()
    assert srv.messages("bob") == []


@pytest.mark.parametrize("seq,split", CASES)
def test_reject_mode_refuses_the_message_and_runs_nothing(server, raw, seq, split):
    c, final = smuggle(server, raw, seq, split)
    expect(final, 554, "5.6.0")
    session_goes_on(server, c)
    nothing_smuggled(server)
    assert len(log_lines(server, "smtp: message rejected")) == 1
    assert len(log_lines(server, "smtp: message queued")) == 1  # the one sent afterwards
    assert server.messages("alice") == []


@pytest.mark.parametrize("seq,split", CASES)
def test_normalise_mode_keeps_the_smuggled_text_as_body(make_server, raw, seq, split):
    srv = make_server("bare-newline normalise")
    c, final = smuggle(srv, raw, seq, split)
    if b"\x00" in seq:
        # normalise is about line ends only: a NUL byte is refused in every mode
        expect(final, 554, "5.6.0", contains="NUL")
        session_goes_on(srv, c)
        nothing_smuggled(srv)
        assert srv.messages("alice") == []
        return
    qid = queued_id(final)
    session_goes_on(srv, c)
    nothing_smuggled(srv)
    msgs = srv.wait_messages("alice", 1)
    assert len(msgs) == 1
    data = msgs[0].read_bytes()
    assert (" id %s" % qid).encode() in data
    body = data.split(b"\n\n", 1)[1]
    assert body.startswith(b"before")
    assert b"MAIL FROM:<evil@outside.example>\nRCPT TO:<bob@example.test>\nDATA\nsmuggled\n" in body
    assert b"\r" not in body  # every bare CR / LF became a line end
    assert len(log_lines(srv, "smtp: message queued")) == 2


@pytest.mark.parametrize("mode", ["reject", "normalise"])
@pytest.mark.parametrize("boundary,before", [
    pytest.param(4096, 1, id="4K-1"), pytest.param(4096, 2, id="4K-2"),
    pytest.param(16384, 1, id="16K-1"), pytest.param(16384, 2, id="16K-2"),
])
def test_sequence_straddling_read_chunks(make_server, raw, mode, boundary, before):
    """Socket reads (4 KiB) and DATA parsing steps (16 KiB) cut the stream: a sequence that
    starts `before` bytes ahead of such a cut, all in one send."""
    srv = make_server("bare-newline %s" % mode)
    c = session(raw, srv.port, "rcpt", helo="smuggler.example")
    expect(c.cmd("DATA"), 354)
    head = b"Subject: big\r\n\r\n"
    filler = head + (b"y" * 76 + b"\r\n") * ((boundary - before - len(head) - 1) // 78)
    pad = boundary - before - len(filler)
    assert 0 < pad <= 78
    data = filler + b"z" * pad + b"\n.\n" + SMUGGLED + END
    c.send(data)
    if mode == "reject":
        expect(c.reply(), 554, "5.6.0")
    else:
        queued_id(c.reply())
    session_goes_on(srv, c)
    nothing_smuggled(srv)
    if mode == "normalise":
        (msg,) = srv.wait_messages("alice", 1)
        assert b"z\n.\nMAIL FROM:<evil@outside.example>\n" in msg.read_bytes()


@pytest.mark.parametrize("split", range(len(END) + 1))
def test_real_end_of_data_split_at_every_byte(server, raw, split):
    c = session(raw, server.port, "rcpt")
    nodelay(c)
    expect(c.cmd("DATA"), 354)
    data = b"Subject: split\r\n\r\nbody" + END
    send_split(c, data, len(data) - len(END) + split)
    queued_id(c.reply())
    expect(c.cmd("NOOP"), 250, "2.0.0")
    (msg,) = server.wait_messages("alice", 1)
    assert msg.read_bytes().endswith(b"\n\nbody\n")


COMMAND_LINES = [
    pytest.param(b"NOOP\n", id="rfc5321-2.3.8-bare-LF-ends-command"),
    pytest.param(b"NO\rOP\r\n", id="rfc5321-2.3.8-bare-CR-inside-command"),
    pytest.param(b"NOOP\r\r\n", id="rfc5321-2.3.8-CR-CR-LF"),
    pytest.param(b"NO\x00OP\r\n", id="NUL-in-command"),
    pytest.param(b"RSET\rMAIL FROM:<evil@outside.example>\r\n", id="bare-CR-hides-second-command"),
    pytest.param(b"MAIL FROM:<evil@outside.example>\n", id="bare-LF-after-MAIL"),
    pytest.param(b"QUIT\n", id="bare-LF-after-QUIT"),
]


@pytest.mark.parametrize("line", COMMAND_LINES)
def test_bare_cr_or_lf_in_a_command_line_is_500(server, raw, line):
    c = session(raw, server.port)
    c.send(line)
    expect(c.reply(), 500, "5.5.2")
    # nothing of the refused line was run: no transaction, and the session goes on
    expect(c.cmd("RCPT TO:<alice@example.test>"), 503, "5.5.1")
    expect(c.cmd("NOOP"), 250, "2.0.0")
    assert not log_lines(server, "evil@outside.example")


@pytest.mark.parametrize("line", [pytest.param(p.values[0], id=p.id) for p in COMMAND_LINES[:2]])
@pytest.mark.parametrize("split", [1, 3])
def test_bare_newline_in_command_split_across_segments(server, raw, line, split):
    c = session(raw, server.port)
    nodelay(c)
    send_split(c, line, split)
    expect(c.reply(), 500, "5.5.2")
    expect(c.cmd("NOOP"), 250, "2.0.0")


@pytest.mark.parametrize("mode,want", [("reject", 500), ("normalise", 250)],
                         ids=["reject-mode-refuses", "normalise-mode-accepts"])
def test_bare_lf_command_line_by_mode(make_server, raw, mode, want):
    """bare-newline normalise lets an old client end commands with LF alone; a bare CR in a
    command is refused in both modes."""
    srv = make_server("bare-newline %s" % mode)
    c = raw(srv.port)
    assert c.reply()[0] == 220
    c.send(b"NOOP\n")
    code, text = c.reply()
    assert code == want and ("5.5.2" in text if want == 500 else "2.0.0" in text)
    c.send(b"NO\rOP\r\n")
    code, text = c.reply()
    assert code == 500 and "5.5.2" in text
