"""HAProxy's runtime API (its admin stats socket): read the servers' states, change one without a reload.

A reader treats an HAProxy that is not running as "nothing known", so status still shows what it can.
"""

from __future__ import annotations

import csv
import io
import socket
from pathlib import Path

from .errors import EngineError


def haproxy_command(sock: Path, command: str, timeout: float = 3.0) -> str:
    """One command on HAProxy's stats socket (admin level), its whole answer as text."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(str(sock))
        conn.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def haproxy_set(sock: Path, command: str) -> None:
    """A runtime write: HAProxy answers nothing (a blank line) when it took the command."""
    answer = haproxy_command(sock, command).strip()
    if answer:
        raise EngineError(f"HAProxy refused {command!r}: {answer}")


def backend_name(service_name: str) -> str:
    """The backend the haproxy role renders for a layer-7 service."""
    return f"{service_name}_servers"


def haproxy_stats(sock: Path) -> dict[tuple[str, str], dict[str, str]]:
    """`show stat` keyed by (proxy, server); empty when HAProxy is not running or not reachable."""
    try:
        text = haproxy_command(sock, "show stat")
    except OSError:
        return {}
    text = text.removeprefix("# ")
    return {(row["pxname"], row["svname"]): row for row in csv.DictReader(io.StringIO(text)) if row.get("pxname")}
