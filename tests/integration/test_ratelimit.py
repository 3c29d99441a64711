"""Rate limits and the compromised-account circuit breaker (issue 6) against the real server:
each limit refuses with its reply and rule ID (log and metrics); trusted clients are exempt; a
flood to local mailboxes does not count against a user's outbound quota; the circuit breaker
holds the user's queued mail and refuses AUTH until `relayguard user unlock`; windows move with
clock-offset and a reload, never sleeps. The same counters shared by two servers through a real
redis-server, and a store error with ratelimit-on-store-error tempfail."""
import json
import re
import smtplib
import subprocess

import pytest
from conftest import BIN, Server, free_port
from queue_helpers import queue_json
from smtp_helpers import wait_log
from test_greylist import redis, redis_store, set_offset  # noqa: F401 (the fixture)
from tls_helpers import client_context, make_cert

OUTSIDE, TRUSTED = "127.0.0.2", "127.0.0.1"
PASSWORD = "correct horse battery staple"


def sqlite(tmp_path):
    return "abuse-store sqlite %s/db/abuse.db\nclock-offset 0\n" % tmp_path


def session(srv, source=OUTSIDE, port=None):
    c = smtplib.SMTP(timeout=10, source_address=(source, 0))
    code, msg = c.connect("127.0.0.1", port or srv.port)
    c._host = "127.0.0.1"  # for STARTTLS (connect() does not set it)
    return c, code, msg.decode()


def send(srv, rcpts=("alice@example.test",), sender="someone@sender.example", source=OUTSIDE):
    """One transaction: (MAIL code, [RCPT (code, text)])."""
    c, code, msg = session(srv, source)
    assert code == 220, msg
    with c:
        c.ehlo("client.example")
        mcode, mmsg = c.mail(sender)
        if mcode != 250:
            return mcode, mmsg.decode()
        out = [(r[0], r[1].decode()) for r in (c.rcpt(x) for x in rcpts)]
        if any(r[0] == 250 for r in out):
            c.data("Subject: rate\r\n\r\nbody\r\n")
        return mcode, out


def metric(srv, rule):
    return "relayguard_ratelimit_rejected_total{rule=\"ratelimit:%s\"}" % rule


def test_ip_connections_and_window(make_server, tmp_path):
    srv = make_server(sqlite(tmp_path) + "ratelimit ip-connections 2/1h\n")
    for _ in range(2):
        c, code, _ = session(srv)
        c.close()
        assert code == 220
    c, code, msg = session(srv)
    c.close()
    assert code == 421 and msg.startswith("4.7.0") and "Too many connections" in msg, msg
    assert "rule=ratelimit:ip-connections" in srv.logtext()
    c, code, _ = session(srv, source=TRUSTED)  # trusted networks are exempt
    c.close()
    assert code == 220
    set_offset(srv, "1h")  # the next window
    c, code, _ = session(srv)
    c.close()
    assert code == 220


def test_ip_sessions(make_server, tmp_path):
    srv = make_server(sqlite(tmp_path) + "ratelimit ip-sessions 2\n")
    held = [session(srv) for _ in range(2)]
    assert all(h[1] == 220 for h in held)
    c, code, msg = session(srv)
    c.close()
    assert code == 421 and "4.7.0" in msg and "Too many connections from your address" in msg, msg
    for h in held:
        h[0].quit()
    wait_log(srv, "smtp: disconnect")
    # the same setting as limit max-sessions-per-ip: counted in memory, refused at connect
    assert "smtp: too many sessions from one client" in srv.logtext()
    assert "limit=2" in srv.logtext()


def test_ip_messages_and_recipients(make_server, tmp_path):
    srv = make_server(sqlite(tmp_path) + "ratelimit ip-messages 2/1h\n"
                      "ratelimit ip-recipients 3/1h\n")
    assert send(srv)[0] == 250
    code, rc = send(srv, rcpts=("alice@example.test", "bob@example.test", "postmaster@example.test"))
    assert code == 250
    assert [r[0] for r in rc] == [250, 250, 450], rc
    assert rc[2][1].startswith("4.7.1 Too many recipients"), rc
    code, msg = send(srv)
    assert code == 450 and msg.startswith("4.7.1 Too many messages"), msg
    assert send(srv, sender="")[0] == 250  # a bounce is not counted as a message
    assert send(srv, source=TRUSTED)[0] == 250
    log = srv.logtext()
    assert "rule=ratelimit:ip-messages" in log and "rule=ratelimit:ip-recipients" in log
    out = srv.ctl("abuse", "show", OUTSIDE, "--json")
    assert out.returncode == 0, out.stderr
    assert {e["kind"] for e in json.loads(out.stdout)} == {"rate"}
    assert srv.ctl("abuse", "unban", OUTSIDE).returncode == 0
    assert send(srv)[0] == 250  # counters cleared


def user_server(make_server, tmp_path, extra, logins=("alice@example.test",)):
    crt, key = make_cert(tmp_path / "tls")
    sub = free_port()
    srv = make_server(extra + "listen 127.0.0.1:%d role submission\ntls-certificate %s\n"
                      "tls-key %s\nauth-database %s/db/users.db\n"
                      "relay allow from authenticated id users\n" % (sub, crt, key, tmp_path),
                      start=False)
    for login in logins:
        out = subprocess.run([BIN, "user", "add", login, "--stdin", "-c", str(srv.conf)],
                             input=PASSWORD + "\n", capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
    srv.start()
    srv.sub = sub
    return srv


def login(srv, user="alice@example.test"):
    c, code, msg = session(srv, port=srv.sub)
    assert code == 220, msg
    c.ehlo("client.example")
    c.starttls(context=client_context())
    c.ehlo("client.example")
    return c, c.login  # the caller logs in (it may be refused)


def submit(srv, rcpts, user="alice@example.test"):
    c, do_login = login(srv, user)
    with c:
        do_login(user, PASSWORD)
        assert c.mail(user)[0] == 250
        out = [(r[0], r[1].decode()) for r in (c.rcpt(x) for x in rcpts)]
        if any(r[0] == 250 for r in out):
            c.data("Subject: out\r\n\r\nbody\r\n")
        return out


def test_user_limits_local_not_counted(make_server, tmp_path):
    srv = user_server(make_server, tmp_path, sqlite(tmp_path) +
                      "ratelimit user-messages-hour 2/1h\nratelimit user-recipients-hour 3/1h\n"
                      "ratelimit ip-messages 1/1h\n")
    # a local flood: not counted against the outbound quota (nor the IP limit: authenticated)
    for _ in range(4):
        assert [r[0] for r in submit(srv, ["bob@example.test"] * 1)] == [250]
    rc = submit(srv, ["x1@remote.example", "x2@remote.example", "x1@remote.example"])
    assert [r[0] for r in rc] == [250, 250, 250], rc  # x1 twice is one distinct recipient
    rc = submit(srv, ["x3@remote.example", "x4@remote.example"])
    assert [r[0] for r in rc] == [250, 450], rc
    assert rc[1][1].startswith("4.7.1 Recipient limit of your account"), rc
    rc = submit(srv, ["x1@remote.example"])  # the third relayed message of the hour
    assert rc[0][0] == 450 and "Message limit" in rc[0][1], rc
    log = srv.logtext()
    assert "rule=ratelimit:user-recipients-hour" in log
    assert "rule=ratelimit:user-messages-hour" in log
    set_offset(srv, "1h")
    assert [r[0] for r in submit(srv, ["x4@remote.example"])] == [250]


def test_circuit_breaker_holds_and_refuses_auth(make_server, tmp_path):
    srv = user_server(make_server, tmp_path, sqlite(tmp_path) +
                      "ratelimit circuit-breaker 3/1h\n",
                      logins=("alice@example.test", "bob@example.test"))
    assert [r[0] for r in submit(srv, ["a@remote.example", "b@remote.example"])] == [250, 250]
    assert [r[0] for r in submit(srv, ["c@remote.example"], user="bob@example.test")] == [250]
    c, do_login = login(srv)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        with c:
            do_login("alice@example.test", PASSWORD)
            c.mail("alice@example.test")
            assert c.rcpt("c@remote.example")[0] == 250
            code, msg = c.rcpt("d@remote.example")  # the 4th distinct: trips
            assert code == 421 and b"Account locked" in msg, msg
            c.noop()
    wait_log(srv, "ratelimit: ALERT: circuit breaker tripped")
    log = srv.logtext()
    assert "rule=ratelimit:circuit-breaker" in log and "held=1" in log, log[-2000:]
    msgs = queue_json(srv)
    held = [m for m in msgs if m["held"]]
    assert len(held) == 1 and len(msgs) == 2, msgs  # bob's message is not held
    # AUTH is refused now, with the right password
    c, do_login = login(srv)
    with c:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            do_login("alice@example.test", PASSWORD)
        assert e.value.smtp_code == 535 and b"Account locked" in e.value.smtp_error
    shown = srv.ctl("abuse", "show", "alice@example.test").stdout
    assert "tripped" in shown, shown
    # unlock restores AUTH; queue release sends the held mail on
    out = subprocess.run([BIN, "user", "unlock", "alice@example.test", "-c", str(srv.conf)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert [r[0] for r in submit(srv, ["e@remote.example"])] == [250]
    for msg in held:
        assert srv.ctl("queue", "release", msg["qid"]).returncode == 0
    assert not any(m["held"] for m in queue_json(srv))


def test_metrics(make_server, tmp_path):
    mport = free_port()
    srv = make_server(sqlite(tmp_path) + "ratelimit ip-messages 1/1h\n"
                      "metrics-listen 127.0.0.1:%d\n" % mport)
    assert send(srv)[0] == 250
    assert send(srv)[0] == 450
    import urllib.request
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10).read().decode()
    assert metric(srv, "ip-messages") + " 1" in text, text


def test_redis_two_servers_share_counts(make_server, tmp_path, redis):
    proc, port = redis
    conf = redis_store(port) + "\nclock-offset 0\nratelimit ip-messages 2/1h\n"
    b_dir = tmp_path / "b"
    b_dir.mkdir(mode=0o711)
    a = make_server(conf + "ratelimit-on-store-error tempfail\n")
    b = Server(b_dir, conf)  # the default: accept
    b.start()
    try:
        wait_log(a, "abuse: redis connected")
        wait_log(b, "abuse: redis connected")
        assert send(a)[0] == 250
        assert send(b)[0] == 250
        code, msg = send(a)  # the third message of the IP, counted over both servers
        assert code == 450 and "Too many messages" in msg, msg
        assert send(b)[0] == 450
        # Redis goes away: tempfail, with a log line, nothing crashes
        proc.terminate()
        proc.wait(timeout=10)
        code, msg = send(a, sender="other@sender.example")
        assert code == 451 and "Rate limit check failed" in msg, msg
        wait_log(a, "ratelimit: store error, refusing")
        code, _ = send(b, sender="other@sender.example")
        assert code == 250
        wait_log(b, "ratelimit: store error, accepting")
    finally:
        assert b.stop() == 0, b.logtext()[-3000:]


def redis_calls(port, command):
    """How often Redis ran command (INFO commandstats), 0 if never."""
    out = subprocess.run(["redis-cli", "-p", str(port), "INFO", "commandstats"],
                         capture_output=True, text=True, timeout=10).stdout
    m = re.search(r"^cmdstat_%s:calls=(\d+)" % command, out, re.M)
    return int(m.group(1)) if m else 0


def test_redis_scripts_run_by_sha_and_survive_a_flush(make_server, redis):
    """Counters are Lua scripts called by SHA1 (EVALSHA); the first call, and the first after
    SCRIPT FLUSH, get NOSCRIPT and are sent once more as EVAL: no request fails, the count
    goes on."""
    proc, port = redis
    srv = make_server(redis_store(port) + "\nclock-offset 0\nratelimit ip-messages 3/1h\n"
                      "ratelimit-on-store-error tempfail\n")
    wait_log(srv, "abuse: redis connected")
    assert send(srv)[0] == 250
    assert send(srv)[0] == 250
    assert redis_calls(port, "eval") == 1 and redis_calls(port, "evalsha") >= 2
    subprocess.run(["redis-cli", "-p", str(port), "SCRIPT", "FLUSH"], check=True,
                   capture_output=True, timeout=10)
    assert send(srv)[0] == 250
    assert redis_calls(port, "eval") == 2
    code, msg = send(srv)  # the fourth: the count went on across the flush
    assert code == 450 and "Too many messages" in msg, msg
    assert "store error" not in srv.logtext()
