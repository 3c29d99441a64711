"""limit greeting-delay: the banner waits; a client that talks first is logged and dropped."""
import time


def test_client_talking_before_banner_is_dropped(make_server, raw):
    srv = make_server("limit greeting-delay 1s")
    c = raw(srv.port)
    c.send(b"EHLO bot.example\r\nMAIL FROM:<spam@bot.example>\r\n")
    code, text = c.reply()
    assert code == 554 and "5.5.1" in text
    assert c.closed()
    assert "talked before the greeting" in srv.logtext()
    assert "client=127.0.0.2" in srv.logtext()


def test_patient_client_gets_banner_after_delay(make_server, raw):
    srv = make_server("limit greeting-delay 1s")
    start = time.time()
    c = raw(srv.port)
    code, text = c.reply()
    assert code == 220 and time.time() - start >= 0.9
    assert c.cmd("EHLO good.example")[0] == 250


def test_no_delay_by_default(server, raw):
    start = time.time()
    c = raw(server.port)
    assert c.reply()[0] == 220 and time.time() - start < 0.5
