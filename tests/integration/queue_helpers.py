"""Helpers of the queue command tests: a server whose relayed mail goes to a route on
127.0.0.5 where nothing listens yet (so it stays deferred, retry-min 1h), and the smtp-sink
that can be started there later."""
import json
import os
import pathlib
import pwd
import smtplib
import socket
import subprocess
import time

from ports import free_port

SINK_HOST = "127.0.0.5"
SINK_BIN = "/usr/sbin/smtp-sink"


def free_port_on(host):
    return free_port(host)


def route_extra(port):
    return ("route * via %s:%d\ndelivery retry-min 1h\ndelivery retry-max 1h\n"
            "delivery-tls none" % (SINK_HOST, port))


class Sink:
    """/usr/sbin/smtp-sink on SINK_HOST:port, each message dumped into a file of dir."""

    def __init__(self, tmp, port):
        self.dir = pathlib.Path(tmp) / "sink"
        self.dir.mkdir(exist_ok=True)
        self.port = port
        self.proc = None

    def start(self):
        user = pwd.getpwuid(os.getuid()).pw_name
        self.proc = subprocess.Popen([SINK_BIN, "-u", user, "-d", str(self.dir) + "/m.",
                                      "%s:%d" % (SINK_HOST, self.port), "16"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 5
        while time.time() < deadline:
            try:
                socket.create_connection((SINK_HOST, self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("smtp-sink did not start")

    def messages(self):
        return sorted(p.read_bytes() for p in self.dir.iterdir())

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=5)
            self.proc = None


def send(srv, rcpts, subject="queued", sender="alice@example.test"):
    with smtplib.SMTP("127.0.0.1", srv.port, source_address=("127.0.0.1", 0)) as s:
        s.sendmail(sender, rcpts, "Subject: %s\r\nFrom: <%s>\r\n\r\nbody\r\n" % (subject, sender))


def queue_json(srv):
    out = srv.ctl("queue", "list", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["messages"]


def wait_queue(srv, pred, timeout=10):
    """Poll `queue list --json` (bounded) until pred(messages) holds; returns the messages."""
    deadline = time.time() + timeout
    while True:
        msgs = queue_json(srv)
        if pred(msgs) or time.time() > deadline:
            return msgs
        time.sleep(0.05)


def all_deferred(msgs, n=1):
    return len(msgs) == n and all(r["state"] == "deferred" for m in msgs
                                  for r in m["recipients"] if r["state"] != "done")


def wait_files(sink, n, timeout=10):
    deadline = time.time() + timeout
    while len(sink.messages()) < n and time.time() < deadline:
        time.sleep(0.05)
    return sink.messages()
