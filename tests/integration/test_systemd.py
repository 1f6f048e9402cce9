# SPDX-License-Identifier: MPL-2.0
"""The systemd notification protocol (Type=notify): READY=1 once serving,
RELOADING=1/READY=1 around a SIGHUP, STOPPING=1 on SIGTERM. A datagram
socket named by NOTIFY_SOCKET stands in for systemd."""

import signal
import socket

from utils import EXIT_OK


def notifications(sock, until, timeout=10):
    """Reads datagrams until one has the line `until`; returns all lines."""
    sock.settimeout(timeout)
    seen = []
    while until not in seen:
        try:
            data = sock.recv(4096)
        except socket.timeout:
            raise AssertionError(f"no {until} from kontaktd; got {seen}") \
                from None
        seen.extend(data.decode().splitlines())
    return seen


def test_notify_ready_reload_stopping(kontaktd, tmp_path):
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        d = kontaktd(env={"NOTIFY_SOCKET": str(path)})
        assert "READY=1" in notifications(sock, "READY=1")
        # Serving by the time it says so.
        assert d.get("/healthz").status_code == 200

        d.signal(signal.SIGHUP)
        seen = notifications(sock, "READY=1")
        assert seen.index("RELOADING=1") < seen.index("READY=1"), seen

        d.signal(signal.SIGTERM)
        assert "STOPPING=1" in notifications(sock, "STOPPING=1")
        assert d.wait(timeout=10) == EXIT_OK
