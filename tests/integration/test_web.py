"""`relayguard web` over HTTP with urllib: lookups of listed, unlisted and delisted addresses
(entries made by `relayguard list add`), hostile reasons and transcripts shown escaped, the JSON
API, the security headers (the CSP's style hash is the page's style sheet), the CSRF token of the
delisting form, 400 on bad input, 404/405/413/415."""
import base64
import hashlib
import json
import re
import sqlite3
import urllib.parse

import pytest

from web_helpers import Web, get, post_form, post_json, request, rg

HOSTILE_TXT = "<script>alert('txt')</script>"
HOSTILE_EVIDENCE = {
    "tests": ["nmap-01", "<img src=x onerror=alert(1)>"],
    "depth": 2,
    "transcript": "220 <script>alert(\"banner\")</script>\r\nRCPT TO:<victim@example.net>\r\n"
                  "250 ok & \"quoted\" 'single'\r\n",
    "time": 1700000000,
    "scanner": "192.0.2.200",
}


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("web")
    w = Web(tmp)
    rg(w.conf, "list", "add", "192.0.2.1", "--reason", "open relay, reported by a user")
    rg(w.conf, "list", "add", "192.0.2.66", "--reason", HOSTILE_TXT)
    rg(w.conf, "list", "add", "2001:db8::/32", "--reason", "v6 network", "--code", "4")
    rg(w.conf, "list", "add", "192.0.2.7", "--reason", "was open")
    rg(w.conf, "list", "del", "192.0.2.7", "--reason", "fixed, rescanned clean")
    # the evidence a scan would leave, hostile: written straight into the store
    db = sqlite3.connect(tmp / "db" / "blocklist.db")
    db.execute("UPDATE entries SET evidence=? WHERE net='192.0.2.66/32'",
               (json.dumps(HOSTILE_EVIDENCE),))
    db.commit()
    db.close()
    w.start()
    yield w
    w.stop()


def test_lookup_listed(web):
    status, headers, body = get(web.base + "/lookup?ip=192.0.2.1")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert '<h1 id="status" class="listed">192.0.2.1 is listed</h1>' in body
    assert "open relay, reported by a user" in body and "192.0.2.1/32" in body
    assert re.search(r'name="csrf" value="\d+\.[0-9a-f]{64}"', body)  # the delisting form
    assert 'id="delist"' in body and "cli:" in body  # history: who listed it


def test_lookup_unlisted_and_delisted(web):
    status, _, body = get(web.base + "/lookup?ip=203.0.113.5")
    assert status == 200 and "203.0.113.5 is not listed" in body
    assert "no entry" in body and 'id="delist"' not in body
    status, _, body = get(web.base + "/lookup?ip=192.0.2.7")
    assert status == 200 and "192.0.2.7 is not listed" in body and 'id="delist"' not in body
    assert "fixed, rescanned clean" in body and ">delisted<" in body  # its history is shown


def test_lookup_network_and_ipv6(web):
    _, _, body = get(web.base + "/lookup?ip=" + urllib.parse.quote("2001:DB8::5"))
    assert "2001:db8::5 is listed" in body and "2001:db8::/32" in body and "127.0.0.4" in body


def test_hostile_content_is_escaped(web):
    status, _, body = get(web.base + "/lookup?ip=192.0.2.66")
    assert status == 200
    assert "<script" not in body and "<img" not in body and "onerror=alert(1)>" not in body
    assert "&lt;script&gt;alert(&#39;txt&#39;)&lt;/script&gt;" in body  # the reason
    assert "&lt;img src=x onerror=alert(1)&gt;" in body  # a test name
    pre = re.search(r'<pre id="transcript">(.*?)</pre>', body, re.S).group(1)
    assert pre.startswith("220 &lt;script&gt;alert(&quot;banner&quot;)&lt;/script&gt;")
    assert "&lt;victim@example.net&gt;" in pre and "&amp; &quot;quoted&quot; &#39;single&#39;" in pre
    # an ip= that is markup is refused, and the refusal escapes it
    status, _, body = get(web.base + "/lookup?ip=" + urllib.parse.quote("<b>x</b>"))
    assert status == 400 and "<b>" not in body and "&lt;b&gt;x&lt;/b&gt;" in body


def test_json_api(web):
    status, headers, body = get(web.base + "/api/v1/lookup?ip=192.0.2.66")
    assert status == 200 and headers["Content-Type"] == "application/json"
    doc = json.loads(body)
    assert doc["ip"] == "192.0.2.66" and doc["listed"] is True
    e = doc["entry"]
    assert e["net"] == "192.0.2.66/32" and e["state"] == "listed" and e["code"] == 2
    assert e["reason"] == HOSTILE_TXT and e["first_seen"] > 0
    assert e["evidence"]["transcript"] == HOSTILE_EVIDENCE["transcript"]
    assert e["evidence"]["tests"] == HOSTILE_EVIDENCE["tests"] and e["evidence"]["depth"] == 2
    assert [h["state"] for h in e["history"]] == ["listed"]
    doc = json.loads(get(web.base + "/api/v1/lookup?ip=203.0.113.5")[2])
    assert doc == {"ip": "203.0.113.5", "listed": False, "entry": None}
    doc = json.loads(get(web.base + "/api/v1/lookup?ip=192.0.2.7")[2])
    assert doc["listed"] is False and doc["entry"]["state"] == "delisted"
    assert [h["state"] for h in doc["entry"]["history"]] == ["listed", "delisted"]


def test_security_headers(web):
    for path in ("/", "/lookup?ip=192.0.2.1", "/howto", "/nope", "/api/v1/lookup?ip=1.2.3.4"):
        _, headers, body = get(web.base + path)
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, path
        assert headers["X-Content-Type-Options"] == "nosniff", path
    _, headers, body = get(web.base + "/")
    style = re.search(r"<style>(.*?)</style>", body, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in headers["Content-Security-Policy"]
    assert "<script" not in body


def test_howto(web):
    status, _, body = get(web.base + "/howto")
    assert status == 200
    for word in ("smtpd_relay_restrictions", "mynetworks", "relay_from_hosts", "acl_smtp_rcpt",
                 "match from local for any action", "relay allow from trusted"):
        assert word in body, word


def test_csrf_refused(web):
    _, _, page = get(web.base + "/lookup?ip=192.0.2.1")
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    tampered = token[:-1] + ("0" if token[-1] != "0" else "1")
    slot, mac = token.split(".")
    for fields in ({"ip": "192.0.2.1"},                        # no token
                   {"ip": "192.0.2.1", "csrf": ""},
                   {"ip": "192.0.2.1", "csrf": tampered},      # one digit changed
                   {"ip": "192.0.2.1", "csrf": f"{int(slot) - 2}.{mac}"},  # expired slot
                   {"ip": "192.0.2.1", "csrf": "garbage"}):
        status, _, body = post_form(web.base + "/delist", fields)
        assert status == 403, fields
        assert "did not carry a valid form token" in body
    # the API takes no form body (a cross-site form cannot send application/json)
    status, _, body = post_form(web.base + "/api/v1/delist", {"ip": "192.0.2.1"})
    assert status == 415 and "application/json" in json.loads(body)["error"]
    status, _, _ = request(web.base + "/delist", "POST", b'{"ip":"192.0.2.1"}',
                           {"Content-Type": "application/json"})
    assert status == 415


def test_bad_input(web):
    for path in ("/lookup?ip=x", "/lookup?ip=192.0.2.1/32", "/lookup", "/lookup?ip=",
                 "/lookup?ip=999.1.1.1", "/lookup?ip=" + "1" * 300):
        status, _, body = get(web.base + path)
        assert status == 400, path
        assert "not an IPv4 or IPv6 address" in body or "No IP address given" in body
    status, headers, body = get(web.base + "/api/v1/lookup?ip=example.org")
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"error": "'example.org' is not an IPv4 or IPv6 address."}
    for payload in ({"ip": "nope"}, {"addr": "192.0.2.1"}):
        status, _, body = post_json(web.base + "/api/v1/delist", payload)
        assert status == 400 and "error" in json.loads(body), payload
    for raw in (b"{", b"[]", b'{"ip":1}', b"ip=192.0.2.1"):
        status, _, body = post_json(web.base + "/api/v1/delist", raw)
        assert status == 400 and "JSON object" in json.loads(body)["error"], raw
    _, _, page = get(web.base + "/lookup?ip=192.0.2.1")
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    status, _, body = post_form(web.base + "/delist", {"ip": "not-an-ip", "csrf": token})
    assert status == 400 and "not an IPv4 or IPv6 address" in body


def test_not_found_and_methods(web):
    status, _, body = get(web.base + "/nope")
    assert status == 404 and "no such page" in body
    status, headers, body = get(web.base + "/api/v1/nope")
    assert status == 404 and headers["Content-Type"] == "application/json"
    for method, path, allow in (("PUT", "/", "GET, HEAD"), ("DELETE", "/lookup", "GET, HEAD"),
                                ("GET", "/delist", "POST"), ("POST", "/lookup", "GET, HEAD"),
                                ("GET", "/api/v1/delist", "POST"), ("HEAD", "/delist", "POST")):
        status, headers, _ = request(web.base + path, method, b"" if method != "GET" else None)
        assert status == 405 and headers["Allow"] == allow, (method, path)
    # HEAD of a page: GET's status and headers, no body (RFC 9110 9.3.2)
    for path in ("/", "/howto", "/api/v1/lookup?ip=192.0.2.1"):
        status, headers, body = request(web.base + path, "HEAD")
        _, got, _ = get(web.base + path)
        assert status == 200 and body == "", path
        assert headers["Content-Type"] == got["Content-Type"], path


def test_body_too_large(web):
    big = json.dumps({"ip": "192.0.2.1", "pad": "x" * 10000}).encode()
    status, _, body = post_json(web.base + "/api/v1/delist", big)
    assert status == 413 and "too large" in json.loads(body)["error"]
    # the server is still there
    assert get(web.base + "/api/v1/lookup?ip=192.0.2.1")[0] == 200


def test_config_errors(tmp_path):
    import subprocess
    from conftest import BIN
    conf = tmp_path / "no-listen.conf"
    conf.write_text(f"listen 127.0.0.1:9\nspool {tmp_path}/spool\n")
    p = subprocess.run([BIN, "web", "-c", str(conf)], capture_output=True, text=True, timeout=10)
    assert p.returncode == 1 and "no blocklist-web-listen" in p.stderr
    conf.write_text(f"listen 127.0.0.1:9\nblocklist-web-listen nowhere\n")
    p = subprocess.run([BIN, "web", "-c", str(conf)], capture_output=True, text=True, timeout=10)
    assert p.returncode == 1 and "invalid blocklist-web-listen address" in p.stderr


def test_api_delist_without_rescan(web):
    """Answers that need no rescan: not listed, listed only as part of a network, a reserved
    address (no scan-allow-reserved), and a second request within scan-delist-interval."""
    status, _, body = post_json(web.base + "/api/v1/delist", {"ip": "203.0.113.5"})
    doc = json.loads(body)
    assert status == 200 and doc["status"] == "not-listed" and doc["listed"] is False
    assert doc["entry"] is None and doc["scan"] is None
    doc = json.loads(post_json(web.base + "/api/v1/delist", {"ip": "2001:db8::9"})[2])
    assert doc["status"] == "untested" and "listed as part of 2001:db8::/32" in doc["detail"]
    doc = json.loads(post_json(web.base + "/api/v1/delist", {"ip": "192.0.2.1"})[2])
    assert doc["status"] == "untested" and "cannot be rescanned" in doc["detail"]
    assert doc["listed"] is True and doc["entry"]["state"] == "listed"  # it stays listed
    doc = json.loads(post_json(web.base + "/api/v1/delist", {"ip": "192.0.2.1"})[2])
    assert doc["status"] == "rate-limited" and "scan-delist-interval" in doc["detail"]
    log = web.log_path.read_text()
    assert "web: delisting request ip=192.0.2.1 requester=127.0.0.1 status=rate-limited" in log


def test_form_delist_with_token(web):
    _, _, page = get(web.base + "/lookup?ip=192.0.2.66")
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    status, _, body = post_form(web.base + "/delist", {"ip": "192.0.2.66", "csrf": token})
    assert status == 200
    assert '<h1 id="status" class="clean">192.0.2.66 could not be tested' in body
    assert "cannot be rescanned" in body and "<script" not in body
    assert "The entry now" in body and "&lt;script&gt;" in body  # the entry, still escaped


def test_api_delist_still_open(tmp_path, make_server):
    """A listed host that still relays (relayguard with `relay allow from any` on 127.0.1.6):
    the rescan keeps it listed, and the answer carries the scan and the new evidence."""
    host = "127.0.1.6"
    smtp = make_server(extra="relay allow from any id wide-open\n"
                             "open-relay-override \"web test: a relay to rescan\"\n", start=False)
    smtp.conf.write_text(smtp.conf.read_text() + f"listen {host}:{smtp.port}\n")
    smtp.start()
    (tmp_path / "web").mkdir()
    web = Web(tmp_path / "web", extra=f"scan-ports {smtp.port}\nscan-source 127.0.0.2\n"
                                      "scan-allow-reserved yes\nscan-timeout 5s\n")
    rg(web.conf, "list", "add", host, "--reason", "open relay, reported by a user")
    web.start()
    try:
        status, _, body = post_json(web.base + "/api/v1/delist", {"ip": host})
        doc = json.loads(body)
        assert status == 200 and doc["status"] == "still-open", doc
        assert doc["scan"]["result"] == "open" and doc["scan"]["scanner"] == "127.0.0.2"
        assert doc["listed"] is True
        ev = doc["entry"]["evidence"]
        assert ev["tests"] and ev["scanner"] == "127.0.0.2" and "RCPT TO:" in ev["transcript"]
        assert doc["entry"]["history"][-1]["who"] == "127.0.0.1"  # the requester
        _, _, page = get(web.base + "/lookup?ip=" + host)
        assert f"{host} is listed" in page and '<pre id="transcript">' in page
    finally:
        web.stop()
