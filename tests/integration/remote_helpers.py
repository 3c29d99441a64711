"""Helpers for the remote delivery, bounce and LMTP tests: the delivery settings that keep them
fast, sending through smtplib from the trusted host, waiting for the queue, and reading DSNs
with Python's email package. Every wait is bounded."""
import email
import email.policy
import re
import smtplib
import socket
import time

from sinks import free_port, wait_until

TRUSTED = "127.0.0.1"
OUTSIDE = "127.0.0.2"

# fast retries; expiry far away unless a test sets it
FAST = """\
delivery retry-min 1s
delivery retry-max 2s
delivery connect-timeout 2s
delivery command-timeout 3s
delivery data-timeout 3s
"""


def conf(*lines):
    return FAST + "\n".join(lines) + "\n"


def send(srv, sender, rcpts, subject="test", body="hello\r\n", source=TRUSTED, mail_options=(),
         rcpt_options=(), headers=""):
    """One message through SMTP from source; returns the message text sent. Raises on any
    refusal (smtplib.SMTPRecipientsRefused when every RCPT was refused)."""
    msg = ("From: <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@test>\r\n%s\r\n%s" %
           (sender or "mailer-daemon@example.test", ", ".join("<%s>" % r for r in rcpts), subject,
            re.sub(r"\W", ".", subject), headers, body))
    with smtplib.SMTP("127.0.0.1", srv.port, source_address=(source, 0), timeout=10) as s:
        refused = s.sendmail(sender, rcpts, msg, mail_options=list(mail_options),
                             rcpt_options=list(rcpt_options))
        assert not refused, refused
    return msg


def queue_count(srv):
    """Messages still queued, from `relayguard queue list` ("N message(s) queued")."""
    text = srv.queue_list()
    m = re.search(r"(\d+) messages? queued", text)
    if m:
        return int(m.group(1))
    if re.search(r"queue is empty", text, re.I):
        return 0
    raise AssertionError("unexpected queue list output: %r" % text)


def wait_queue_empty(srv, timeout=10):
    """True once nothing is queued (bounded)."""
    return wait_until(lambda: queue_count(srv) == 0, timeout, step=0.1)


def mailbox(srv, user):
    """The parsed messages (email.message.EmailMessage) in a user's Maildir new/."""
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in srv.messages(user)]


def wait_mailbox(srv, user, n, timeout=8):
    srv.wait_messages(user, n, timeout)
    return mailbox(srv, user)


class Dsn:
    """A delivery status notification parsed with the email package (RFC 3464):
    msg the whole message; fields the per-message fields; rcpts one dict per recipient
    (lower-case field names, values as strings); returned the third part (message/rfc822 or
    text/rfc822-headers) or None."""

    def __init__(self, msg):
        self.msg = msg
        assert msg.get_content_type() == "multipart/report", msg.get_content_type()
        assert msg.get_param("report-type") == "delivery-status", msg["Content-Type"]
        parts = msg.get_payload()
        assert len(parts) >= 2, parts
        self.parts = parts
        assert parts[0].get_content_maintype() == "text", parts[0].get_content_type()
        status = [p for p in parts if p.get_content_type() == "message/delivery-status"]
        assert len(status) == 1, [p.get_content_type() for p in parts]
        # the email package parses message/delivery-status into a list of header blocks
        blocks = status[0].get_payload()
        self.fields = {k.lower(): str(v) for k, v in blocks[0].items()}
        self.rcpts = [{k.lower(): str(v) for k, v in b.items()} for b in blocks[1:]]
        rest = parts[2:]
        self.returned = rest[0] if rest else None

    def rcpt(self, addr):
        """The per-recipient block whose Final-Recipient is addr."""
        for r in self.rcpts:
            if r.get("final-recipient", "").split(";", 1)[-1].strip().lower() == addr.lower():
                return r
        raise AssertionError("no Final-Recipient %s in %r" % (addr, self.rcpts))

    def returned_bytes(self):
        if self.returned is None:
            return b""
        if self.returned.get_content_type() == "message/rfc822":
            return self.returned.get_payload()[0].as_bytes()
        return self.returned.get_payload(decode=True) or \
            self.returned.get_content().encode("utf-8", "replace")


def dsns(srv, user):
    """Every DSN in the user's Maildir (messages whose type is multipart/report)."""
    return [Dsn(m) for m in mailbox(srv, user) if m.get_content_type() == "multipart/report"]


def wait_dsns(srv, user, n, timeout=8):
    wait_until(lambda: len(dsns(srv, user)) >= n, timeout, step=0.05)
    return dsns(srv, user)


def closed_port(host):
    """A port on host with nothing listening (connection refused)."""
    return free_port(host)


def common_port(hosts):
    """A port free on every host in hosts (for MX hosts sharing `delivery port`)."""
    for _ in range(50):
        port = free_port(hosts[0])
        if all(_bindable(h, port) for h in hosts[1:]):
            return port
    raise RuntimeError("no common free port")


def _bindable(host, port):
    with socket.socket() as s:
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def settle(seconds):
    """Let the scheduler run a little more before asserting that something did NOT happen
    (a duplicate, a DSN that must not come): a bounded sleep, never a timing assertion."""
    time.sleep(seconds)
