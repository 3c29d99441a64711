"""Helpers shared by the protocol, relay and smuggling tests: reply assertions, opening a
session in a known state, and reading the server log. Standard library only."""
import re
import shlex
import time

OUTSIDE = "127.0.0.2"   # an Internet client: no relay rights
TRUSTED = "127.0.0.1"   # the trusted local host (rule "local-host")


def expect(reply, code, enh=None, contains=None):
    """Assert an SMTP reply (code, text) has this code and, on every line, this enhanced
    status code (RFC 3463 / RFC 2034: "CODE SP ENH SP text" or "CODE-ENH text")."""
    got, text = reply
    assert got == code, "expected %d %s, got %r" % (code, enh or "", text)
    for line in text.split("\n"):
        assert line[:3] == str(code) and line[3:4] in (" ", "-"), text
        if enh is not None:
            assert line[4:].split(" ", 1)[0] == enh, "expected %d %s, got %r" % (code, enh, text)
    if contains is not None:
        assert contains in text, text
    return text


def session(raw, port, state="ehlo", helo="client.example", source=OUTSIDE, mail_from="x@outside.example",
            rcpt="alice@example.test", timeout=10):
    """A raw client brought to a state: "banner" (only the 220 read), "ehlo", "helo", "mail"
    (after EHLO + MAIL), "rcpt" (after EHLO + MAIL + one accepted RCPT)."""
    c = raw(port, source=source, timeout=timeout)
    expect(c.reply(), 220)
    if state == "banner":
        return c
    if state == "helo":
        expect(c.cmd("HELO " + helo), 250)
        return c
    expect(c.cmd("EHLO " + helo), 250)
    if state in ("mail", "rcpt"):
        expect(c.cmd("MAIL FROM:<%s>" % mail_from), 250, "2.1.0")
    if state == "rcpt":
        expect(c.cmd("RCPT TO:<%s>" % rcpt), 250, "2.1.5")
    return c


def queued_id(reply):
    """The queue ID of a "250 2.0.0 Ok: queued as ID" reply."""
    text = expect(reply, 250, "2.0.0")
    m = re.search(r"queued as (\S+)", text)
    assert m, text
    return m.group(1)


def log_lines(srv, *needles):
    """Server log lines containing every needle."""
    return [l for l in srv.logtext().splitlines() if all(n in l for n in needles)]


def wait_log(srv, *needles, timeout=5.0):
    """Wait (bounded) until a log line contains every needle; returns the matching lines."""
    deadline = time.time() + timeout
    while True:
        lines = log_lines(srv, *needles)
        if lines or time.time() > deadline:
            return lines
        time.sleep(0.01)


def fields(line):
    """The key=value fields of a log line, split like a shell would (double quotes group,
    also in the middle of a word: to=<"a b@c"> is one field). Every occurrence is kept."""
    out = []
    for tok in shlex.split(line, posix=True):
        key, eq, value = tok.partition("=")
        if eq and re.fullmatch(r"[a-z_]+", key):
            out.append((key, value))
    return out


def field(line, name):
    """The value of key=value in a log line, quotes removed; None if absent. A line with the
    key twice is a forged line: that fails here."""
    values = [v for k, v in fields(line) if k == name]
    assert len(values) <= 1, "%s= appears %d times in %r" % (name, len(values), line)
    return values[0] if values else None


def rcpt_decisions(srv, helo=None):
    """The RCPT decision log lines ("smtp: rcpt accepted|rejected"), of one HELO name if given."""
    lines = [l for l in srv.logtext().splitlines() if " smtp: rcpt " in l]
    if helo is not None:
        lines = [l for l in lines if field(l, "helo") == helo]
    return lines


def read_message(path):
    """A delivered Maildir file: (header dict of the first occurrence of each name, raw bytes).
    Maildir files hold LF line ends."""
    data = path.read_bytes()
    head = data.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    headers = {}
    for line in re.sub(r"\n[ \t]", " ", head).split("\n"):
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    return headers, data


def body_of(data):
    """The body of a delivered message (after the first empty line)."""
    return data.split(b"\n\n", 1)[1]
