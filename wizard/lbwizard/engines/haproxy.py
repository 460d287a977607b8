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


def server_settings(sock: Path) -> dict[str, dict[str, str]]:
    """What the admin decides of each server ("backend/server": admin state and weight), from `show servers
    state`; not its health. Empty when HAProxy is not running. A rollback's picture compares these."""
    try:
        text = haproxy_command(sock, "show servers state")
    except OSError:
        return {}
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and lines[0].strip().isdigit():  # the format's version number
        lines = lines[1:]
    header = next((line.lstrip("# ").split() for line in lines if line.startswith("#")), [])
    settings = {}
    for line in lines:
        if line.startswith("#"):
            continue
        row = dict(zip(header, line.split(), strict=False))
        if "be_name" in row and "srv_name" in row:
            settings[f"{row['be_name']}/{row['srv_name']}"] = {
                "admin_state": row.get("srv_admin_state", ""),
                "weight": row.get("srv_uweight", ""),
            }
    return settings
