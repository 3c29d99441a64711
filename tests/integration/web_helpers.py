"""`relayguard web` for the web tests: a config with a blocklist store and a free port, the
server started and stopped, and small urllib helpers that return (status, headers, body)."""
import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

from conftest import BIN
from ports import free_port


def write_conf(tmp_path, port, extra=""):
    conf = tmp_path / "web.conf"
    conf.write_text(
        "hostname bl.example.test\n"
        "listen 127.0.0.1:9\n"  # required by the config; `web` never opens it
        f"spool {tmp_path}/spool\n"
        f"blocklist-database {tmp_path}/db/blocklist.db\n"
        f"blocklist-web-listen 127.0.0.1:{port}\n" + extra)
    return conf


def rg(conf, *args):
    p = subprocess.run([BIN, *args, "-c", str(conf)], capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    return p


class Web:
    """A running `relayguard web`; base is its URL."""

    def __init__(self, tmp_path, extra=""):
        # run as root, `web` drops to the user "relayguard" (as `serve` does): the store's
        # directory must be reachable by it (a tmp_path_factory directory is 0700)
        for d in (tmp_path.parent, tmp_path):
            os.chmod(d, os.stat(d).st_mode | 0o011)
        self.port = free_port()
        self.conf = write_conf(tmp_path, self.port, extra)
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "web.log"
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([BIN, "web", "-c", str(self.conf)], stdout=self.log,
                                     stderr=self.log)
        deadline = time.time() + 10
        while time.time() < deadline:
            assert self.proc.poll() is None, self.log_path.read_text()
            try:
                get(self.base + "/")
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("relayguard web did not answer: " + self.log_path.read_text())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            finally:
                if self.proc.poll() is None:
                    self.proc.kill()
        if self.proc:
            self.log.close()


def request(url, method="GET", body=None, headers=None, timeout=60):
    """(status, headers, body text) of one request; HTTP errors are answers too."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def get(url):
    return request(url)


def post_json(url, obj, content_type="application/json"):
    body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return request(url, "POST", body, {"Content-Type": content_type})


def post_form(url, fields):
    body = urllib.parse.urlencode(fields).encode()
    return request(url, "POST", body, {"Content-Type": "application/x-www-form-urlencoded"})
