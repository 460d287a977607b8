"""HAProxy's certificates through its runtime API: which it serves, and a new content put in without a reload.

HAProxy 2.6 keeps each certificate file it loaded under the name (the path) it was loaded from. `set ssl cert
NAME` with a PEM payload opens a transaction and `commit ssl cert NAME` makes every listener serve the new
content from its next handshake; connections already open keep theirs, so nothing is dropped. After a swap
the name is still the old file's path: HAProxy's entry is found by what it serves (its SHA-1 fingerprint),
not by a path, until its next reload loads the files the configuration names.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from .errors import EngineError
from .haproxy import haproxy_command

_FINGERPRINT = re.compile(r"^SHA1 FingerPrint:\s*([0-9A-Fa-f]+)\s*$", re.M)
_NOT_AFTER = re.compile(r"^notAfter:\s*(.+?)\s*$", re.M)


def loaded(sock: Path) -> dict[str, str]:
    """Each certificate HAProxy serves: its name (the file it was loaded from) -> the SHA-1 of what it serves
    now (lowercase hex). Empty when HAProxy is not running."""
    try:
        listing = haproxy_command(sock, "show ssl cert")
    except OSError:
        return {}
    names, section = [], ""
    for line in listing.splitlines():
        if line.startswith("#"):
            section = line.strip("# ").strip()
        elif line.strip() and section == "filename":
            names.append(line.strip())
    found = {}
    for name in names:
        try:
            details = haproxy_command(sock, f"show ssl cert {name}")
        except OSError:
            continue
        if match := _FINGERPRINT.search(details):
            found[name] = match.group(1).lower()
    return found


def replace(sock: Path, name: str, pem: str) -> None:
    """Make HAProxy serve pem for its certificate name, at once and without a reload; EngineError (and the
    transaction aborted) when it does not take it."""
    payload = pem if pem.endswith("\n") else pem + "\n"
    answer = haproxy_command(sock, f"set ssl cert {name} <<\n{payload}", timeout=10)
    if "Transaction created" not in answer and "Transaction updated" not in answer:
        _abort(sock, name)
        raise EngineError(f"HAProxy refused the new content of {name}: {_first_lines(answer)}")
    answer = haproxy_command(sock, f"commit ssl cert {name}", timeout=30)
    if "Success!" not in answer:
        _abort(sock, name)
        raise EngineError(f"HAProxy could not commit the new content of {name}: {_first_lines(answer)}")


def _abort(sock: Path, name: str) -> None:
    with contextlib.suppress(OSError):
        haproxy_command(sock, f"abort ssl cert {name}")


def _first_lines(answer: str) -> str:
    kept = [line for line in answer.splitlines() if line.strip() and not line.startswith("  ")][:2]
    return " ".join(line for line in kept if not line.startswith("Unknown command")) or "no answer"
