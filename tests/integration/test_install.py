"""make install / uninstall (PREFIX, DESTDIR): the tree a packager gets, the config never
overwritten, and the systemd unit accepted by systemd-analyze where it exists."""
import os
import pathlib
import shutil
import stat
import subprocess

import pytest
from conftest import BIN

REPO = pathlib.Path(__file__).resolve().parents[2]


def make(*args):
    """Run make in the repository with the binary the suite tests (INSTALL_BIN: never rebuilt,
    whatever build flavour it is; no outer make's variables leaking in)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    out = subprocess.run(["make", "-s", "-C", str(REPO), "INSTALL_BIN=%s" % BIN, *args],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_install_tree_then_uninstall(tmp_path):
    dest = tmp_path / "dest"
    make("install", "DESTDIR=%s" % dest, "PREFIX=/usr")
    sbin = dest / "usr/sbin"
    assert (sbin / "relayguard").read_bytes() == pathlib.Path(BIN).read_bytes()
    assert mode(sbin / "relayguard") == 0o755
    for name in ("sendmail", "mailq"):  # relative links, so the tree can be moved
        assert os.readlink(sbin / name) == "relayguard"
    conf = dest / "etc/relayguard/relayguard.conf"
    assert mode(conf) == 0o644
    assert conf.read_text() == (REPO / "etc/relayguard.system.conf").read_text()
    out = subprocess.run([str(sbin / "relayguard"), "check", "-c", str(conf)], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 0, out.stdout + out.stderr  # the shipped config is clean
    unit = (dest / "usr/lib/systemd/system/relayguard.service").read_text()
    assert "ExecStart=/usr/sbin/relayguard serve -c /etc/relayguard/relayguard.conf\n" in unit
    assert "ExecReload=/usr/sbin/relayguard reload -c /etc/relayguard/relayguard.conf\n" in unit
    for line in ("KillSignal=SIGTERM", "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "PrivateTmp=yes", "ReadWritePaths=/var/lib/relayguard /run/relayguard"):
        assert line + "\n" in unit
    assert "@" not in unit.replace("@system-service", "")  # every placeholder filled in
    docs = dest / "usr/share/doc/relayguard"
    assert sorted(p.name for p in docs.iterdir()) == ["README.md", "config.md", "design.md",
                                                      "operations.md"]

    conf.write_text(conf.read_text() + "# the admin's own change\n")
    out = make("install", "DESTDIR=%s" % dest, "PREFIX=/usr")  # an upgrade
    assert "keeping the existing" in out.stdout
    assert conf.read_text().endswith("# the admin's own change\n")

    make("uninstall", "DESTDIR=%s" % dest, "PREFIX=/usr")
    assert not any(p.exists() or p.is_symlink() for p in
                   (sbin / "relayguard", sbin / "sendmail", sbin / "mailq", docs,
                    dest / "usr/lib/systemd/system/relayguard.service"))
    assert conf.read_text().endswith("# the admin's own change\n")  # the admin's file stays


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze here")
def test_systemd_unit_verifies(tmp_path):
    # installed under a real prefix (no DESTDIR), so ExecStart names an existing executable
    root = tmp_path / "root"
    make("install", "PREFIX=%s/usr" % root, "SYSCONFDIR=%s/etc" % root)
    unit = root / "usr/lib/systemd/system/relayguard.service"
    out = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stderr.strip() == "", out.stderr
