"""TLS helpers shared by the TLS, AUTH, sender-policy and relay-matrix tests: a self-signed
certificate made with openssl, and a client context that does not verify it."""
import grp
import os
import pathlib
import ssl
import subprocess


def make_cert(directory, name="relayguard", cn="localhost"):
    """A self-signed EC certificate for cn, localhost and 127.0.0.1 (gsasl verifies the name).
    Run as root, the key goes to group relayguard (0640): serve reads it at start as root and
    at a reload as that user (docs/operations.md, "Running as root or not")."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    crt, key = directory / (name + ".crt"), directory / (name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(crt), "-days", "2", "-subj", "/CN=" + cn, "-addext",
                    "subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1" % cn],
                   check=True, capture_output=True, timeout=30)
    if os.geteuid() == 0:
        os.chown(key, 0, grp.getgrnam("relayguard").gr_gid)
        os.chmod(key, 0o640)
    return crt, key


def client_context(max_version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if max_version:
        ctx.maximum_version = max_version
    return ctx


class TlsLines:
    """Commands and replies over a TLS socket (one reply per command)."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def reply(self):
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError(self.buf)
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode())
            if line[3:4] != b"-":
                return int(line[:3]), "\n".join(lines)

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def closed(self):
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError):
            return True
