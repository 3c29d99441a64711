"""Privilege separation: `relayguard serve` started as root binds its ports (below 1024 too),
then runs as the user "relayguard" with only CAP_NET_BIND_SERVICE; `user root` and a missing
user are refused; started as another user it runs as that user and drops nothing. `relayguard
dnsbl` and `relayguard web` do the same with no capability at all, after giving the user the
blocklist store that `list` made as root; their threads (rescan, delisting) still write it."""
import os
import pwd
import random
import smtplib
import socket
import subprocess

import sqlite3
import time

import pytest
from conftest import BIN, Server, free_port
from smtp_helpers import wait_log
from test_blocklist import free_udp_tcp_port
from test_scan import port_free_on, relayguard_on
from web_helpers import Web, get, post_json

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


def low_udp_tcp_port():
    """A port below 1024 free for UDP and TCP on a loopback address other than 127.0.0.1/2."""
    for _ in range(200):
        addr, port = low_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            try:
                u.bind((addr, port))
            except OSError:
                continue
        return addr, port
    raise RuntimeError("no free UDP and TCP port below 1024")


def assert_dropped_without_caps(pid, user):
    for st in status(pid):  # every thread: the loop, the store worker, the rescan or MHD ones
        assert ids(st, "Uid") == [user.pw_uid] * 4 and ids(st, "Gid") == [user.pw_gid] * 4
        assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0
        assert int(st["CapInh"], 16) == 0 and int(st["CapBnd"], 16) == 0
        assert st["NoNewPrivs"] == "1"
        assert st["Groups"].split() == [str(user.pw_gid)]


def assert_store_owned(db, user):
    for p in [db.parent, db] + [db.with_name(db.name + s) for s in ("-wal", "-shm")]:
        if p.exists():
            assert (os.stat(p).st_uid, os.stat(p).st_gid) == (user.pw_uid, user.pw_gid), p


def wait_for_line(path, text, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and text in path.read_text():
            return True
        time.sleep(0.05)
    return False


def list_cli(conf, *args):
    out = subprocess.run([BIN, "list", *args, "-c", str(conf)], capture_output=True, text=True,
                         timeout=20)
    assert out.returncode in (0, 1), out.stderr
    return out


def test_dnsbl_binds_a_low_port_then_runs_as_relayguard_and_rescans(tmp_path):
    """The store made by `list add` as root is given to the user; the DNS server answers on
    port < 1024 from a process with no capability left; the rescan thread, started after the
    drop, writes the store (a closed host's entry expires, by "scan:rescan")."""
    user = pwd.getpwnam("relayguard")
    addr, dport = low_udp_tcp_port()
    host_addr = "127.0.1.13"
    sport = port_free_on([host_addr])
    host = relayguard_on(tmp_path / "h", host_addr, sport)  # a closed relay
    conf = tmp_path / "dnsbl.conf"
    db = tmp_path / "db" / "blocklist.db"
    conf.write_text("hostname bl.example.test\nlisten 127.0.0.1:9\n"
                    f"spool {tmp_path}/spool\nblocklist-database {db}\n"
                    f"blocklist-zone bl.example.test\nblocklist-listen {addr}:{dport}\n"
                    f"scan-ports {sport}\nscan-source 127.0.0.2\nscan-timeout 5\n"
                    "scan-allow-reserved yes\nscan-rescan yes\nscan-rescan-interval 1s\n"
                    "blocklist-expire-after 0\n")
    list_cli(conf, "add", "192.0.2.9", "--reason", "listed by root")
    list_cli(conf, "add", host_addr, "--reason", "was open")
    assert os.stat(db).st_uid == 0 and os.stat(db.parent).st_uid == 0  # root's for now
    log_path = tmp_path / "dnsbl.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([BIN, "dnsbl", "-c", str(conf)], stdout=log, stderr=log)
    try:
        line = "dnsbl: running as user=relayguard uid=%d gid=%d" % (user.pw_uid, user.pw_gid)
        assert wait_for_line(log_path, "dnsbl serving"), log_path.read_text()
        assert line in log_path.read_text()
        assert_dropped_without_caps(proc.pid, user)
        assert_store_owned(db, user)
        dig = subprocess.run(["dig", "@" + addr, "-p", str(dport), "+time=2", "+tries=1",
                              "+short", "9.2.0.192.bl.example.test", "A"],
                             capture_output=True, text=True, timeout=10)
        assert dig.stdout.strip() == "127.0.0.2", dig
        deadline = time.time() + 15
        while time.time() < deadline and '"state":"expired"' not in \
                list_cli(conf, "show", host_addr, "--json").stdout:
            time.sleep(0.2)
        shown = list_cli(conf, "show", host_addr, "--json").stdout
        assert '"state":"expired"' in shown and '"who":"scan:rescan"' in shown, \
            log_path.read_text()
        assert_store_owned(db, user)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
        host.stop()
    assert proc.returncode == 0, log_path.read_text()


def test_scan_and_request_delist_run_as_relayguard(tmp_path):
    """Started as root, `relayguard scan` and `list request-delist` give the store to the user
    and become it before their first connection (they read what hostile servers send); the
    target file is read as root, before."""
    user = pwd.getpwnam("relayguard")
    host_addr = "127.0.1.14"
    sport = port_free_on([host_addr])
    host = relayguard_on(tmp_path / "h", host_addr, sport)  # a closed relay
    conf = tmp_path / "scan.conf"
    db = tmp_path / "db" / "blocklist.db"
    conf.write_text("hostname scanner.example.test\nlisten 127.0.0.1:9\n"
                    f"spool {tmp_path}/spool\nblocklist-database {db}\n"
                    f"scan-ports {sport}\nscan-source 127.0.0.2\nscan-timeout 5\n")
    targets = tmp_path / "targets"
    targets.write_text(host_addr + "\n")
    targets.chmod(0o600)  # root's alone
    list_cli(conf, "add", "192.0.2.9", "--reason", "listed by root")
    assert os.stat(db).st_uid == 0
    try:
        line = "running as user=relayguard uid=%d gid=%d" % (user.pw_uid, user.pw_gid)
        out = subprocess.run([BIN, "scan", "-c", str(conf), "-f", str(targets),
                              "--allow-reserved", "--json"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "scan: " + line in out.stderr and '"scanned":1' in out.stdout, out
        assert_store_owned(db, user)
        out = subprocess.run([BIN, "list", "request-delist", "192.0.2.9", "-c", str(conf)],
                             capture_output=True, text=True, timeout=60)
        assert "request-delist: " + line in out.stderr, out.stderr
        assert out.stdout.startswith("untested: "), out.stdout  # reserved: not rescanned
        assert_store_owned(db, user)
    finally:
        host.stop()


def test_web_runs_as_relayguard_and_writes_delisting_requests(tmp_path):
    user = pwd.getpwnam("relayguard")
    (tmp_path / "web").mkdir()
    web = Web(tmp_path / "web", extra="scan-source 127.0.0.2\n")
    db = tmp_path / "web" / "db" / "blocklist.db"
    list_cli(web.conf, "add", "192.0.2.1", "--reason", "open relay, listed by root")
    assert os.stat(db).st_uid == 0
    web.start()
    try:
        assert "web: running as user=relayguard uid=%d" % user.pw_uid in web.log_path.read_text()
        assert_dropped_without_caps(web.proc.pid, user)
        assert_store_owned(db, user)
        status_code, _, body = get(web.base + "/lookup?ip=192.0.2.1")
        assert status_code == 200 and "192.0.2.1 is listed" in body
        # a delisting request writes its row (the rate limit) to the store, as the user
        status_code, _, body = post_json(web.base + "/api/v1/delist", {"ip": "203.0.113.5"})
        assert status_code == 200 and '"status":"not-listed"' in body.replace(" ", ""), body
        status_code, _, body = post_json(web.base + "/api/v1/delist", {"ip": "203.0.113.5"})
        assert '"status":"rate-limited"' in body.replace(" ", ""), body
        con = sqlite3.connect(db)
        try:
            n = con.execute("SELECT count(*) FROM delist_requests").fetchone()[0]
        finally:
            con.close()
        assert n >= 1
        assert_store_owned(db, user)
    finally:
        web.stop()


def test_dnsbl_and_web_refuse_a_store_in_the_config_directory(tmp_path):
    conf = tmp_path / "bl.conf"
    conf.write_text("hostname bl.example.test\nlisten 127.0.0.1:9\n"
                    f"spool {tmp_path}/spool\nblocklist-database {tmp_path}/blocklist.db\n"
                    "blocklist-zone bl.example.test\nblocklist-listen 127.0.0.1:%d\n"
                    "blocklist-web-listen 127.0.0.1:%d\n" % (free_udp_tcp_port(), free_port()))
    for cmd in ("dnsbl", "web"):
        out = subprocess.run([BIN, cmd, "-c", str(conf)], capture_output=True, text=True,
                             timeout=10)
        assert out.returncode == 1, out.stderr
        assert "blocklist-database %s/blocklist.db: %s also holds the config file" \
            % (tmp_path, tmp_path) in out.stderr
    assert os.stat(tmp_path).st_uid == 0
