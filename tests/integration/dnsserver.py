"""A real DNS server for tests: Debian's dnsmasq in the foreground on 127.0.0.1:<free port>
(UDP and TCP), serving only the records given, nothing from /etc/hosts or /etc/resolv.conf.

    with DnsServer(tmp_path, mx=[("a.test", "mx1.a.test", 10)],
                   a=[("mx1.a.test", "127.0.0.1"), ("mx1.a.test", "::1")]) as dns:
        conf = "dns-server %s\\n" % dns.server      # "127.0.0.1:PORT"

Arguments (all optional, lists of tuples or names):
  mx=[(domain, host, pref)]  MX records; host "." makes a null MX (RFC 7505)
  a=[(name, ip)]             A or AAAA records (IPv4 or IPv6 text); repeat a name for several
  cname=[(alias, target)]    CNAME records (target must be a name given in a=)
  servfail=[domain]          the domain and its subdomains get an immediate server failure
                             (dnsmasq answers REFUSED: no upstream for it); a temporary error
  timeout=[domain]           the domain and its subdomains get no answer at all (forwarded to a
                             closed port): the resolver times out
  zones=("test",)            zones answered authoritatively: a name under them that is not given
                             is NXDOMAIN, a given name without the asked type is NODATA. Names
                             outside every zone get REFUSED.
The dnsmasq log (every query) is in tmp_path/dnsmasq.log."""
import os
import pathlib
import socket
import subprocess
import time

DNSMASQ = "/usr/sbin/dnsmasq"


def free_udp_tcp_port():
    """A loopback port free for both UDP and TCP (dnsmasq binds both)."""
    for _ in range(50):
        with socket.socket() as t, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port for DNS")


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        return u.getsockname()[1]


class DnsServer:
    def __init__(self, tmp_path, mx=(), a=(), cname=(), servfail=(), timeout=(), zones=("test",)):
        self.tmp = pathlib.Path(tmp_path)
        self.port = free_udp_tcp_port()
        self.server = "127.0.0.1:%d" % self.port
        self.log = self.tmp / "dnsmasq.log"
        args = [DNSMASQ, "--keep-in-foreground", "--port=%d" % self.port,
                "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                "--conf-file=/dev/null", "--pid-file=", "--log-queries",
                "--log-facility=%s" % self.log]
        if os.geteuid() == 0:
            args.append("--user=root")  # else it drops to nobody, who cannot write the log
        args += ["--local=/%s/" % z for z in zones]
        args += ["--mx-host=%s,%s,%d" % (d, h, p) for d, h, p in mx]
        args += ["--host-record=%s,%s" % (n, ip) for n, ip in a]
        args += ["--cname=%s,%s" % (al, t) for al, t in cname]
        args += ["--server=/%s/#" % d for d in servfail]
        closed = free_udp_port()
        args += ["--server=/%s/127.0.0.1#%d" % (d, closed) for d in timeout]
        self.args = args
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dnsmasq exited: %s" % self.proc.stderr.read().decode())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("dnsmasq did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.proc.stderr.close()
        self.proc = None

    def logtext(self):
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
