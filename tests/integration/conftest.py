"""Integration fixtures: start the real relayguard binary on a free loopback port with a
temporary config, spool and mail root; clients connect from 127.0.0.2 ("outside") or
127.0.0.1 (the trusted local host)."""
import hashlib
import os
import pathlib
import re
import signal
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
from ports import free_port  # noqa: F401 (tests import it from here)

BIN = os.environ.get("RELAYGUARD_BIN", str(pathlib.Path(__file__).resolve().parents[2] / "build" / "relayguard"))

BASE_CONF = """\
hostname mx.example.test
listen 127.0.0.1:{port}
spool {tmp}/spool
mail-root {tmp}/mail
local-domain example.test localhost
mailbox postmaster
mailbox alice
mailbox bob@example.test
trusted-network 127.0.0.1 ::1
relay allow from trusted id local-host
# never the machine's resolver: a port where no DNS server answers (lookups fail temporarily)
dns-server 127.0.0.1:9
limit line-length 1000
limit max-errors 10
control-socket {tmp}/run/relayguard.sock
state-dir {tmp}/state
{extra}
"""

DEAD_DNS = "dns-server 127.0.0.1:9\n"

# Run as root, `relayguard serve` drops to the user "relayguard" (docs/design.md, "Privilege
# separation"), so the test directories must be searchable by that user. pytest's default base
# (/tmp/pytest-of-root, 0700) is shared by every pytest session of the machine and each one
# resets it to 0700 when it starts; so, unless --basetemp is given, the base is
# /tmp/relayguard-tests/<checkout> (0711): one per checkout, emptied by pytest at each run.
TEST_ROOT = pathlib.Path(tempfile.gettempdir()) / "relayguard-tests"


def pytest_configure(config):
    if config.option.basetemp is None and os.geteuid() == 0:
        TEST_ROOT.mkdir(mode=0o711, exist_ok=True)
        st = TEST_ROOT.stat()
        assert st.st_uid == 0 and not st.st_mode & 0o022, "%s must be root's, not writable by others" % TEST_ROOT
        os.chmod(TEST_ROOT, 0o711)
        checkout = hashlib.sha256(str(pathlib.Path(__file__).resolve().parents[2]).encode())
        prefix = checkout.hexdigest()[:16] + "-"
        # one base per session (two runs from one checkout, e.g. `make test` and `make asan`,
        # must not empty each other's directories); bases of this checkout older than an hour go
        for old in TEST_ROOT.glob(prefix + "*"):
            if time.time() - old.stat().st_mtime > 3600:
                shutil.rmtree(old, ignore_errors=True)
        config.option.basetemp = tempfile.mkdtemp(prefix=prefix, dir=TEST_ROOT)


@pytest.fixture(autouse=True)
def _searchable_tmp_path(request):
    """Each test's tmp_path (and the base above it) searchable by the server's user, not
    readable: files the server must read or write there need to be its own or world-readable
    (what Python writes with umask 022 is)."""
    if "tmp_path" not in request.fixturenames:
        return
    tmp = request.getfixturevalue("tmp_path")
    for d in (tmp.parent, tmp):
        os.chmod(d, os.stat(d).st_mode | 0o011)


class Server:
    def __init__(self, tmp, extra="", conf_text=None):
        self.tmp = pathlib.Path(tmp)
        self.port = free_port()
        self.conf = self.tmp / "relayguard.conf"
        text = conf_text if conf_text is not None else BASE_CONF
        if conf_text is None and re.search(r"^dns-server ", extra, re.M):
            # the test's DNS server replaces the dead default instead of joining it: c-ares
            # would ask 127.0.0.1:9 first, and a query lost there waits out the timeout
            text = text.replace(DEAD_DNS, "")
        self.conf.write_text(text.format(port=self.port, tmp=self.tmp, extra=extra))
        self.log = self.tmp / "server.log"
        self.proc = None
        self.wrap = []  # a command the server runs under (setpriv: as another user)

    def started_lines(self):
        return self.logtext().count("server: started") if self.log.exists() else 0

    def start(self):
        """Start the server and return once it logged "server: started" (recovery done) and
        its port accepts connections."""
        before = self.started_lines()
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([*self.wrap, BIN, "serve", "-c", str(self.conf)], stdout=self.logf,
                                     stderr=self.logf)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + self.log.read_text())
            if self.started_lines() > before:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    return self
                except OSError:
                    pass
            time.sleep(0.02)
        raise RuntimeError("server did not start: " + self.log.read_text())

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else 0
        self.proc = None
        self.logf.close()
        return rc

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        self.logf.close()

    def ctl(self, *args, timeout=30):
        """Run a control-socket client command: `relayguard ARGS... -c CONF`."""
        return subprocess.run([BIN, *args, "-c", str(self.conf)], capture_output=True,
                              text=True, timeout=timeout)

    def logtext(self):
        return self.log.read_text(errors="replace")

    def maildir(self, user):
        return self.tmp / "mail" / user / "Maildir"

    def messages(self, user):
        new = self.maildir(user) / "new"
        if not new.exists():
            return []
        return sorted(new.iterdir())

    def wait_messages(self, user, n, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            msgs = self.messages(user)
            if len(msgs) >= n:
                return msgs
            time.sleep(0.02)
        return self.messages(user)

    def queue_list(self):
        out = subprocess.run([BIN, "queue", "list", "-c", str(self.conf)], capture_output=True,
                             text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout


@pytest.fixture
def make_server(tmp_path):
    servers = []

    def make(extra="", conf_text=None, start=True):
        srv = Server(tmp_path, extra, conf_text)
        servers.append(srv)
        return srv.start() if start else srv

    yield make
    for srv in servers:
        if srv.proc:
            rc = srv.stop()
            assert rc == 0, "server exit status %d\n%s" % (rc, srv.logtext()[-4000:])


@pytest.fixture
def server(make_server):
    return make_server()


class Raw:
    """A raw SMTP client for byte-exact conversations (smuggling, pipelining, limits)."""

    def __init__(self, port, source="127.0.0.2", timeout=10):
        self.sock = socket.socket()
        self.sock.settimeout(timeout)
        self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def reply(self):
        """Read one (possibly multi-line) reply; returns (code, text)."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("connection closed; got %r" % self.buf)
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode("utf-8", "replace"))
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), "\n".join(lines)

    def cmd(self, line):
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


@pytest.fixture
def raw():
    conns = []

    def make(port, source="127.0.0.2", timeout=10):
        c = Raw(port, source, timeout)
        conns.append(c)
        return c

    yield make
    for c in conns:
        c.close()
