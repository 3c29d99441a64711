"""The blocklist web page in a real browser: Debian's chromium driven headless by
chromium-driver through python3-selenium. Type an address into the form and see whether it is
listed; request delisting of a host that has been closed and see the page say so, then look it
up again and see it not listed."""
import os
import shutil

import pytest

from web_helpers import Web, rg

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

webdriver = pytest.importorskip("selenium.webdriver", reason="python3-selenium is not installed "
                                "(scripts/deps.sh test)")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.fail("chromium and chromium-driver are needed (scripts/deps.sh test)")
    opts = Options()
    opts.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--disable-extensions", "--disable-background-networking",
                f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def lookup(driver, base, ip):
    """Type ip into the form on / and submit it; the status headline."""
    driver.get(base + "/")
    box = driver.find_element(By.ID, "ip")
    box.clear()
    box.send_keys(ip)
    driver.find_element(By.ID, "lookup").click()
    WebDriverWait(driver, 20).until(EC.presence_of_element_located((By.ID, "status")))
    return driver.find_element(By.ID, "status").text


def test_lookup_in_browser(tmp_path, browser):
    web = Web(tmp_path)
    rg(web.conf, "list", "add", "192.0.2.1", "--reason", "open relay <found by a scan>")
    web.start()
    try:
        assert lookup(browser, web.base, "192.0.2.1") == "192.0.2.1 is listed"
        # the inline style sheet applies: the CSP's hash lets exactly it through
        color = browser.find_element(By.ID, "status").value_of_css_property("color")
        assert color == "rgba(170, 0, 0, 1)", color
        # the reason is shown as text, not markup
        assert "open relay <found by a scan>" in browser.find_element(By.ID, "entry").text
        assert browser.find_element(By.ID, "delist").text == "Request delisting"
        assert lookup(browser, web.base, "203.0.113.9") == "203.0.113.9 is not listed"
        browser.get(web.base + "/howto")
        assert "How to close an open relay" in browser.title
    finally:
        web.stop()


def test_delisting_in_browser(tmp_path, browser, make_server):
    """A host listed as an open relay that has been closed (relayguard with its default
    relay rules on 127.0.1.5): the button rescans it from 127.0.0.2 (outside its trusted
    networks), the page says delisted, and a new lookup says not listed."""
    host = "127.0.1.5"
    smtp = make_server(start=False)
    smtp.conf.write_text(smtp.conf.read_text() + f"listen {host}:{smtp.port}\n")
    smtp.start()
    (tmp_path / "web").mkdir()
    web = Web(tmp_path / "web", extra=f"scan-ports {smtp.port}\nscan-source 127.0.0.2\n"
                                      "scan-allow-reserved yes\nscan-timeout 5s\n")
    rg(web.conf, "list", "add", host, "--reason", "open relay, found by a scan")
    web.start()
    try:
        assert lookup(browser, web.base, host) == f"{host} is listed"
        browser.find_element(By.ID, "delist").click()
        WebDriverWait(browser, 90).until(EC.presence_of_element_located((By.ID, "detail")))
        assert browser.find_element(By.ID, "status").text == f"{host} has been delisted"
        assert "tests refused" in browser.find_element(By.ID, "detail").text
        assert browser.find_element(By.ID, "state").text == "delisted"
        browser.find_element(By.ID, "again").click()
        WebDriverWait(browser, 20).until(EC.presence_of_element_located((By.ID, "history")))
        assert browser.find_element(By.ID, "status").text == f"{host} is not listed"
        assert "127.0.0.1" in browser.find_element(By.ID, "history").text  # the requester
    finally:
        web.stop()
    assert f"web: delisting request ip={host} requester=127.0.0.1 status=delisted" in \
        web.log_path.read_text()
