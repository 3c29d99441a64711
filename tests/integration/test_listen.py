"""Listeners: IPv6 as well as IPv4; several listen lines; a busy address is a clear error."""
import smtplib
import socket
import subprocess

import pytest
from conftest import BIN, free_port


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not have_ipv6_loopback(), reason="no ::1 on this machine")
def test_ipv6_listener_and_trusted_ipv6(make_server):
    port6 = free_port()
    srv = make_server("listen [::1]:%d" % port6)
    with smtplib.SMTP("::1", port6) as s:  # ::1 is a trusted network in the test config
        s.sendmail("alice@example.test", ["friend@remote.example"], "Subject: v6\r\n\r\nx\r\n")
        s.sendmail("x@outside.example", ["alice@example.test"], "Subject: v6\r\n\r\nx\r\n")
    assert len(srv.wait_messages("alice", 1)) == 1
    assert "client=::1" in srv.logtext()
    assert "<friend@remote.example>" in srv.queue_list()


def test_address_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        conf = tmp_path / "c.conf"
        conf.write_text("listen 127.0.0.1:%d\nspool %s/spool\ncontrol-socket %s/ctl.sock\n"
                        % (port, tmp_path, tmp_path))
        out = subprocess.run([BIN, "serve", "-c", str(conf)], capture_output=True, text=True,
                             timeout=10)
    assert out.returncode == 1
    assert "listen 127.0.0.1:%d" % port in out.stderr and "in use" in out.stderr


def test_spool_lock_refuses_a_second_server(make_server):
    srv = make_server()
    other = srv.tmp / "second.conf"
    text = srv.conf.read_text().replace(str(srv.port), str(free_port()))
    # its own control socket: the one the first server answers on would be refused first
    other.write_text(text.replace("/run/relayguard.sock", "/run2/relayguard.sock"))
    out = subprocess.run([BIN, "serve", "-c", str(other)], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 1 and "spool is in use" in out.stderr
