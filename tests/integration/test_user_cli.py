"""relayguard user: the SMTP AUTH credential store (src/auth) through the real binary: add with
--stdin and on a terminal (no echo, asked twice), list/--json, lock/unlock, passwd, del, the
refusals and their exit statuses (0 done, 1 refused, 2 usage/config/store error), the file's
mode, no trace of a password in it, and writes while a reader holds the database (WAL)."""
import base64
import hashlib
import hmac
import json
import os
import pty
import re
import select
import sqlite3
import subprocess
import time

import pytest
from conftest import BIN, Server

PASSWORD = "correct horse battery staple 7"


@pytest.fixture
def srv(tmp_path):
    return Server(tmp_path, "auth-database %s/db/users.db\n" % tmp_path)


def db_path(srv):
    return srv.tmp / "db" / "users.db"


def user(srv, *args, stdin=None):
    return subprocess.run([BIN, "user", *args, "-c", str(srv.conf)], input=stdin,
                          capture_output=True, text=True, timeout=30)


def add(srv, login, password=PASSWORD, *extra):
    out = user(srv, "add", login, "--stdin", *extra, stdin=password + "\n")
    assert out.returncode == 0, out.stderr
    return out


def listing(srv):
    out = user(srv, "list", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def row(srv, login):
    with sqlite3.connect(db_path(srv)) as db:
        return db.execute("SELECT salt, iterations, stored_key, server_key, locked, created,"
                          " updated FROM users WHERE login = ?", (login,)).fetchone()


def scram_keys(password, salt, iterations):
    """RFC 5802 section 3, computed by Python's hashlib: independent of the C code."""
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return (hashlib.sha256(client_key).digest(),
            hmac.new(salted, b"Server Key", "sha256").digest())


def test_add_and_list(srv):
    assert add(srv, "Alice@Example.TEST").stdout == "alice@example.test: added\n"
    add(srv, "bob", "another one", "--iterations", "5000")
    users = listing(srv)
    assert [u["login"] for u in users] == ["alice@example.test", "bob"]
    assert [u["iterations"] for u in users] == [4096, 5000]
    assert not any(u["locked"] for u in users)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", u["created"]) for u in users)
    text = user(srv, "list")
    assert text.returncode == 0
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["LOGIN", "STATE", "ITERATIONS", "CREATED", "UPDATED"]
    assert lines[1].split()[:3] == ["alice@example.test", "active", "4096"]
    assert lines[2].split()[:3] == ["bob", "active", "5000"]


def test_stored_keys_are_scram_verifiers(srv):
    add(srv, "alice@example.test")
    salt, iterations, stored, server, locked, created, updated = row(srv, "alice@example.test")
    assert len(salt) == 16 and iterations == 4096 and locked == 0
    assert (stored, server) == scram_keys(PASSWORD, salt, iterations)


def test_lock_and_unlock(srv):
    add(srv, "alice@example.test")
    out = user(srv, "lock", "ALICE@example.test")
    assert out.returncode == 0 and out.stdout == "alice@example.test: locked\n"
    assert listing(srv)[0]["locked"] is True
    assert user(srv, "list").stdout.splitlines()[1].split()[1] == "locked"
    assert user(srv, "unlock", "alice@example.test").returncode == 0
    assert listing(srv)[0]["locked"] is False
    for cmd in ("lock", "unlock"):
        out = user(srv, cmd, "nobody@example.test")
        assert out.returncode == 1 and "no such user" in out.stderr


def test_passwd_changes_salt_and_keys(srv):
    add(srv, "alice@example.test")
    before = row(srv, "alice@example.test")
    out = user(srv, "passwd", "alice@example.test", "--stdin", "--iterations", "8192",
               stdin="new password\n")
    assert out.returncode == 0, out.stderr
    salt, iterations, stored, server, _, created, updated = row(srv, "alice@example.test")
    assert salt != before[0] and stored != before[2] and server != before[3]
    assert iterations == 8192 and created == before[5] and updated >= created
    assert (stored, server) == scram_keys("new password", salt, 8192)
    out = user(srv, "passwd", "bob", "--stdin", stdin="x\n")
    assert out.returncode == 1 and "no such user" in out.stderr


def test_del(srv):
    add(srv, "alice@example.test")
    add(srv, "bob")
    out = user(srv, "del", "Alice@example.test")
    assert out.returncode == 0 and out.stdout == "alice@example.test: deleted\n"
    assert [u["login"] for u in listing(srv)] == ["bob"]
    out = user(srv, "del", "alice@example.test")
    assert out.returncode == 1 and "no such user" in out.stderr


def test_refusals(srv):
    add(srv, "alice@example.test")
    out = user(srv, "add", "ALICE@example.test", "--stdin", stdin="x\n")
    assert out.returncode == 1 and "exists already" in out.stderr
    out = user(srv, "add", "bob", "--stdin", stdin="\n")
    assert out.returncode == 1 and "empty password" in out.stderr
    out = user(srv, "add", "bob", "--stdin", stdin="bell\x07\n")  # SASLprep: prohibited
    assert out.returncode == 1 and "SASLprep" in out.stderr
    out = user(srv, "add", "bob", "--stdin", stdin="x" * 1025 + "\n")
    assert out.returncode == 2 and "at most 1024" in out.stderr
    assert [u["login"] for u in listing(srv)] == ["alice@example.test"]


@pytest.mark.parametrize("args", [
    ["add", "bob", "--stdin", "--iterations", "4095"],
    ["add", "bob", "--stdin", "--iterations", "many"],
    ["add", "bob", "--stdin", "--iterations", "10000001"],
    ["add", "--stdin"],                      # no login
    ["add", "bob", "carol", "--stdin"],      # two
    ["add", "bob", "--json", "--stdin"],
    ["list", "bob"],
    ["del", "bob", "--stdin"],
    ["lock", "bob", "--iterations", "5000"],
    ["add", "tab\tbed", "--stdin"],          # control character
    ["add", "x" * 256, "--stdin"],           # too long
    ["rename", "bob"],
    [],
])
def test_usage_errors(srv, args):
    out = user(srv, *args, stdin="pw\n")
    assert out.returncode == 2, (args, out.stdout, out.stderr)
    assert not db_path(srv).exists()


def test_config_and_store_errors(srv, tmp_path):
    out = subprocess.run([BIN, "user", "list", "-c", str(tmp_path / "missing.conf")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "missing.conf" in out.stderr
    bad = tmp_path / "bad.conf"
    bad.write_text(srv.conf.read_text() + "auth-database\n")
    out = subprocess.run([BIN, "user", "list", "-c", str(bad)], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 2 and "'auth-database' expects PATH" in out.stderr
    db_path(srv).parent.mkdir()
    db_path(srv).write_bytes(b"this is not an SQLite database, not at all" * 100)
    out = user(srv, "add", "bob", "--stdin", stdin="pw\n")
    assert out.returncode == 2 and "users.db" in out.stderr
    assert user(srv, "list").returncode == 2


def test_no_store_yet(srv):
    assert listing(srv) == []
    out = user(srv, "del", "bob")
    assert out.returncode == 1 and "no such user" in out.stderr
    assert not db_path(srv).exists(), "only add creates the store"


def test_file_mode_and_no_password_in_it(srv):
    os.umask(0o022)
    add(srv, "alice@example.test")
    user(srv, "passwd", "alice@example.test", "--stdin", stdin=PASSWORD + " 2\n")
    assert db_path(srv).stat().st_mode & 0o777 == 0o600
    assert db_path(srv).parent.stat().st_mode & 0o777 == 0o700
    traces = [PASSWORD.encode(), PASSWORD.encode("utf-16-le"),
              base64.b64encode(PASSWORD.encode()), b"horse battery"]
    files = list(db_path(srv).parent.iterdir())
    assert files
    for f in files:
        data = f.read_bytes()
        for t in traces:
            assert t not in data, (f, t)


def pty_run(args, answers, timeout=20):
    """Run args on a pseudo-terminal, answering each prompt (a regex) in turn; returns the exit
    status and everything the terminal showed."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(args[0], args)
    shown, deadline = b"", time.time() + timeout
    pending = list(answers)
    while time.time() < deadline:
        if pending and re.search(pending[0][0], shown.decode(errors="replace")):
            os.write(fd, pending.pop(0)[1].encode() + b"\r")
            shown += b"<sent>"
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def test_password_from_the_terminal(srv):
    rc, shown = pty_run([BIN, "user", "add", "carol", "-c", str(srv.conf)],
                        [(r"New password: $", "tty secret"),
                         (r"Again: $", "tty secret")])
    assert rc == 0, shown
    assert "carol: added" in shown
    assert "tty secret" not in shown, "echo was not off"
    salt, iterations, stored, server, *_ = row(srv, "carol")
    assert (stored, server) == scram_keys("tty secret", salt, iterations)
    rc, shown = pty_run([BIN, "user", "passwd", "carol", "-c", str(srv.conf)],
                        [(r"New password: $", "one"), (r"Again: $", "two")])
    assert rc == 1 and "the passwords differ" in shown
    assert row(srv, "carol")[2] == stored, "a mismatch changes nothing"


def test_writes_while_the_server_runs_and_a_reader_holds_the_db(srv):
    add(srv, "alice@example.test")
    srv.start()
    try:
        reader = sqlite3.connect(db_path(srv), isolation_level=None)
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM users").fetchone()[0] == 1
        # the reader's snapshot is open: without WAL this write would wait out the busy
        # timeout and fail
        add(srv, "bob")
        assert reader.execute("SELECT count(*) FROM users").fetchone()[0] == 1
        reader.execute("COMMIT")
        assert reader.execute("SELECT count(*) FROM users").fetchone()[0] == 2
        assert [u["login"] for u in listing(srv)] == ["alice@example.test", "bob"]
        reader.close()
    finally:
        assert srv.stop() == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown)")
def test_root_gives_a_new_store_to_the_directory_owner(srv):
    import pwd
    nobody = pwd.getpwnam("nobody")
    db_path(srv).parent.mkdir()
    os.chown(db_path(srv).parent, nobody.pw_uid, nobody.pw_gid)
    add(srv, "alice@example.test")
    st = db_path(srv).stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (nobody.pw_uid, nobody.pw_gid, 0o600)
