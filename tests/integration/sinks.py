"""Remote ends for the delivery tests, on loopback only (127.0.0.5, 127.0.0.6, ...):

SmtpSink      Postfix's real smtp-sink(1), dumping every transaction to a file; its options
              give the failure modes (4xx/5xx per command, drop, slow, LMTP, Unix socket).
ScriptedSink  a small threaded SMTP/LMTP server in Python whose behaviour is scripted per
              connection (first 451 at RCPT, then accept; drop after N body bytes; per-recipient
              LMTP replies) and which records every byte the client sent, to check dot-stuffing
              and that no bare CR or LF ever goes out.

Every wait is bounded; standard library only."""
import os
import pathlib
import signal
import socket
import socketserver
import subprocess
import threading
import time

from ports import free_port  # noqa: F401

SMTP_SINK = "/usr/sbin/smtp-sink"


def wait_until(pred, timeout, step=0.02):
    """Poll pred() until it is true or timeout seconds pass; returns its last value."""
    deadline = time.time() + timeout
    while True:
        value = pred()
        if value or time.time() > deadline:
            return value
        time.sleep(step)


def _connectable(host, port, unix):
    try:
        if unix:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(0.2)
                s.connect(unix)
        else:
            socket.create_connection((host, port), timeout=0.2).close()
        return True
    except OSError:
        return False


class SinkMessage:
    """One transaction as smtp-sink dumped it: envelope (MAIL and RCPT arguments as sent,
    e.g. "<a@b.example> SIZE=12") and the message (LF line ends, dots unstuffed)."""

    def __init__(self, path, raw):
        self.path = path
        self.raw = raw
        self.client = None
        self.proto = None
        self.helo = None
        self.mail_args = None
        self.rcpt_args = []
        lines = raw.split(b"\n")
        i = 0
        while i < len(lines):
            name, _, value = lines[i].decode("utf-8", "replace").partition(": ")
            i += 1
            if name == "X-Client-Addr":
                self.client = value
            elif name == "X-Client-Proto":
                self.proto = value
            elif name == "X-Helo-Args":
                self.helo = value
            elif name == "X-Mail-Args":
                self.mail_args = value
            elif name == "X-Rcpt-Args":
                self.rcpt_args.append(value)
            elif name == "Received":  # smtp-sink's own three-line header closes its part
                while i < len(lines) and lines[i][:1] == b"\t":
                    i += 1
                break
        body = b"\n".join(lines[i:])
        # the dump appends one empty line after the message
        self.data = body[:-1] if body.endswith(b"\n\n") else body

    @property
    def mail_from(self):
        """The reverse path of MAIL FROM without its brackets and parameters."""
        return _path_of(self.mail_args)

    @property
    def rcpts(self):
        return [_path_of(a) for a in self.rcpt_args]

    def header(self, name):
        """The first header field NAME of the message (unfolded), or None."""
        head = self.data.split(b"\n\n", 1)[0].decode("utf-8", "replace")
        cur = None
        for line in head.split("\n"):
            if line[:1] in (" ", "\t") and cur is not None:
                cur[1] += " " + line.strip()
                continue
            if cur and cur[0].lower() == name.lower():
                return cur[1]
            key, _, value = line.partition(":")
            cur = [key.strip(), value.strip()]
        if cur and cur[0].lower() == name.lower():
            return cur[1]
        return None

    def __repr__(self):
        return "SinkMessage(from=%r, rcpts=%r, %d bytes)" % (self.mail_args, self.rcpt_args,
                                                               len(self.data))


def _path_of(args):
    if args is None:
        return None
    args = args.strip()
    if args.startswith("<"):
        return args[1:args.index(">")] if ">" in args else args[1:]
    return args.split(" ", 1)[0]


class SmtpSink:
    """Postfix's smtp-sink in the foreground on HOST:PORT (or a Unix socket), dumping each
    transaction into its own file under tmp/<name>/ (`-d DIR/%M.`).

    args are extra smtp-sink options: ["-r", "RCPT"] 4xx, ["-f", "RCPT", "-B", "550 5.1.1 no
    such user"] 5xx, ["-q", "DATA"] drop, ["-w", "3"] slow DATA reply, ["-N"] no DSN."""

    def __init__(self, tmp, port=None, host="127.0.0.1", args=(), lmtp=False, unix=None,
                 start=True):
        self.host = host
        self.unix = str(unix) if unix else None
        self.port = None if self.unix else (port or free_port(host))
        where = os.path.basename(self.unix) if self.unix else "%s-%d" % (host, self.port)
        self.dir = pathlib.Path(tmp) / ("sink-" + where)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.args = list(args) + (["-L"] if lmtp and "-L" not in args else [])
        self.logpath = self.dir.parent / (self.dir.name + ".log")
        self.proc = None
        if start:
            self.start()

    @property
    def target(self):
        """The address as relayguard's config spells it: HOST:PORT or unix:PATH."""
        return "unix:" + self.unix if self.unix else "%s:%d" % (self.host, self.port)

    def start(self):
        cmd = [SMTP_SINK]
        if os.geteuid() == 0:
            cmd += ["-u", "root"]  # smtp-sink refuses to run as root without a user
        listen = "unix:" + self.unix if self.unix else "inet:%s:%d" % (self.host, self.port)
        if self.unix and os.path.exists(self.unix):
            os.unlink(self.unix)
        cmd += self.args + ["-d", str(self.dir) + "/%M.", listen, "64"]
        self.logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=self.logf,
                                     stdin=subprocess.DEVNULL)
        if not wait_until(lambda: self.proc.poll() is not None or
                          _connectable(self.host, self.port, self.unix), 5):
            self.stop()
            raise RuntimeError("smtp-sink did not start: %s" % self.logpath.read_text())
        if self.proc.poll() is not None:
            self.logf.close()
            raise RuntimeError("smtp-sink exited: %s" % self.logpath.read_text())
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.logf.close()
        self.proc = None

    def _open_files(self):
        """Dump files the running smtp-sink still holds open (transactions in progress)."""
        if not self.proc or self.proc.poll() is not None:
            return set()
        fddir = "/proc/%d/fd" % self.proc.pid
        out = set()
        try:
            for fd in os.listdir(fddir):
                try:
                    out.add(os.readlink(os.path.join(fddir, fd)))
                except OSError:
                    pass
        except OSError:
            pass
        return out

    def messages(self):
        """The finished transactions, oldest first. A dump file still open (transaction in
        progress) or left empty (transaction aborted: smtp-sink writes only at the end) is
        not a message."""
        busy = self._open_files()
        paths = [p for p in self.dir.iterdir() if str(p) not in busy]
        out = []
        for p in sorted(paths, key=lambda p: (p.stat().st_mtime_ns, p.name)):
            raw = p.read_bytes()
            if raw:
                out.append(SinkMessage(p, raw))
        return out

    def wait_messages(self, n, timeout=5):
        """Wait (bounded) for at least n messages; returns what is there then."""
        return wait_until(lambda: len(self.messages()) >= n and self.messages(), timeout) or \
            self.messages()

    def logtext(self):
        return self.logpath.read_text(errors="replace") if self.logpath.exists() else ""


class Script:
    """The behaviour of one scripted connection. Every reply is a full reply line without CRLF
    (or a list of lines for a multi-line reply). Recipient-dependent replies take a dict
    {address: reply} with "*" as default, or a callable(address) -> reply.

    drop_at       "MAIL", "RCPT", "DATA" or "." : close the connection instead of replying
    drop_after    close the connection after this many bytes of message data
    delay         {"DATA": seconds, ".": seconds, ...}: wait before replying to that command
    lmtp_rcpt     LMTP: the reply after the final dot for each accepted recipient"""

    def __init__(self, greeting="220 sink.example ESMTP scripted", ehlo=None,
                 mail="250 2.1.0 Ok", rcpt="250 2.1.5 Ok",
                 data="354 End data with <CR><LF>.<CR><LF>", end="250 2.0.0 Ok: queued", drop_at=None, drop_after=None, delay=None,
                 lmtp_rcpt=None):
        self.greeting = greeting
        self.ehlo = ehlo if ehlo is not None else ["PIPELINING", "8BITMIME", "SIZE 52428800",
                                                   "ENHANCEDSTATUSCODES", "DSN", "SMTPUTF8"]
        self.mail = mail
        self.rcpt = rcpt
        self.data = data
        self.end = end
        self.drop_at = drop_at
        self.drop_after = drop_after
        self.delay = delay or {}
        self.lmtp_rcpt = lmtp_rcpt if lmtp_rcpt is not None else "250 2.1.5 Ok delivered"

    @staticmethod
    def pick(reply, addr):
        if callable(reply):
            return reply(addr)
        if isinstance(reply, dict):
            return reply.get(addr, reply.get("*"))
        return reply


class Transaction:
    """What a client sent in one MAIL transaction. data is the DATA section byte-exact as it
    came over the wire (dot-stuffed, CRLF, without the final ".\\r\\n"); complete is False when
    the connection ended before the final dot; accepted is what the sink answered."""

    def __init__(self, mail_args):
        self.mail_args = mail_args
        self.rcpt_args = []
        self.accepted_rcpts = []
        self.data = b""
        self.complete = False
        self.accepted = False
        self.lmtp_replies = {}  # LMTP: recipient -> the reply after the final dot

    @property
    def mail_from(self):
        return _path_of(self.mail_args)

    @property
    def rcpts(self):
        return [_path_of(a) for a in self.rcpt_args]

    def unstuffed(self):
        """The message as the receiver stores it: dot-unstuffed, CRLF kept."""
        lines = self.data.split(b"\r\n")
        return b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)

    def __repr__(self):
        return "Transaction(%r, %r, %d bytes, complete=%s)" % (self.mail_args, self.rcpt_args,
                                                                len(self.data), self.complete)


class Connection:
    def __init__(self, index):
        self.index = index
        self.received = b""     # every byte the client sent, in order
        self.sent = b""         # every byte the sink sent
        self.commands = []      # command lines (without CRLF)
        self.transactions = []
        self.opened = time.monotonic()  # when the client connected
        self.closed = None              # when the session ended
        self.peer = None                # the client's address: (ip, port) for TCP


class _Dropped(Exception):
    pass


class _Handler(socketserver.BaseRequestHandler):
    LINE_MAX = 4096

    def setup(self):
        self.sink = self.server.sink
        self.conn = self.sink._new_connection()
        self.conn.peer = self.client_address
        self.script = self.sink._script_for(self.conn.index)
        self.request.settimeout(self.sink.io_timeout)
        self.buf = b""

    def handle(self):
        try:
            self.session()
        except (_Dropped, OSError, EOFError):
            pass
        finally:
            self.conn.closed = time.monotonic()

    def send(self, reply):
        lines = reply if isinstance(reply, list) else [reply]
        out = b"".join(l.encode() + b"\r\n" for l in lines)
        self.conn.sent += out
        self.request.sendall(out)

    def recv_more(self):
        chunk = self.request.recv(65536)
        if not chunk:
            raise EOFError
        self.conn.received += chunk
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > self.LINE_MAX:
                raise EOFError
            self.recv_more()
        line, self.buf = self.buf.split(b"\r\n", 1)
        text = line.decode("utf-8", "replace")
        self.conn.commands.append(text)
        return text

    def maybe(self, verb):
        s = self.script
        if verb in s.delay:
            time.sleep(s.delay[verb])
        if s.drop_at == verb:
            raise _Dropped

    def session(self):
        s = self.script
        self.maybe("CONNECT")
        self.send(s.greeting)
        tx = None
        lmtp = self.sink.lmtp
        while True:
            cmd = self.line()
            verb = cmd.split(" ", 1)[0].upper()
            arg = cmd[len(verb):].strip()
            if verb in ("EHLO", "LHLO", "HELO"):
                if (verb == "LHLO") != lmtp:
                    self.send("500 5.5.1 wrong greeting for this protocol")
                    continue
                self.maybe(verb)
                self.send(["250-sink.example"] + ["250-" + e for e in s.ehlo[:-1]] +
                          ["250 " + s.ehlo[-1]] if s.ehlo else ["250 sink.example"])
            elif verb == "MAIL":
                self.maybe("MAIL")
                tx = Transaction(arg[5:].strip() if arg.upper().startswith("FROM:") else arg)
                self.conn.transactions.append(tx)
                self.send(s.mail)
            elif verb == "RCPT":
                self.maybe("RCPT")
                rargs = arg[3:].strip() if arg.upper().startswith("TO:") else arg
                reply = Script.pick(s.rcpt, _path_of(rargs))
                if tx is not None:
                    tx.rcpt_args.append(rargs)
                    if reply.startswith("2"):
                        tx.accepted_rcpts.append(_path_of(rargs))
                self.send(reply)
            elif verb == "DATA":
                self.maybe("DATA")
                if tx is None or not tx.accepted_rcpts:
                    self.send("554 5.5.1 no valid recipients")
                    continue
                self.send(s.data)
                if not s.data.startswith("3"):
                    continue
                self.read_data(tx)
                self.maybe(".")
                self.finish_data(tx, lmtp)
                tx = None
            elif verb == "RSET":
                tx = None
                self.send("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.send("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.send("221 2.0.0 Bye")
                return
            else:
                self.send("502 5.5.2 command not recognised")

    def read_data(self, tx):
        """Read up to CRLF.CRLF. The data starts right after the 354, at a line start, so a
        virtual CRLF is put in front of it when looking for the terminator."""
        s = self.script
        pending, self.buf = self.buf, b""
        start = 0
        while True:
            virt = b"\r\n" + pending
            e = virt.find(b"\r\n.\r\n", start)
            limit = len(pending) if e < 0 else e
            if s.drop_after is not None and limit > s.drop_after:
                tx.data = pending[:s.drop_after]
                raise _Dropped
            if e >= 0:
                tx.data = pending[:e]
                self.buf = pending[e + 3:]
                tx.complete = True
                return
            start = max(0, len(virt) - 4)
            tx.data = pending
            chunk = self.request.recv(65536)
            if not chunk:
                raise EOFError
            self.conn.received += chunk
            pending += chunk

    def finish_data(self, tx, lmtp):
        s = self.script
        if not lmtp:
            reply = s.end
            tx.accepted = reply.startswith("2")
            self.send(reply)
            return
        replies = [Script.pick(s.lmtp_rcpt, r) for r in tx.accepted_rcpts]
        tx.accepted = any(r.startswith("2") for r in replies)
        tx.lmtp_replies = dict(zip(tx.accepted_rcpts, replies))
        self.send(replies)


class _TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class _UnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


class ScriptedSink:
    """A threaded SMTP (or LMTP) server on HOST:PORT or a Unix socket. scripts is a list of
    Script, one per connection in order; connections past the end use the last one (or an
    accepting Script if the list is empty). connections holds what every client sent."""

    def __init__(self, port=None, host="127.0.0.1", scripts=(), lmtp=False, unix=None,
                 io_timeout=10):
        self.host = host
        self.unix = str(unix) if unix else None
        self.port = None if self.unix else (port or free_port(host))
        self.scripts = list(scripts)
        self.lmtp = lmtp
        self.io_timeout = io_timeout
        self.connections = []
        self.lock = threading.Lock()
        if self.unix:
            if os.path.exists(self.unix):
                os.unlink(self.unix)
            self.server = _UnixServer(self.unix, _Handler)
            # like a real LMTP server's socket: relayguard, run as root, has dropped to its
            # own user and connects as that user
            os.chmod(self.unix, 0o666)
        else:
            self.server = _TCPServer((host, self.port), _Handler)
        self.server.sink = self
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def target(self):
        return "unix:" + self.unix if self.unix else "%s:%d" % (self.host, self.port)

    def _new_connection(self):
        with self.lock:
            conn = Connection(len(self.connections))
            self.connections.append(conn)
            return conn

    def _script_for(self, index):
        if not self.scripts:
            return Script()
        return self.scripts[min(index, len(self.scripts) - 1)]

    def transactions(self):
        with self.lock:
            return [t for c in self.connections for t in c.transactions]

    def delivered(self):
        """Transactions that ended with the final dot and a 2xx (for LMTP: for some recipient)."""
        return [t for t in self.transactions() if t.complete and t.accepted]

    def wait_delivered(self, n, timeout=5):
        return wait_until(lambda: len(self.delivered()) >= n and self.delivered(), timeout) or \
            self.delivered()

    def wait_connections(self, n, timeout=5):
        return wait_until(lambda: len(self.connections) >= n, timeout) and self.connections

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        if self.unix and os.path.exists(self.unix):
            os.unlink(self.unix)


def bare_line_ends(data):
    """Offsets of every CR not followed by LF and every LF not preceded by CR."""
    out = []
    for i, b in enumerate(data):
        if b == 0x0D and data[i + 1:i + 2] != b"\n":
            out.append(i)
        elif b == 0x0A and (i == 0 or data[i - 1:i] != b"\r"):
            out.append(i)
    return out
