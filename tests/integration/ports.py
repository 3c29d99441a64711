"""Free loopback ports for the servers the tests start."""
import socket

_given = set()


def free_port(host="127.0.0.1"):
    """A port nothing listens on now on host, never one this session handed out before (two
    calls in a row may otherwise get the same port from the kernel, and one config would then
    listen twice)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in _given:
            _given.add(port)
            return port
    raise RuntimeError("no fresh free port on %s" % host)
