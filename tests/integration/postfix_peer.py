"""A private Postfix instance (the Debian package, `postfix -c DIR start`) on loopback high
ports, as a real peer for `relayguard probe` and nmap. One master, three smtpd listeners:

closed    main.cf as Postfix ships it for relaying: mynetworks = 127.0.0.1/32 and the default
          smtpd_relay_restrictions (permit_mynetworks, permit_sasl_authenticated,
          defer_unauth_destination): an outside client cannot relay
open      the same with -o mynetworks=0.0.0.0/0: an open relay
open_tls  the open one with -o smtpd_tls_wrappermode=yes (implicit TLS, the port 465 role)

Every listener offers STARTTLS (smtpd_tls_security_level = may, a self-signed certificate made
with `openssl req -x509`). Postfix never delivers anywhere: default_transport = discard, and
only the catcher's domain ([CATCH_HOST], an address literal) is routed, by transport_maps, to
CATCH_HOST:catch_port on loopback, where `probe --catch` listens. (error as the default
transport would not do: smtpd refuses at RCPT what resolves to the error transport.)

Test speed: no reverse lookup of the client (smtpd_peername_lookup = no) and no error sleep
(smtpd_error_sleep_time = 0s), which Postfix otherwise applies after 10 refused commands."""
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile

from sinks import free_port, wait_until, _connectable

CATCH_HOST = "127.0.0.9"

MASTER_CF = """\
{host}:{closed} inet n - n - - smtpd
{host}:{open} inet n - n - - smtpd -o mynetworks=0.0.0.0/0
{host}:{open_tls} inet n - n - - smtpd -o mynetworks=0.0.0.0/0 -o smtpd_tls_wrappermode=yes
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
myhostname = {name}
mydomain = test
myorigin = $myhostname
mydestination = $myhostname
alias_maps =
alias_database =
local_recipient_maps =
biff = no
# Postfix checks inet_interfaces against the interfaces' addresses: only 127.0.0.1 is one;
# the listeners themselves are bound in master.cf
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
default_transport = discard:relayguard test instance, never delivers
relay_transport = discard:relayguard test instance, never delivers
local_transport = discard:relayguard test instance, never delivers
transport_maps = texthash:{d}/conf/transport
smtp_dns_support_level = disabled
fast_flush_domains =
smtpd_peername_lookup = no
smtpd_error_sleep_time = 0s
smtpd_tls_security_level = may
smtpd_tls_cert_file = {d}/conf/cert.pem
smtpd_tls_key_file = {d}/conf/key.pem
"""


class PostfixPeer:
    def __init__(self, host="127.0.0.3", name="pf.example.test"):
        self.host = host
        self.name = name
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="rg-postfix-"))
        # Postfix's daemons run as the postfix user: the tree must be traversable
        os.chmod(self.dir, 0o755)
        self.conf = self.dir / "conf"
        self.ports = {k: free_port(host) for k in ("closed", "open", "open_tls")}
        self.catch_port = free_port(CATCH_HOST)
        self.catch = "%s:%d" % (CATCH_HOST, self.catch_port)
        self.master_pid = None

    def write(self):
        for sub in ("conf", "queue", "data"):
            (self.dir / sub).mkdir()
        shutil.chown(self.dir / "data", "postfix", "postfix")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=" + self.name, "-keyout", str(self.conf / "key.pem"),
                        "-out", str(self.conf / "cert.pem")], check=True, capture_output=True,
                       timeout=30)
        (self.conf / "main.cf").write_text(MAIN_CF.format(d=self.dir, name=self.name))
        (self.conf / "master.cf").write_text(MASTER_CF.format(host=self.host, **self.ports))
        (self.conf / "transport").write_text(
            "[%s] smtp:[%s]:%d\n" % (CATCH_HOST, CATCH_HOST, self.catch_port))

    def start(self):
        self.write()
        out = subprocess.run(["postfix", "-c", str(self.conf), "start"], capture_output=True,
                             text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError("postfix start failed: %s %s %s" % (out.stdout, out.stderr,
                                                                     self.maillog()))
        pid = self.dir / "queue" / "pid" / "master.pid"
        wait_until(lambda: pid.exists() and pid.read_text().strip(), 10)
        self.master_pid = int(pid.read_text().strip())
        for port in self.ports.values():
            if not wait_until(lambda: _connectable(self.host, port, None), 10):
                raise RuntimeError("postfix does not listen on %d: %s" % (port, self.maillog()))
        return self

    def stop(self):
        """postfix stop, then (bounded) wait for the master to go; kill it if it stays."""
        if self.master_pid:
            subprocess.run(["postfix", "-c", str(self.conf), "stop"], capture_output=True,
                           timeout=30)
            if not wait_until(lambda: not _alive(self.master_pid), 10):
                os.kill(self.master_pid, signal.SIGKILL)
                wait_until(lambda: not _alive(self.master_pid), 5)
            self.master_pid = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def maillog(self):
        log = self.dir / "maillog"
        return log.read_text(errors="replace") if log.exists() else ""

    def target(self, which):
        return "%s:%d" % (self.host, self.ports[which])


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def available():
    return shutil.which("postfix") is not None and os.geteuid() == 0

