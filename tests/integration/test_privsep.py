"""Privilege separation: `relayguard serve` started as root binds its ports (below 1024 too),
then runs as the user "relayguard" with only CAP_NET_BIND_SERVICE; `user root` and a missing
user are refused; started as another user it runs as that user and drops nothing."""
import os
import pwd
import random
import smtplib
import socket
import subprocess

import pytest
from conftest import BIN, Server
from smtp_helpers import wait_log

CAP_NET_BIND_SERVICE = 1 << 10

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="serve drops root only when run as root")


def status(pid):
    """/proc/PID/status of the process and of each of its threads, as dicts."""
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            out.append(dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line))
    return out


def ids(st, key):
    return [int(x) for x in st[key].split()]


def low_port():
    """A free port below 1024 on a loopback address other than 127.0.0.1/2 (bounded tries)."""
    for _ in range(200):
        addr = "127.0.%d.%d" % (random.randint(3, 254), random.randint(1, 254))
        port = random.randint(600, 1023)
        with socket.socket() as s:
            try:
                s.bind((addr, port))
            except OSError:
                continue
        return addr, port
    raise RuntimeError("no free port below 1024")


def banner(addr, port):
    with socket.create_connection((addr, port), timeout=5) as s:
        return s.recv(512)


def send(port, rcpt="alice@example.test"):
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
        c.sendmail("someone@example.test", [rcpt], "Subject: privsep\r\n\r\nhello\r\n")


def test_root_start_runs_as_relayguard_and_binds_low_ports(make_server):
    user = pwd.getpwnam("relayguard")
    addr, port = low_port()
    srv = make_server("listen %s:%d" % (addr, port))
    line = "server: running as user=relayguard uid=%d gid=%d" % (user.pw_uid, user.pw_gid)
    assert wait_log(srv, line)
    for st in status(srv.proc.pid):  # every thread
        assert ids(st, "Uid") == [user.pw_uid] * 4 and ids(st, "Gid") == [user.pw_gid] * 4
        assert int(st["CapEff"], 16) == CAP_NET_BIND_SERVICE
        assert int(st["CapPrm"], 16) == CAP_NET_BIND_SERVICE and int(st["CapInh"], 16) == 0
        assert st["NoNewPrivs"] == "1"
    assert banner(addr, port).startswith(b"220 ")

    send(srv.port)
    msgs = srv.wait_messages("alice", 1)
    assert len(msgs) == 1
    owned = [msgs[0], srv.maildir("alice"), srv.tmp / "mail"] + list((srv.tmp / "spool").iterdir())
    assert any(p.name.endswith(".seg") for p in owned)
    for p in owned + [srv.tmp / "spool", srv.tmp / "run" / "relayguard.sock"]:
        st = os.stat(p)
        assert (st.st_uid, st.st_gid) == (user.pw_uid, user.pw_gid), p

    # a reload adds a second port below 1024: the kept capability binds it
    addr2, port2 = low_port()
    srv.conf.write_text(srv.conf.read_text() + "listen %s:%d\n" % (addr2, port2))
    out = srv.ctl("reload")
    assert out.returncode == 0, out.stderr
    assert banner(addr2, port2).startswith(b"220 ")
    assert banner(addr, port).startswith(b"220 ")


def test_files_root_left_in_the_spool_are_given_to_the_user(tmp_path, make_server):
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o700)
    (spool / "lock").touch(mode=0o600)  # as a server running as root before would have
    srv = make_server()
    assert os.stat(spool / "lock").st_uid == pwd.getpwnam("relayguard").pw_uid
    send(srv.port)
    assert len(srv.wait_messages("alice", 1)) == 1


def serve_fails(srv):
    out = subprocess.run([*srv.wrap, BIN, "serve", "-c", str(srv.conf)], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 1, out.stderr
    return out.stderr


def test_user_root_is_a_config_error(tmp_path):
    srv = Server(tmp_path, "user root")
    line = srv.conf.read_text().splitlines().index("user root") + 1
    err = serve_fails(srv)
    assert "%s:%d:6: 'user root' is refused" % (srv.conf, line) in err
    assert not (tmp_path / "spool").exists()


def test_a_missing_user_is_a_clear_start_error(tmp_path):
    srv = Server(tmp_path, "user rg-no-such-user")
    err = serve_fails(srv)
    assert "user rg-no-such-user: no such user; create it (`make install` or " \
           "`scripts/deps.sh build` do: useradd --system" in err
    assert "or name another one with 'user NAME' in %s" % srv.conf in err


def test_an_absolute_path_the_user_cannot_reach_is_a_start_error(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)  # root's, not searchable by the user
    srv = Server(tmp_path, "spool %s/spool" % private)
    srv.conf.write_text(srv.conf.read_text().replace("spool %s/spool\n" % tmp_path, "", 1))
    err = serve_fails(srv)
    assert "spool %s/spool: not usable as user relayguard: Permission denied" % private in err
    assert "server: running as user=relayguard" in err  # it was the check after the drop


def test_started_as_another_user_it_runs_as_that_user(tmp_path):
    user = pwd.getpwnam("relayguard")
    home = tmp_path / "as-user"  # config, spool and mail in a directory of that user
    home.mkdir()
    os.chown(home, user.pw_uid, user.pw_gid)
    srv = Server(home, "user someone-else")
    srv.wrap = ["setpriv", "--reuid", "relayguard", "--regid", "relayguard", "--clear-groups"]
    srv.start()
    try:
        assert wait_log(srv, "server: not started as root: 'user' is not used",
                        "user=relayguard", "configured=someone-else")
        assert "server: running as" not in srv.logtext()
        st = status(srv.proc.pid)[0]
        assert ids(st, "Uid") == [user.pw_uid] * 4 and int(st["CapEff"], 16) == 0
        send(srv.port)
        msgs = srv.wait_messages("alice", 1)
        assert len(msgs) == 1 and os.stat(msgs[0]).st_uid == user.pw_uid
    finally:
        assert srv.stop() == 0, srv.logtext()


def test_a_config_file_the_user_could_change_is_warned_about(make_server):
    user = pwd.getpwnam("relayguard")
    srv = make_server(start=False)
    os.chown(srv.conf, user.pw_uid, user.pw_gid)
    srv.start()
    assert wait_log(srv, "warn server: the config file is writable by the user",
                    "config=%s user=relayguard" % srv.conf)


def test_a_store_root_made_is_given_to_the_user(tmp_path, make_server):
    user = pwd.getpwnam("relayguard")
    srv = make_server("auth-database %s/db/users.db" % tmp_path, start=False)
    out = subprocess.run([BIN, "user", "add", "alice@example.test", "--stdin", "-c", str(srv.conf)],
                         input="secret\n", capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert os.stat(tmp_path / "db" / "users.db").st_uid == 0  # root's: its directory is root's
    srv.start()
    for p in (tmp_path / "db", tmp_path / "db" / "users.db"):
        assert os.stat(p).st_uid == user.pw_uid, p


def test_no_directory_of_the_config_file_is_given_away(tmp_path):
    srv = Server(tmp_path, "auth-database %s/users.db" % tmp_path)
    err = serve_fails(srv)
    assert "auth-database %s/users.db: %s also holds the config file %s" % (tmp_path, tmp_path, srv.conf) in err
    assert os.stat(tmp_path).st_uid == 0
