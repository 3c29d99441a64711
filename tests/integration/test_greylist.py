"""Greylisting (issue 6, RFC 6647) against the real server: the first try of a triplet gets
451 4.7.1, a retry before greylist-delay too, a retry after it (the test-only clock-offset moved
forward with a reload, no sleeps) is accepted and delivered; auto-whitelisting after N passes;
trusted and authenticated clients are never greylisted; the null sender; `relayguard abuse`.
The same with the Redis store: a real redis-server on a free loopback port, two relayguard
servers sharing it, and Redis stopped mid-test (greylisting fails open, with a log line)."""
import json
import shutil
import smtplib
import re
import subprocess
import time

import pytest
from conftest import BIN, free_port
from smtp_helpers import wait_log
from tls_helpers import client_context, make_cert

OUTSIDE, TRUSTED = "127.0.0.2", "127.0.0.1"
GREYLIST = "greylist on\ngreylist-delay 5m\ngreylist-auto-whitelist {n}\nclock-offset {off}\n"


def greylist_conf(tmp_path, n=5, off="0", store=None):
    store = store or "abuse-store sqlite %s/db/abuse.db" % tmp_path
    return store + "\n" + GREYLIST.format(n=n, off=off)


def set_offset(srv, off):
    text = srv.conf.read_text()
    lines = [l for l in text.splitlines() if not l.startswith("clock-offset ")]
    srv.conf.write_text("\n".join(lines) + "\nclock-offset %s\n" % off)
    out = srv.ctl("reload")
    assert out.returncode == 0, out.stdout + out.stderr


def attempt(srv, rcpt="alice@example.test", sender="someone@sender.example", source=OUTSIDE,
            data=True, token="greylist test"):
    """One transaction; the RCPT reply (code, text). Sends the message when accepted."""
    with smtplib.SMTP("127.0.0.1", srv.port, source_address=(source, 0), timeout=10) as c:
        c.ehlo("client.example")
        code, _ = c.mail(sender)
        assert code == 250
        code, msg = c.rcpt(rcpt)
        if code == 250 and data:
            c.data("Subject: %s\r\n\r\nbody\r\n" % token)
        return code, msg.decode()


def test_first_try_early_retry_then_pass(make_server, tmp_path):
    srv = make_server(greylist_conf(tmp_path))
    code, msg = attempt(srv)
    assert code == 451 and msg.startswith("4.7.1 Greylisted, try again in 300 seconds"), msg
    set_offset(srv, "2m")  # too early: 3 minutes left
    code, msg = attempt(srv)
    # 300 - 120, less the real seconds that passed since the first try (a second boundary
    # may fall in between)
    m = re.search(r"try again in (\d+) seconds", msg)
    assert code == 451 and m and 175 <= int(m.group(1)) <= 180, msg
    set_offset(srv, "6m")
    code, msg = attempt(srv, token="after the delay")
    assert code == 250, msg
    assert len(srv.wait_messages("alice", 1)) == 1
    log = srv.logtext()
    assert "greylist: deferred" in log and "result=new" in log and "result=early" in log
    assert "greylist: passed" in log and "result=pass" in log
    assert "rule=greylist" in log
    # a passed triplet stays accepted; another recipient is a new triplet
    assert attempt(srv, data=False)[0] == 250
    assert attempt(srv, rcpt="bob@example.test", data=False)[0] == 451
    # BATV and +ext forms of the sender are the same triplet
    assert attempt(srv, sender="prvs=1234abcdef=SomeOne@sender.example", data=False)[0] == 250
    assert attempt(srv, sender="someone+list@sender.example", data=False)[0] == 250


def test_auto_whitelist_after_n_passes(make_server, tmp_path):
    srv = make_server(greylist_conf(tmp_path, n=2))
    assert attempt(srv, data=False)[0] == 451
    set_offset(srv, "6m")
    assert attempt(srv, data=False)[0] == 250  # pass 1
    assert attempt(srv, rcpt="bob@example.test", data=False)[0] == 451  # not yet whitelisted
    assert attempt(srv, data=False)[0] == 250  # pass 2: the network is whitelisted now
    assert "whitelisted=yes" in srv.logtext()
    # any sender, any recipient from that /24
    assert attempt(srv, rcpt="bob@example.test", sender="other@else.example")[0] == 250
    assert "result=whitelisted" in srv.logtext()
    out = srv.ctl("abuse", "show", OUTSIDE, "--json")
    assert out.returncode == 0, out.stderr
    kinds = {e["kind"] for e in json.loads(out.stdout)}
    assert {"triplet", "passes", "whitelisted"} <= kinds
    assert all(e["net"] == "127.0.0.0/24" for e in json.loads(out.stdout))
    out = srv.ctl("abuse", "unban", OUTSIDE)
    assert out.returncode == 0 and "removed" in out.stdout, out.stdout + out.stderr
    assert json.loads(srv.ctl("abuse", "show", OUTSIDE, "--json").stdout) == []
    assert attempt(srv, rcpt="bob@example.test", data=False)[0] == 451  # greylisted again


def test_trusted_and_authenticated_never_greylisted(make_server, tmp_path):
    crt, key = make_cert(tmp_path / "tls")
    sub = free_port()
    srv = make_server(greylist_conf(tmp_path) +
                      "listen 127.0.0.1:%d role submission\ntls-certificate %s\ntls-key %s\n"
                      "auth-database %s/db/users.db\n" % (sub, crt, key, tmp_path), start=False)
    out = subprocess.run([BIN, "user", "add", "alice@example.test", "--stdin", "-c", str(srv.conf)],
                         input="correct horse battery staple\n", capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    srv.start()
    assert attempt(srv, source=TRUSTED)[0] == 250
    with smtplib.SMTP("127.0.0.1", sub, source_address=(OUTSIDE, 0), timeout=10) as c:
        c.ehlo("client.example")
        c.starttls(context=client_context())
        c.ehlo("client.example")
        c.login("alice@example.test", "correct horse battery staple")
        assert c.mail("alice@example.test")[0] == 250
        code, msg = c.rcpt("bob@example.test")
        assert code == 250, msg
    assert "greylist:" not in srv.logtext()
    assert attempt(srv, data=False)[0] == 451  # the same outside client without AUTH


def test_null_sender(make_server, tmp_path):
    srv = make_server(greylist_conf(tmp_path))
    assert attempt(srv, sender="", data=False)[0] == 451
    set_offset(srv, "6m")
    assert attempt(srv, sender="")[0] == 250
    set_offset(srv, "20d")  # after its triplet passed once, bounces pass for the lifetime
    assert attempt(srv, sender="")[0] == 250
    assert len(srv.wait_messages("alice", 2)) == 2


def test_abuse_list_without_store(make_server, tmp_path):
    srv = make_server(greylist_conf(tmp_path), start=False)
    out = srv.ctl("abuse", "list")
    assert out.returncode == 0 and out.stdout == "", out.stdout + out.stderr
    out = srv.ctl("abuse", "show", "not-an-ip")  # not an address: a login (rate limits)
    assert out.returncode == 0 and out.stdout == "", out.stdout + out.stderr


# ---- Redis ----

@pytest.fixture
def redis(tmp_path):
    exe = shutil.which("redis-server")
    if not exe:
        pytest.skip("redis-server is not installed (scripts/deps.sh test)")
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    import socket
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.02)
    yield proc, port
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=10)


def redis_store(port):
    return "abuse-store redis 127.0.0.1:%d prefix rgtest:" % port


def test_redis_shared_by_two_servers(make_server, tmp_path, redis):
    proc, port = redis
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir(mode=0o711)
    b_dir.mkdir(mode=0o711)
    from conftest import Server
    a = make_server(greylist_conf(tmp_path, store=redis_store(port)))
    b = Server(b_dir, greylist_conf(tmp_path, store=redis_store(port)))
    b.start()
    try:
        wait_log(a, "abuse: redis connected")
        wait_log(b, "abuse: redis connected")
        assert attempt(a, data=False)[0] == 451       # A creates the triplet
        code, msg = attempt(b, data=False)             # B sees it: too early, not new
        assert code == 451 and "result=early" in b.logtext(), msg
        set_offset(b, "6m")
        assert attempt(b)[0] == 250                     # B passes it
        assert len(b.wait_messages("alice", 1)) == 1
        assert attempt(a)[0] == 250                     # A sees B's pass
        out = a.ctl("abuse", "list")
        assert out.returncode == 0 and "triplet net=127.0.0.0/24" in out.stdout, out.stderr
        # Redis goes away: greylisting fails open, with a log line, and nothing crashes
        proc.terminate()
        proc.wait(timeout=10)
        code, msg = attempt(a, rcpt="bob@example.test", data=False)
        assert code == 250, msg
        wait_log(a, "greylist: store error, failing open")
        assert "abuse: redis unreachable" in a.logtext()
    finally:
        assert b.stop() == 0, b.logtext()[-3000:]
