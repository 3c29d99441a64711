"""serve refuses a configuration under which an unauthenticated outside client can relay (the
audit of `relayguard check`), unless `open-relay-override REASON` names why; then it warns."""
import smtplib
import subprocess

import pytest
from conftest import BIN, free_port

OPEN = [
    pytest.param("relay allow from any id everyone", "everyone", id="relay-allow-from-any"),
    pytest.param("trusted-network 0.0.0.0/0\nrelay allow from trusted id lan", "lan",
                 id="trusted-whole-internet"),
    pytest.param("relay allow from ::/0 id v6", "v6", id="ipv6-slash-0-covers-ipv4-too"),
]


@pytest.mark.parametrize("rules,rule_id", OPEN)
def test_serve_refuses_an_open_relay(tmp_path, rules, rule_id):
    conf = tmp_path / "open.conf"
    conf.write_text("listen 127.0.0.1:%d\nspool %s/spool\nlocal-domain example.test\n%s\n"
                    % (free_port(), tmp_path, rules))
    out = subprocess.run([BIN, "serve", "-c", str(conf)], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 1
    assert "refusing to start an open relay: %s: relay test" % rule_id in out.stderr, out.stderr
    assert "open-relay-override" in out.stderr
    assert not (tmp_path / "spool").exists()  # refused before anything was created


def test_override_runs_it_and_says_so(make_server):
    srv = make_server('relay allow from any id everyone\nopen-relay-override "lab test, ticket 42"')
    assert "OPEN RELAY" in srv.logtext() and 'override="lab test, ticket 42"' in srv.logtext()
    with smtplib.SMTP("127.0.0.1", srv.port, source_address=("127.0.0.2", 0)) as s:
        s.sendmail("x@outside.example", ["victim@remote.example"], "Subject: open\r\n\r\nx\r\n")
    assert "rule=everyone" in srv.logtext()


def test_closed_config_needs_no_override(server):
    assert "OPEN RELAY" not in server.logtext()
