"""`relayguard queue list|show|flush|hold|release|delete [--json]` on a running server: what
each shows, that hold survives a restart, release and flush deliver at once (retry-min is 1h),
delete removes, unknown IDs are errors (exit 1), a server that is down is exit 2 (list then
reads the spool read-only)."""
import json
import subprocess

import pytest
from conftest import BIN
from queue_helpers import (Sink, all_deferred, free_port_on, queue_json, route_extra, send,
                           wait_files, wait_queue)
from smtp_helpers import wait_log


@pytest.fixture
def deferred(make_server, tmp_path):
    """A server with one relayed message deferred (nothing listens at its route yet), and the
    sink that can be started at the route."""
    port = free_port_on("127.0.0.5")
    srv = make_server(route_extra(port))
    sink = Sink(tmp_path, port)
    send(srv, ["friend@remote.example", "other@remote.example"], subject="to the queue")
    msgs = wait_queue(srv, all_deferred)
    assert all_deferred(msgs), msgs
    yield srv, sink, msgs[0]["qid"]
    sink.stop()


def test_list_text_and_json(deferred):
    srv, _, qid = deferred
    m = queue_json(srv)[0]
    assert m["qid"] == qid and m["sender"] == "alice@example.test" and m["held"] is False
    assert m["size"] > 0 and m["arrival"].endswith("Z")
    assert [r["address"] for r in m["recipients"]] == ["friend@remote.example",
                                                       "other@remote.example"]
    for r in m["recipients"]:
        assert r["state"] == "deferred" and r["attempts"] >= 1 and r["next_retry"]
        assert "refused" in r["last_error"] and r["relay"] == "remote.example"
    out = srv.ctl("queue", "list")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(qid + "  ") and "<alice@example.test>" in lines[0]
    assert lines[1].startswith("    relay    <friend@remote.example>  rule=local-host  "
                               "state=deferred attempts=")
    assert " next-retry=" in lines[1] and " relay=remote.example " in lines[1]
    assert lines[1].endswith(' error="connect: Connection refused"')
    assert lines[-1] == "1 message queued"


def test_show_text_and_json(deferred):
    srv, _, qid = deferred
    out = srv.ctl("queue", "show", qid)
    assert out.returncode == 0, out.stderr
    head, _, header = out.stdout.partition("\n\n")
    assert head.startswith(qid)
    assert header.startswith("Received: from ") and "\nSubject: to the queue\n" in header
    assert "body" not in header  # the header only
    assert "\r" not in subprocess.run([BIN, "queue", "show", qid, "-c", str(srv.conf)],
                                      capture_output=True).stdout.decode()  # LF lines
    out = srv.ctl("queue", "show", "--json", qid.lower())  # any case
    doc = json.loads(out.stdout)
    assert doc["qid"] == qid and doc["header_truncated"] is False
    assert doc["header"].endswith("From: <alice@example.test>\r\n")
    assert doc["recipients"][0]["state"] == "deferred"


@pytest.mark.parametrize("cmd", ["show", "flush", "hold", "release", "delete"])
def test_unknown_id_is_exit_1(deferred, cmd):
    srv, _, _ = deferred
    out = srv.ctl("queue", cmd, "0123456789ABCDEF")
    assert out.returncode == 1
    assert out.stderr == "relayguard: no message 0123456789ABCDEF in the queue\n"


@pytest.mark.parametrize("args", [["show"], ["hold"], ["list", "X"], ["bogus"], ["hold", "a", "b"]])
def test_usage_errors_are_exit_1(deferred, args):
    srv, _, _ = deferred
    out = srv.ctl("queue", *args)
    assert out.returncode == 1 and "usage" in out.stderr


def test_flush_retries_a_deferred_message_at_once(deferred):
    srv, sink, qid = deferred
    sink.start()
    out = srv.ctl("queue", "flush", qid)
    assert out.returncode == 0 and out.stdout == "%s flushed\n" % qid
    assert wait_queue(srv, lambda m: not m) == []
    got = wait_files(sink, 1)
    assert len(got) == 1 and b"Subject: to the queue" in got[0]


def test_flush_all_json(deferred):
    srv, sink, qid = deferred
    send(srv, ["third@remote.example"])
    assert all_deferred(wait_queue(srv, lambda m: all_deferred(m, 2)), 2)
    sink.start()
    out = srv.ctl("queue", "flush", "--json")
    assert out.returncode == 0 and json.loads(out.stdout) == {"qid": None, "result": "flushed"}
    assert wait_queue(srv, lambda m: not m) == []
    assert len(wait_files(sink, 2)) == 2


def test_hold_survives_a_restart_and_release_delivers(deferred):
    srv, sink, qid = deferred
    out = srv.ctl("queue", "hold", "--json", qid)
    assert out.returncode == 0 and json.loads(out.stdout) == {"qid": qid, "result": "held"}
    sink.start()
    assert srv.stop() == 0
    srv.start()  # a restart tries everything that is not held at once
    assert wait_log(srv, "queue: on hold", "qid=%s" % qid)
    assert srv.ctl("queue", "flush").returncode == 0  # held: flush leaves it alone
    out = srv.ctl("queue", "flush", qid)
    assert out.returncode == 1 and "on hold" in out.stderr
    m = queue_json(srv)[0]
    assert m["held"] is True and {r["state"] for r in m["recipients"]} == {"held"}
    assert "  held" in srv.ctl("queue", "list").stdout.splitlines()[0]
    assert sink.messages() == []
    out = srv.ctl("queue", "release", qid)
    assert out.returncode == 0 and out.stdout == "%s released\n" % qid
    assert wait_queue(srv, lambda msgs: not msgs) == []
    assert len(wait_files(sink, 1)) == 1


def test_delete_removes_it_for_good(deferred):
    srv, sink, qid = deferred
    out = srv.ctl("queue", "delete", qid)
    assert out.returncode == 0 and out.stdout == "%s deleted\n" % qid
    assert queue_json(srv) == []
    assert wait_log(srv, "queue: deleted", "qid=%s" % qid)
    sink.start()
    assert srv.stop() == 0
    srv.start()
    assert queue_json(srv) == []
    out = srv.ctl("queue", "delete", "--json", qid)
    assert out.returncode == 1 and "no message" in out.stderr
    assert sink.messages() == []


def test_server_down(deferred):
    srv, _, qid = deferred
    assert srv.stop() == 0
    out = srv.ctl("queue", "list")
    assert out.returncode == 2
    assert "cannot reach the server" in out.stderr and "read-only" in out.stderr
    assert out.stdout.startswith(qid) and "1 message queued" in out.stdout
    assert "    relay    <friend@remote.example>  rule=local-host\n" in out.stdout  # no state
    for args in (["hold", qid], ["list", "--json"], ["flush"]):
        out = srv.ctl("queue", *args)
        assert out.returncode == 2 and out.stdout == "", args
    srv.start()
