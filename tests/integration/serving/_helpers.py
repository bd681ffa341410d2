"""Small helpers shared by the serving integration tests (polling, metrics, raw calls)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


def metric(svc: Any, name: str, **labels: str) -> float:
    """The value of one sample in the service's /~metrics (0.0 if absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.compile(r"^" + re.escape(name) + r"\{([^}]*)\} (\S+)$", re.MULTILINE)
    for found, value in pattern.findall(svc.get("/~metrics").text):
        parts = ",".join(sorted(found.split(","))) if found else ""
        if parts == wanted:
            return float(value)
    return 0.0


def lines(path: Path) -> list[str]:
    """The lines of a file the service appends to (empty if it does not exist yet)."""
    return path.read_text().split() if path.exists() else []


def rss_kib(pid: int) -> int:
    """The resident memory of process ``pid``, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def send_head(port: int, path: str, header_bytes: int, timeout: float = 10.0) -> bytes:
    """Send ``GET path`` whose headers hold ``header_bytes`` bytes over a raw socket (while
    reading the answer in parallel, as a client that is refused mid-send must) and return
    what the server answered before it closed the connection."""
    import socket
    import threading

    chunk = b"X-Filler-%06d: " + b"a" * 4000 + b"\r\n"
    count = max(1, header_bytes // len(chunk % 0))
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:

        def write() -> None:
            try:
                sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
                for i in range(count):
                    sock.sendall(chunk % i)
                sock.sendall(b"\r\n")
            except OSError:
                pass  # refused and closed while sending: what the test expects

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        answer = b""
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
                if b"\r\n\r\n" in answer and answer.startswith(b"HTTP/1.1 2"):
                    break  # accepted: the answer of a keep-alive connection does not end
        except OSError:
            pass
        writer.join(timeout)
    return answer
