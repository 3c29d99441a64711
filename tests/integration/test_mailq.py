"""`mailq` (a link named mailq, and `relayguard mailq`) prints the queue as Postfix's
`postqueue -p` does with long queue IDs: 17/8/19 columns, '!' for held, the deferral reason
right-aligned to column 78 above the recipients it applies to, recipients at column 60, the
Kbytes/Requests summary; "Mail queue is empty". When the server is down: the spool, exit 2."""
import calendar
import os
import subprocess
import time

from conftest import BIN
from queue_helpers import all_deferred, free_port_on, queue_json, route_extra, send, wait_queue

HEADINGS = ("----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------")


def mailq(srv, tmp_path):
    link = tmp_path / "mailq"
    if not link.exists():
        os.symlink(BIN, link)
    return subprocess.run([str(link), "-c", str(srv.conf)], capture_output=True, text=True,
                          timeout=30)


def arrival(iso):
    t = calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))
    return time.strftime("%a %b %e %H:%M:%S", time.localtime(t))


def test_empty_queue(server, tmp_path):
    out = mailq(server, tmp_path)
    assert out.returncode == 0 and out.stdout == "Mail queue is empty\n"


def test_postfix_layout(make_server, tmp_path):
    srv = make_server(route_extra(free_port_on("127.0.0.5")))
    send(srv, ["friend@remote.example", "other@remote.example"])
    send(srv, ["third@remote.example"], sender="bob@example.test")
    msgs = wait_queue(srv, lambda m: all_deferred(m, 2))
    assert all_deferred(msgs, 2), msgs
    assert srv.ctl("queue", "hold", msgs[1]["qid"]).returncode == 0
    reason = "(connect: Connection refused)"
    want = [HEADINGS]
    for i, (m, mark) in enumerate(zip(msgs, " !")):
        if i:
            want.append("")
        want.append("%-17s %8d %19s %s" % (m["qid"] + mark, m["size"], arrival(m["arrival"]),
                                           m["sender"]))
        want.append(reason.rjust(78))
        want += [" " * 59 + r["address"] for r in m["recipients"]]
    total = sum(m["size"] for m in msgs)
    want += ["", "-- %d Kbytes in 2 Requests." % (total // 1024)]
    out = mailq(srv, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == want
    same = srv.ctl("mailq")
    assert same.returncode == 0 and same.stdout == out.stdout

    # the server is down: the same listing from the spool files, without delivery states
    assert srv.stop() == 0
    down = mailq(srv, tmp_path)
    assert down.returncode == 2 and "read-only" in down.stderr
    lines = down.stdout.splitlines()
    assert lines[0] == HEADINGS and lines[1].startswith(msgs[0]["qid"] + " ")
    assert any(l.startswith(msgs[1]["qid"] + "!") for l in lines)
    assert lines[-1] == "-- %d Kbytes in 2 Requests." % (total // 1024)
    srv.start()
