"""The control socket: owner-only, one request line and one answer, `relayguard status`, clear
errors when the server is not there, stale sockets replaced, live ones never stolen, bounded
connections, and only the same uid (or root) may talk."""
import os
import pathlib
import shutil
import socket
import stat
import smtplib
import subprocess
import tempfile
import time

import pytest
from conftest import BASE_CONF, BIN, free_port
from smtp_helpers import expect, session, wait_log


def sock_path(srv):
    return srv.tmp / "run" / "relayguard.sock"


def request(path, data, timeout=5):
    """Send raw bytes to the control socket; the whole answer (the server closes after it)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        try:
            s.sendall(data)
        except BrokenPipeError:
            pass  # refused at once: the answer is still there to read
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                chunk = b""  # Unix sockets: only after everything sent before it was read
            if not chunk:
                return out.decode()
            out += chunk


def status_fields(text):
    return dict(line.split(" ", 1) for line in text.splitlines())


def test_socket_is_owner_only_in_an_owner_only_directory(server):
    st = os.stat(sock_path(server))
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert stat.S_IMODE(os.stat(sock_path(server).parent).st_mode) == 0o700  # created by serve
    assert wait_log(server, "control: listening", "path=%s" % sock_path(server))


def test_status_reports_the_running_server(make_server, raw):
    srv = make_server()
    with smtplib.SMTP("127.0.0.1", srv.port, source_address=("127.0.0.1", 0)) as s:
        s.sendmail("alice@example.test", ["friend@remote.example"], "Subject: q\r\n\r\nx\r\n")
    open_session = session(raw, srv.port)  # one client connected while we ask
    out = srv.ctl("status")
    assert out.returncode == 0, out.stderr
    f = status_fields(out.stdout)
    assert f["pid"] == str(srv.proc.pid)
    assert f["state"] == "running"
    assert f["config"] == str(srv.conf)
    assert f["sessions"] == "1"
    assert f["queued"] == "1"  # the relayed message stays queued
    assert f["reloads"] == "0" and int(f["uptime"]) >= 0
    open_session.close()


def test_server_down_is_exit_2_with_a_clear_message(make_server):
    srv = make_server(start=False)
    for cmd in ("status", "reload"):
        out = srv.ctl(cmd)
        assert out.returncode == 2
        assert out.stderr.startswith("relayguard: cannot reach the server at %s: " % sock_path(srv)), out.stderr
    srv.start()
    assert srv.ctl("status").returncode == 0
    assert srv.stop() == 0
    assert not sock_path(srv).exists()  # removed at a clean stop
    out = srv.ctl("reload")
    assert out.returncode == 2 and "cannot reach the server" in out.stderr
    srv.start()  # so the fixture's stop has something to stop


def test_unreadable_config_is_exit_2(tmp_path):
    out = subprocess.run([BIN, "status", "-c", str(tmp_path / "none.conf")],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 2
    assert "none.conf: cannot read: No such file or directory" in out.stderr


def test_stale_socket_of_a_killed_server_is_replaced(make_server):
    srv = make_server()
    srv.kill9()
    assert sock_path(srv).exists()  # left behind
    assert srv.ctl("status").returncode == 2
    srv.start()
    assert wait_log(srv, "control: removed a stale socket")
    assert srv.ctl("status").returncode == 0


def test_a_live_servers_socket_is_never_taken(make_server):
    srv = make_server()
    other = srv.tmp / "second.conf"
    text = srv.conf.read_text().replace(str(srv.port), str(free_port()))
    other.write_text(text.replace("spool %s/spool" % srv.tmp, "spool %s/spool2" % srv.tmp))
    out = subprocess.run([BIN, "serve", "-c", str(other)], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 1
    assert "control-socket %s: another relayguard server is running on it" % sock_path(srv) in out.stderr
    assert srv.ctl("status").returncode == 0  # the first server's socket is still there


def test_something_else_at_the_path_is_not_removed(tmp_path, make_server):
    srv = make_server(start=False)
    sock_path(srv).parent.mkdir(mode=0o700)
    sock_path(srv).write_text("not a socket")
    out = subprocess.run([BIN, "serve", "-c", str(srv.conf)], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 1 and "exists and is not a socket" in out.stderr
    assert sock_path(srv).read_text() == "not a socket"


@pytest.mark.parametrize("data,answer", [
    pytest.param(b"frobnicate\n", "error unknown command 'frobnicate'\n", id="unknown"),
    pytest.param(b"status now\n", "error usage: status\n", id="extra-argument"),
    pytest.param(b"reload x\n", "error usage: reload [sudo-user=NAME]\n", id="reload-argument"),
    pytest.param(b"\n", "error empty request\n", id="empty"),
    pytest.param(b"   \r\n", "error empty request\n", id="blank-crlf"),
    pytest.param(b"status\tx\n", "error control character in the request\n", id="tab"),
    pytest.param(b"status\x00x\n", "error control character in the request\n", id="nul"),
    pytest.param(b"x" * 5000 + b"\n", "error request line too long\n", id="too-long"),
    pytest.param(b" ".join([b"w"] * 65) + b"\n", "error too many words in the request\n", id="65-words"),
])
def test_protocol_errors(server, data, answer):
    assert request(sock_path(server), data) == answer


def test_request_words_may_be_separated_by_several_spaces(server):
    out = request(sock_path(server), b"  status  \n")
    assert out.startswith("ok\npid %d\n" % server.proc.pid), out


def test_the_request_line_may_arrive_in_pieces(server):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(sock_path(server)))
        for piece in (b"sta", b"tu", b"s\n"):
            s.sendall(piece)
            time.sleep(0.05)
        assert s.recv(3) == b"ok\n"


def test_connections_are_bounded(server):
    idle = []
    try:
        for _ in range(16):  # CONTROL_MAX_CLIENTS, each waiting to send its request
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(5)
            s.connect(str(sock_path(server)))
            idle.append(s)
        time.sleep(0.2)
        assert request(sock_path(server), b"status\n") == \
            "error too many control connections, try again\n"
        out = server.ctl("status")
        assert out.returncode == 1
        assert out.stderr == "relayguard: too many control connections, try again\n"
    finally:
        for s in idle:
            s.close()
    deadline = time.time() + 5
    while time.time() < deadline and not request(sock_path(server), b"status\n").startswith("ok"):
        time.sleep(0.05)
    assert request(sock_path(server), b"status\n").startswith("ok\n")
    assert wait_log(server, "control: too many clients")


PEER = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
try:
    s.sendall(b"status\n")
except BrokenPipeError:
    pass
out = b""
while True:
    try:
        c = s.recv(4096)
    except ConnectionResetError:
        c = b""
    if not c:
        break
    out += c
sys.stdout.write(out.decode())
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another user")
def test_another_uid_is_refused_even_if_the_file_mode_allows_it(make_server):
    """SO_PEERCRED: besides the 0600 mode, the server itself checks who connects."""
    shared = pathlib.Path(tempfile.mkdtemp(prefix="rgctl"))
    os.chmod(shared, 0o755)  # so that another user can reach the socket file at all
    path = shared / "ctl.sock"
    try:
        srv = make_server(conf_text=BASE_CONF.replace("control-socket {tmp}/run/relayguard.sock",
                                                      "control-socket %s" % path))
        os.chmod(path, 0o666)  # what an admin's mistake would do
        out = subprocess.run(["/usr/bin/python3", "-c", PEER, str(path)], capture_output=True,
                             text=True, timeout=10, user=65534, group=65534)
        assert out.stdout == "error permission denied\n", out
        assert wait_log(srv, "control: refused a client", "uid=65534")
        assert request(path, b"status\n").startswith("ok\n")  # root may
        assert srv.stop() == 0
    finally:
        shutil.rmtree(shared, ignore_errors=True)
