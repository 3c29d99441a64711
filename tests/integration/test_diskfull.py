"""A full spool disk: the message gets 452 4.3.1, nothing half-written stays behind, and the
server keeps serving (a small tmpfs that the test mounts itself)."""
import smtplib
import subprocess

import pytest


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    rc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                        capture_output=True)
    if rc.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % rc.stderr.decode().strip())
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)])


def test_full_spool_disk_gets_452_and_loses_nothing(make_server, small_fs):
    srv = make_server("limit message-size 5M", start=False)
    srv.conf.write_text(srv.conf.read_text().replace("spool %s/spool" % srv.tmp,
                                                     "spool %s/spool" % small_fs))
    srv.start()
    big = "Subject: big\r\n\r\n" + ("x" * 998 + "\r\n") * 2000  # ~2 MB > the 1 MB disk
    with smtplib.SMTP("127.0.0.1", srv.port, source_address=("127.0.0.2", 0)) as s:
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("a@outside.example", ["alice@example.test"], big)
        assert e.value.smtp_code == 452 and b"4.3.1" in e.value.smtp_error
        # the session and the server go on; a small message still fits
        s.sendmail("a@outside.example", ["alice@example.test"], "Subject: small\r\n\r\nok\r\n")
    msgs = srv.wait_messages("alice", 1)
    assert len(msgs) == 1 and b"Subject: small" in msgs[0].read_bytes()
    assert srv.queue_list().strip().endswith("0 messages queued")
    used = sum(f.stat().st_size for f in (small_fs / "spool").iterdir() if f.is_file())
    assert used < 64 * 1024  # the big one left nothing behind


def test_full_disk_while_appending_to_the_spool(make_server, small_fs):
    """Bodies small enough to stage in memory: the append to the segment fails instead; the
    record is cut back and every message that got 250 is delivered."""
    srv = make_server(start=False)
    srv.conf.write_text(srv.conf.read_text().replace("spool %s/spool" % srv.tmp,
                                                     "spool %s/spool" % small_fs))
    srv.start()
    body = "Subject: %d\r\n\r\n" + ("y" * 998 + "\r\n") * 200  # ~200 KB each
    acked, refused = [], []
    with smtplib.SMTP("127.0.0.1", srv.port, source_address=("127.0.0.2", 0)) as s:
        for i in range(10):
            try:
                s.sendmail("a@outside.example", ["alice@example.test"], body % i)
                acked.append(i)
            except smtplib.SMTPDataError as e:
                assert e.smtp_code == 452 and b"4.3.1" in e.smtp_error
                refused.append(i)
    assert acked and refused
    msgs = srv.wait_messages("alice", len(acked))
    subjects = sorted(int(m.read_bytes().split(b"Subject: ")[1].split(b"\n")[0]) for m in msgs)
    assert subjects == acked


@pytest.fixture
def fs_4m(tmp_path):
    mnt = tmp_path / "small4"
    mnt.mkdir()
    rc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                        capture_output=True)
    if rc.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % rc.stderr.decode().strip())
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)])


@pytest.mark.parametrize("threshold", ["3M", "60%"])
def test_spool_min_free_refuses_new_mail_before_the_disk_is_full(make_server, fs_4m,
                                                                   threshold):
    """limit spool-min-free: once the spool's filesystem has less free space than the
    threshold, MAIL gets 452 4.3.1 before the client sends a byte of the message."""
    srv = make_server("limit message-size 5M\nlimit spool-min-free %s" % threshold, start=False)
    srv.conf.write_text(srv.conf.read_text().replace("spool %s/spool" % srv.tmp,
                                                     "spool %s/spool" % fs_4m))
    srv.start()
    big = "Subject: big\r\n\r\n" + ("z" * 998 + "\r\n") * 2000  # 2 MB of the 4 MB
    with smtplib.SMTP("127.0.0.1", srv.port, source_address=("127.0.0.2", 0)) as s:
        s.sendmail("a@outside.example", ["alice@example.test"], big)  # 4 MB free: fits
        with pytest.raises(smtplib.SMTPSenderRefused) as e:
            s.sendmail("a@outside.example", ["alice@example.test"], "Subject: s\r\n\r\nx\r\n")
        assert e.value.smtp_code == 452 and b"4.3.1" in e.value.smtp_error
        assert s.noop()[0] == 250  # the session goes on
    assert "smtp: spool space low, mail refused" in srv.logtext()
    msgs = srv.wait_messages("alice", 1)
    assert len(msgs) == 1 and b"Subject: big" in msgs[0].read_bytes()
