"""Configuration errors stop the server before it starts, and say where: FILE:LINE:COLUMN and
the problem (docs/config.md, "Errors"). `relayguard check` reports the same without starting
anything; the shipped etc/relayguard.conf passes it."""
import json
import pathlib
import re
import subprocess
import time

import pytest
from conftest import BIN, free_port
from tls_helpers import make_cert

REPO = pathlib.Path(__file__).resolve().parents[2]

GOOD = """\
hostname mx.example.test
listen 127.0.0.1:{port}
spool {tmp}/spool
mail-root {tmp}/mail
local-domain example.test
mailbox alice
"""
BAD_LINE = GOOD.count("\n") + 1  # the bad directive is appended: it is line 7

# (id, bad line(s) appended to GOOD, line, column, the problem)
BAD = [
    ("unknown-directive", "relya allow from any", BAD_LINE, 1, "unknown directive 'relya'"),
    ("unknown-directive-after-tab", "\trelya allow from any", BAD_LINE, 2, "unknown directive 'relya'"),
    ("unknown-directive-capitalised", "Hostname mx.example.test", BAD_LINE, 1, "unknown directive 'Hostname'"),
    ("bad-cidr-host-bits", "trusted-network 10.0.0.1/8", BAD_LINE, 17, "invalid CIDR '10.0.0.1/8'"),
    ("bad-cidr-octet", "trusted-network 300.1.1.1", BAD_LINE, 17, "invalid CIDR '300.1.1.1'"),
    ("bad-cidr-ipv6-prefix", "trusted-network ::1/129", BAD_LINE, 17, "invalid CIDR '::1/129'"),
    ("bad-cidr-after-tab", "trusted-network 127.0.0.1\t10.0.0.1/8  # comment", BAD_LINE, 27,
     "invalid CIDR '10.0.0.1/8'"),
    ("bad-cidr-in-relay-rule", "relay allow from 10.0.0.0/33", BAD_LINE, 18, "invalid CIDR '10.0.0.0/33'"),
    ("bad-cidr-in-relay-list", "relay allow from 10.0.0.0/8,bogus id x", BAD_LINE, 18, "invalid CIDR 'bogus'"),
    ("bad-listen-name", "listen localhost:25", BAD_LINE, 8,
     "invalid listen address 'localhost:25' (expected IPV4:PORT or [IPV6]:PORT)"),
    ("bad-listen-no-port", "listen 127.0.0.1", BAD_LINE, 8, "invalid listen address '127.0.0.1'"),
    ("bad-listen-ipv6-no-colon", "listen [::1]25", BAD_LINE, 8, "invalid listen address '[::1]25'"),
    ("bad-listen-port-0", "listen 127.0.0.1:0", BAD_LINE, 8, "invalid port in '127.0.0.1:0' (expected 1..65535)"),
    ("bad-listen-port-99999", "listen 127.0.0.1:99999", BAD_LINE, 8, "invalid port in '127.0.0.1:99999'"),
    ("bad-listen-role", "listen 127.0.0.1:2 role relay", BAD_LINE, 25,
     "invalid role 'relay' (expected smtp or submission)"),
    ("listen-role-without-value", "listen 127.0.0.1:2 role", BAD_LINE, 1,
     "'listen' expects ADDR:PORT [role smtp|submission]"),
    ("duplicate-hostname", "hostname other.example.test", BAD_LINE, 1, "duplicate 'hostname' (first at line 1)"),
    ("duplicate-listen", "listen 127.0.0.1:{port}", BAD_LINE, 8, "duplicate listen '127.0.0.1:{port}' (first at line 2)"),
    ("duplicate-local-domain", "local-domain EXAMPLE.TEST.", BAD_LINE, 14, "duplicate local-domain"),
    ("duplicate-mailbox", "mailbox ALICE", BAD_LINE, 9, "duplicate mailbox 'ALICE' (first at line 6)"),
    ("mailbox-in-non-local-domain", "mailbox bob@other.test", BAD_LINE, 9,
     "mailbox domain 'other.test' is not a local-domain"),
    ("mailbox-in-subdomain-of-local", "mailbox bob@sub.example.test", BAD_LINE, 9,
     "mailbox domain 'sub.example.test' is not a local-domain"),
    ("mailbox-bad-user-name", "mailbox carol user ../etc", BAD_LINE, 20, "invalid user name '../etc'"),
    ("bad-domain-after-utf8", "local-domain b\u00fccher.example exa_mple.test", BAD_LINE, 29,
     "invalid domain 'exa_mple.test'"),
    ("limit-bad-size-suffix", "limit message-size 10X", BAD_LINE, 20, "invalid size '10X' for limit message-size"),
    ("limit-size-out-of-range", "limit message-size 2G", BAD_LINE, 20, "value 2G out of range 1K..1G for limit message-size"),
    ("limit-line-length-below-rfc-512", "limit line-length 5", BAD_LINE, 19,
     "value 5 out of range 512..65536 for limit line-length"),
    ("limit-recipients-zero", "limit recipients 0", BAD_LINE, 18, "value 0 out of range 1..100000 for limit recipients"),
    ("limit-not-a-number", "limit max-errors abc", BAD_LINE, 18, "invalid number 'abc' for limit max-errors"),
    ("limit-timeout-zero", "limit command-timeout 0s", BAD_LINE, 23, "value 0s out of range 1s..1h for limit command-timeout"),
    ("limit-bad-duration", "limit data-timeout 5x", BAD_LINE, 20, "invalid duration '5x' for limit data-timeout"),
    ("limit-unknown-name", "limit nonsense 5", BAD_LINE, 7, "unknown limit 'nonsense'"),
    ("limit-twice", "limit recipients 5\nlimit recipients 6", BAD_LINE + 1, 1,
     "duplicate 'limit recipients' (first at line %d)" % BAD_LINE),
    ("relay-bad-source", "relay allow from anyone", BAD_LINE, 18, "invalid CIDR 'anyone'"),
    ("relay-missing-from", "relay allow", BAD_LINE, 1, "'relay' expects allow|deny from SOURCE [to DEST] [id NAME]"),
    ("relay-reserved-id", "relay allow from any id implicit-reject", BAD_LINE, 25, "relay id 'implicit-reject' is reserved"),
    ("relay-duplicate-id", "relay allow from 127.0.0.1 id a\nrelay deny from any id a", BAD_LINE + 1, 24,
     "duplicate relay id 'a' (first at line %d)" % BAD_LINE),
    ("bare-newline-bad-value", "bare-newline maybe", BAD_LINE, 14,
     "invalid value 'maybe' for 'bare-newline' (expected reject or normalise)"),
    ("ip-literal-bad-value", "ip-literal-recipients true", BAD_LINE, 23,
     "invalid value 'true' for 'ip-literal-recipients' (expected yes or no)"),
    ("hostname-without-argument", "hostname", BAD_LINE, 1, "'hostname' expects NAME"),
    ("unterminated-quote", 'hostname "mx.example.test', BAD_LINE, 10, "unterminated quoted string"),
]


def write_conf(tmp_path, extra, port):
    conf = tmp_path / "bad.conf"
    conf.write_text((GOOD + extra + "\n").format(port=port, tmp=tmp_path))
    return conf


def run(*args, timeout=10, cwd=None):
    start = time.time()
    out = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)
    return out, time.time() - start


def located(err, conf, line, col, problem):
    """The first line of stderr holds "FILE:LINE:COL: problem"."""
    where = "%s:%d:%d: " % (conf, line, col)
    first = err.strip().splitlines()[0] if err.strip() else ""
    assert where in first, err
    assert problem in first[first.index(where) + len(where):], err


@pytest.mark.parametrize("extra,line,col,problem", [pytest.param(*row[1:], id=row[0]) for row in BAD])
def test_serve_refuses_a_bad_config(tmp_path, extra, line, col, problem):
    port = free_port()
    conf = write_conf(tmp_path, extra, port)
    out, took = run("serve", "-c", str(conf))
    assert out.returncode != 0
    assert took < 3, "refusing a bad config took %.1fs" % took
    located(out.stderr, conf, line, col, problem.format(port=port))
    assert not (tmp_path / "spool").exists()  # nothing was started or created


@pytest.mark.parametrize("extra,line,col,problem", [pytest.param(*row[1:], id=row[0]) for row in BAD])
def test_check_reports_a_bad_config(tmp_path, extra, line, col, problem):
    port = free_port()
    conf = write_conf(tmp_path, extra, port)
    out, _ = run("check", "-c", str(conf))
    assert out.returncode == 2, out  # 2: configuration error (1 is audit findings)
    located(out.stderr, conf, line, col, problem.format(port=port))
    assert "configuration OK" not in out.stdout


@pytest.mark.parametrize("content,problem", [
    pytest.param(b"hostname mx.example.test\r\nlisten 127.0.0.1:2\r\nrelya x\r\n", ":3:1: unknown directive 'relya'",
                 id="crlf-line-ends-count-lines"),
    pytest.param(b"hostname a\x00b\nlisten 127.0.0.1:2\n", ":1:11: NUL byte", id="nul-byte"),
    pytest.param(b"hostname mx.example.test\nspool /nonexistent/x\n", ": no 'listen' directive", id="no-listen"),
])
def test_whole_file_problems(tmp_path, content, problem):
    conf = tmp_path / "c.conf"
    conf.write_bytes(content)
    for cmd, status in (("serve", 1), ("check", 2)):
        out, took = run(cmd, "-c", str(conf))
        assert out.returncode == status and took < 3, out
        assert "%s%s" % (conf, problem) in out.stderr, out.stderr


def test_missing_file(tmp_path):
    conf = tmp_path / "nope.conf"
    for cmd, status in (("serve", 1), ("check", 2)):
        out, _ = run(cmd, "-c", str(conf))
        assert out.returncode == status
        assert "%s: cannot read: No such file or directory" % conf in out.stderr


def test_good_config_checks_ok(tmp_path):
    conf = write_conf(tmp_path, "", free_port())
    out, _ = run("check", "-c", str(conf))
    assert out.returncode == 0, out.stderr
    assert "configuration OK" in out.stdout
    assert not (tmp_path / "spool").exists()  # check starts nothing


def test_shipped_default_config_checks_ok():
    out, _ = run("check", "-c", "etc/relayguard.conf", cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("etc/relayguard.conf: configuration OK"), out.stdout
    assert out.stderr == ""


def test_check_defaults_to_the_shipped_config():
    out, _ = run("check", cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("etc/relayguard.conf: configuration OK"), out.stdout


@pytest.mark.parametrize("args,status", [
    pytest.param(["help"], 0, id="help"),
    pytest.param(["--help"], 0, id="--help"),
    pytest.param([], 2, id="no-arguments"),
    pytest.param(["frobnicate"], 2, id="unknown-subcommand"),
    pytest.param(["check", "-x"], 2, id="bad-option"),
])
def test_usage(args, status):
    out, _ = run(*args)
    assert out.returncode == status
    text = out.stdout if status == 0 else out.stderr
    assert "usage: relayguard serve" in text and "relayguard check" in text


def test_check_prints_the_relay_policy_in_order(tmp_path):
    """`relayguard check` shows what the server will relay, rule by rule, ending with the
    implicit reject, so an admin reads the effective policy in one place."""
    conf = tmp_path / "c.conf"
    conf.write_text("listen 127.0.0.1:2525\nlocal-domain example.test\n"
                    "trusted-network 10.1.0.0/16\n"
                    "relay deny from 192.0.2.0/24,2001:db8::/32 id bad-nets\n"
                    "relay allow from trusted to partner.example,other.example\n")
    out, _ = run("check", "-c", str(conf))
    assert out.returncode == 0, out.stdout
    section = out.stdout.split("relay policy (first match wins):\n")[1].split("who may relay")[0]
    lines = [l.split() for l in section.splitlines()]
    assert lines == [
        ["1", "deny", "from", "192.0.2.0/24,2001:db8::/32", "to", "any", "[bad-nets]"],
        ["2", "allow", "from", "trusted", "to", "partner.example,other.example", "[%s:5]" % conf],
        ["-", "deny", "from", "any", "to", "any", "[implicit-reject]"],
    ]


def test_check_audits_and_exits_by_verdict(tmp_path):
    """Exit 0 when no outside client can relay; 1 with findings, each naming where and why."""
    shipped, _ = run("check", "-c", "etc/relayguard.conf", cwd=REPO)
    assert shipped.returncode == 0 and "no findings" in shipped.stdout, shipped.stdout
    conf = tmp_path / "open.conf"
    conf.write_text("listen 127.0.0.1:2525\nlocal-domain example.test\n"
                    "trusted-network 10.0.0.0/8\nrelay allow from any id everyone\n")
    out, _ = run("check", "-c", str(conf))
    assert out.returncode == 1
    assert "warning %s:3: trusted-network 10.0.0.0/8 is wider than one site" % conf in out.stdout
    assert "ERROR   everyone: 'relay allow from any' makes an open relay" in out.stdout
    assert "ERROR   everyone: relay test external-to-external" in out.stdout
    matrix = out.stdout.split("who may relay, per listener")[1].split("sender rules")[0]
    assert re.search(r"any other IPv4 \(\S+\)\s+no\s+n/a \(no local mailbox\)\s+"
                     r"accept \[everyone\]\n", matrix), matrix


def matrix_block(stdout, listen):
    """The text matrix of one listener: {(client, login): (local, foreign)}."""
    text = stdout.split("who may relay, per listener")[1].split("sender rules")[0]
    block = text.split("listen %s (" % listen)[1].split("\nlisten ")[0]
    rows, client = {}, None
    for line in block.splitlines()[2:]:
        if not line.startswith("  " + " " * 35):
            client = line[2:37].strip()
        cells = re.split(r"\s{2,}", line[44:].strip())
        rows[(client, line[37:44].strip())] = (cells[0], cells[-1])
    return rows


def test_check_matrix_per_listener(tmp_path):
    """Issue 7: per listener, each client class x login or not x local/foreign recipient. Port 25
    offers no AUTH; the submission listener (STARTTLS, AUTH) says 530 to anyone not logged in.
    The text and --json say the same."""
    crt, key = make_cert(tmp_path / "tls")
    conf = tmp_path / "m.conf"
    conf.write_text("listen 127.0.0.1:2525\nlisten 127.0.0.1:2587 role submission\n"
                    "tls-certificate %s\ntls-key %s\nlocal-domain example.test\n"
                    "mailbox alice\ntrusted-network 127.0.0.1\nrelay allow from trusted id lan\n"
                    "relay allow from authenticated id sub\n" % (crt, key))
    out, _ = run("check", "-c", str(conf))
    assert out.returncode == 0, out.stdout
    assert ("who may relay, per listener (MAIL FROM:<sender@sender.example>, then RCPT TO local "
            "<alice@example.test>, foreign <recipient@relay-test.example>):") in out.stdout
    assert "listen 127.0.0.1:2525 (role smtp, no AUTH here):" in out.stdout
    assert "listen 127.0.0.1:2587 (role submission, AUTH offered):" in out.stdout
    mx, sub = matrix_block(out.stdout, "127.0.0.1:2525"), matrix_block(out.stdout, "127.0.0.1:2587")
    v4 = "any other IPv4 (203.0.113.77)"
    na = ("n/a (no AUTH here)",) * 2
    assert mx == {
        ("localhost 127.0.0.1", "no"): ("accept [local-mailbox]", "accept [lan]"),
        ("localhost 127.0.0.1", "yes"): na,
        ("trusted 127.0.0.1/32", "no"): ("accept [local-mailbox]", "accept [lan]"),
        ("trusted 127.0.0.1/32", "yes"): na,
        (v4, "no"): ("accept [local-mailbox]", "refuse 554 [implicit-reject]"),
        (v4, "yes"): na,
        ("any other IPv6 (2001:db8:77::77)", "no"): ("accept [local-mailbox]",
                                                     "refuse 554 [implicit-reject]"),
        ("any other IPv6 (2001:db8:77::77)", "yes"): na,
    }, mx
    assert sub[(v4, "no")] == ("530 auth required",) * 2, sub
    assert sub[(v4, "yes")] == ("accept [local-mailbox]", "accept [sub]"), sub
    assert sub[("localhost 127.0.0.1", "yes")] == ("accept [local-mailbox]", "accept [lan]"), sub

    js, _ = run("check", "-c", str(conf), "--json")
    m = json.loads(js.stdout)["matrix"]
    assert m["local_recipient"] == "<alice@example.test>"
    assert m["foreign_recipient"] == "<recipient@relay-test.example>"
    assert [(l["listen"], l["role"], l["auth_offered"]) for l in m["listeners"]] == [
        ("127.0.0.1:2525", "smtp", False), ("127.0.0.1:2587", "submission", True)]
    names = {"accept": "accept [%s]", "refuse": "refuse %.3s [%s]", "n/a": "n/a (%s)",
             "auth-required": "530 auth required"}
    for listener, text in ((m["listeners"][0], mx), (m["listeners"][1], sub)):
        assert len(listener["clients"]) == 4
        for row in listener["clients"]:
            for login, key in (("no", "unauthenticated"), ("yes", "authenticated")):
                got = []
                for dest in ("local", "foreign"):
                    c = row[key][dest]
                    args = {"accept": (c["rule"],), "refuse": (c["reply"], c["rule"]),
                            "n/a": (c["reply"],), "auth-required": ()}[c["verdict"]]
                    got.append(names[c["verdict"]] % args)
                assert tuple(got) == text[(row["client"], login)], (row, text)
    cell = m["listeners"][1]["clients"][0]["unauthenticated"]["foreign"]
    assert cell == {"verdict": "auth-required", "stage": "MAIL", "rule": "auth-required",
                    "reply": "530 5.7.0 Authentication required"}
