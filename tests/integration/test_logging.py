"""Logs: one line per event; the queue ID from "250 ... queued as ID" is on every line about
that message, from the RCPT decisions to the delivery; every session line names the client."""
import re


def test_queue_id_on_every_message_line(server, raw):
    c = raw(server.port)
    assert c.reply()[0] == 220
    assert c.cmd("EHLO client.example")[0] == 250
    assert c.cmd("MAIL FROM:<sender@outside.example>")[0] == 250
    assert c.cmd("RCPT TO:<alice@example.test>")[0] == 250
    assert c.cmd("RCPT TO:<victim@elsewhere.example>")[0] == 554
    assert c.cmd("DATA")[0] == 354
    code, text = c.cmd("Subject: log test\r\n\r\nbody\r\n.")
    assert code == 250
    qid = re.search(r"queued as ([0-9A-F]{16})", text).group(1)
    assert c.cmd("QUIT")[0] == 221
    server.wait_messages("alice", 1)
    server.stop()
    lines = server.logtext().splitlines()
    about = [l for l in lines if "alice@example.test" in l or "victim@elsewhere.example" in l
             or "message received" in l or "message queued" in l]
    assert len(about) >= 5  # 2 RCPT decisions, received, queued, delivered
    for line in about:
        assert "qid=%s" % qid in line, line
    session = re.search(r"session=(\d+)", about[0]).group(1)
    for line in lines:
        if "session=%s " % session in line:
            assert "client=127.0.0.2" in line, line
    rejected = [l for l in about if "rcpt rejected" in l]
    assert len(rejected) == 1 and "rule=implicit-reject" in rejected[0]
