"""The config changelog: serve (start), `relayguard reload` and `check --record` each append a
hash-chained record with who, the verdict and a diff; `relayguard changelog` lists them, shows
a diff, verifies the chain and reports the first broken record; `check --json` is the text
report as one JSON document."""
import json
import os
import pwd
import re
import signal
import subprocess

from conftest import BIN
from smtp_helpers import wait_log

ME = pwd.getpwuid(os.getuid()).pw_name


def run(*args, env=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, **(env or {})))


def edit(srv, add):
    srv.conf.write_text(srv.conf.read_text() + add + "\n")


def reload_ok(srv, env=None):
    out = run("reload", "-c", str(srv.conf), env=env)
    assert out.returncode == 0, out.stderr
    return out


def changelog(srv, *args):
    return run("changelog", "-c", str(srv.conf), *args)


def log_path(srv):
    return srv.tmp / "state" / "config-changelog"


def records(srv):
    out = changelog(srv, "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["verified"] is True and doc["broken"] is None
    return doc["records"]


def test_start_and_two_reloads(make_server):
    srv = make_server()
    edit(srv, "mailbox carol")
    reload_ok(srv)
    edit(srv, "mailbox dave")
    reload_ok(srv, env={"SUDO_USER": "alice"})
    out = changelog(srv)
    assert out.returncode == 0, out.stderr
    rows = [l for l in out.stdout.splitlines() if re.match(r"^\d+ ", l)]
    assert len(rows) == 3, out.stdout
    assert [r.split()[2] for r in rows] == ["start", "reload", "reload"]
    assert "%s (%d)" % (ME, os.getuid()) in rows[0]
    assert rows[1].split()[-1] == "clean" and "+1 -0" in rows[1], rows[1]
    assert "sudo:alice" in rows[2]
    assert "3 records, chain verified" in out.stdout
    diff = changelog(srv, "--diff", "2")
    assert diff.returncode == 0, diff.stderr
    assert "\n+mailbox carol\n" in diff.stdout
    assert "+mailbox dave" not in diff.stdout
    assert diff.stdout.startswith("--- %s (record 1, sha256 " % srv.conf)
    recs = records(srv)
    assert [r["event"] for r in recs] == ["start", "reload", "reload"]
    assert [r["id"] for r in recs] == [1, 2, 3]
    assert all(r["uid"] == os.getuid() and r["user"] == ME for r in recs)
    assert [r["sudo_user"] for r in recs] == ["", "", "alice"]
    assert recs[1]["prev"] == recs[0]["hash"] and recs[2]["prev"] == recs[1]["hash"]
    one = json.loads(changelog(srv, "--diff", "3", "--json").stdout)
    assert "+mailbox dave\n" in one["diff"] and one["id"] == 3
    last = json.loads(changelog(srv, "--json", "-n", "1").stdout)["records"]
    assert [r["id"] for r in last] == [3]
    # the copies the diffs are made from
    assert (srv.tmp / "state" / "configs" / recs[2]["sha256"]).read_text() == \
        srv.conf.read_text()


def test_unchanged_and_sighup(make_server):
    srv = make_server()
    reload_ok(srv)  # same bytes: recorded, without a diff
    srv.proc.send_signal(signal.SIGHUP)
    assert wait_log(srv, "changelog: recorded", "record=3")
    recs = records(srv)
    assert [r["unchanged"] for r in recs] == [False, True, True]
    assert recs[2]["uid"] == -1 and recs[2]["user"] == "SIGHUP"
    out = changelog(srv)
    assert re.search(r"^2 .* reload .* unchanged +clean$", out.stdout, re.M), out.stdout
    assert "config unchanged" in changelog(srv, "--diff", "2").stdout


def test_failed_reload_is_not_recorded(make_server):
    srv = make_server()
    edit(srv, "no-such-directive 1")
    out = run("reload", "-c", str(srv.conf))
    assert out.returncode != 0
    assert len(records(srv)) == 1


def test_corruption_is_reported(make_server):
    srv = make_server()
    edit(srv, "mailbox carol")
    reload_ok(srv)
    edit(srv, "mailbox dave")
    reload_ok(srv)
    data = log_path(srv).read_bytes()
    i = data.index(b"+mailbox carol")
    log_path(srv).write_bytes(data[:i + 9] + b"k" + data[i + 10:])  # carol -> karol
    out = changelog(srv)
    assert out.returncode == 3
    assert "%s:record 2: hash mismatch" % log_path(srv) in out.stderr, out.stderr
    rows = [l for l in out.stdout.splitlines() if re.match(r"^\d+ ", l)]
    assert len(rows) == 1  # only what verified is shown
    doc = json.loads(changelog(srv, "--json").stdout)
    assert doc["verified"] is False and doc["broken"]["record"] == 2
    assert changelog(srv, "--verify").returncode == 3
    # a torn tail: the last record is an incomplete one
    log_path(srv).write_bytes(data[:-20])
    out = changelog(srv, "--verify")
    assert out.returncode == 3 and "record 3: incomplete record" in out.stderr, out.stderr


def test_check_record_appends(make_server):
    srv = make_server()
    out = run("check", "-c", str(srv.conf), "--record")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "recorded as changelog record 2" in out.stdout
    recs = records(srv)
    assert [r["event"] for r in recs] == ["start", "check"]
    assert recs[1]["unchanged"] is True and recs[1]["verdict"] == "clean"
    out = run("check", "-c", str(srv.conf))  # without --record: nothing
    assert len(records(srv)) == 2


FINDING = re.compile(r"^  (ERROR|warning) +(.*?): (.*)$")


def text_findings(stdout):
    return sorted((m.group(1).lower(), m.group(2), m.group(3))
                  for m in map(FINDING.match, stdout.splitlines()) if m)


def test_check_json_matches_text(tmp_path):
    conf = tmp_path / "r.conf"
    conf.write_text("listen 127.0.0.1:2525\nlocal-domain example.test\nmailbox postmaster\n"
                    "trusted-network 127.0.0.1 10.0.0.0/8\nrelay allow from trusted id lan\n"
                    "relay allow from 0.0.0.0/0 to partner.example id partner\n"
                    "relay deny from 10.1.0.0/16 id never\n"
                    "state-dir %s/state\n" % tmp_path)
    text = run("check", "-c", str(conf))
    js = run("check", "-c", str(conf), "--json")
    assert text.returncode == js.returncode == 1
    doc = json.loads(js.stdout)
    assert doc["ok"] is True and doc["exit"] == 1
    got = sorted((f["severity"], f["where"], f["what"]) for f in doc["findings"])
    assert got == text_findings(text.stdout) and len(got) >= 2
    assert doc["verdict"] == "%d findings" % len(got)
    assert "verdict: %s" % doc["verdict"] in text.stdout
    assert [r["id"] for r in doc["rules"]] == ["lan", "partner", "never", "implicit-reject"]
    assert any(r["client"].startswith("any other IPv4")
               and r["unauthenticated"]["foreign"]["verdict"] == "refuse"
               for l in doc["matrix"]["listeners"] for r in l["clients"])
    assert doc["battery"]["tests"] >= 24 and doc["recorded"] is None


def test_check_json_clean_and_broken(tmp_path):
    conf = tmp_path / "r.conf"
    conf.write_text("listen 127.0.0.1:2525\nlocal-domain example.test\nmailbox postmaster\n")
    doc = json.loads(run("check", "-c", str(conf), "--json").stdout)
    assert doc["findings"] == [] and doc["verdict"] == "clean" and doc["exit"] == 0
    conf.write_text("listen 127.0.0.1:2525\nbogus\n")
    out = run("check", "-c", str(conf), "--json")
    doc = json.loads(out.stdout)
    assert out.returncode == 2 and doc["ok"] is False and "bogus" in doc["error"]
