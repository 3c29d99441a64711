"""relayguard probe: the relay battery over the wire. Against relayguard from outside (closed),
from the trusted host (open: every plain form reaches DATA), against nothing (could not test)
and against a server that says 250 to RCPT but refuses the message (accepts-rcpt, not open)."""
import json
import socketserver
import subprocess
import threading

import pytest
from conftest import BIN, free_port


def probe(*args, timeout=120):
    return subprocess.run([BIN, "probe", *args], capture_output=True, text=True, timeout=timeout)


def test_closed_from_outside(server):
    out = probe("--source", "127.0.0.2", "--json", "127.0.0.1:%d" % server.port)
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["result"] == "closed" and report["server_name"] == "mx.example.test"
    assert len(report["tests"]) >= 24
    assert {t["verdict"] for t in report["tests"]} == {"refused"}
    assert server.queue_list().strip().endswith("0 messages queued")


def test_open_from_the_trusted_host(server):
    out = probe("--source", "127.0.0.1", "--json", "127.0.0.1:%d" % server.port)
    assert out.returncode == 1
    report = json.loads(out.stdout)
    assert report["result"] == "OPEN RELAY"
    by_id = {t["id"]: t for t in report["tests"]}
    assert by_id["external-to-external"]["verdict"] == "OPEN"
    assert by_id["external-to-external"]["depth"] == "data"
    assert by_id["nmap-05"]["verdict"] == "refused"  # the percent hack never relays
    # nothing left the machine: the relayed test messages wait in our own queue
    assert "relay-test.example" in server.queue_list()


def test_table_output_and_verbose_transcript(server):
    out = probe("--source", "127.0.0.2", "--verbose", "127.0.0.1:%d" % server.port)
    assert out.returncode == 0
    assert "result: closed" in out.stdout and "nmap-16" in out.stdout
    assert "-> RCPT TO:<relaytest@relay-test.example>" in out.stderr
    assert "<- 554 5.7.1 Relay access denied" in out.stderr


def test_nothing_listening_is_not_a_verdict():
    out = probe("--timeout", "2", "127.0.0.1:%d" % free_port())
    assert out.returncode == 2 and "result: could not test" in out.stdout


class RejectAtData(socketserver.StreamRequestHandler):
    """250 to every MAIL and RCPT, 554 to DATA: relays nothing."""

    def handle(self):
        self.wfile.write(b"220 picky.example ESMTP\r\n")
        for line in self.rfile:
            verb = line[:4].upper()
            if verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            self.wfile.write(b"554 5.7.1 no relaying after all\r\n" if verb == b"DATA"
                             else b"250 ok\r\n")


@pytest.fixture
def picky_server():
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), RejectAtData)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_accepts_rcpt_but_refuses_data_is_not_open(picky_server):
    out = probe("--json", "127.0.0.1:%d" % picky_server)
    assert out.returncode == 0, out.stdout
    report = json.loads(out.stdout)
    assert report["result"] == "closed" and report["server_name"] == "picky.example"
    assert {t["verdict"] for t in report["tests"]} == {"accepts-rcpt"}
    assert {t["depth"] for t in report["tests"]} == {"rcpt"}


def test_silent_server_hits_the_timeouts_not_a_verdict():
    """--timeout bounds each reply, --max-time the whole run: a server that never speaks
    costs at most about timeout * 2 and every later test is marked as not run."""
    silent = socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler)
    listener = silent.socket  # accepted by the kernel's backlog, never answered
    try:
        out = probe("--timeout", "1", "--max-time", "1", "--json",
                    "127.0.0.1:%d" % listener.getsockname()[1], timeout=30)
    finally:
        silent.server_close()
    assert out.returncode == 2
    report = json.loads(out.stdout)
    assert report["result"] == "could not test"
    assert {t["verdict"] for t in report["tests"]} == {"error"}
    assert any("time limit of 1s" in t["note"] for t in report["tests"])
