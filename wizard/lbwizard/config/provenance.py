"""Who changed what: each saved version says when, by whom, from where, with which command or screen,
and why (an admin's --message), so `lbctl history` answers the first question after an incident.

From where is read off the process: an SSH session (SSH_CONNECTION), a console (its tty), the answers
disk, the boot apply or the commit-confirm timer (which say so themselves), or the HTTPS API, which runs
lbctl saying who asked (LBWIZARD_VIA) and what (LBWIZARD_COMMAND: the request); the command is the
command line, or the screen a management change came from.
"""

from __future__ import annotations

import os
import pwd
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .kinds import Text
from .lock import command_line

# why a change was made (lbctl --message): one line of printable text, so no message can forge a history line
MESSAGE = Text(what="a message", max_length=200, metavar="TEXT")

_said: ContextVar[dict | None] = ContextVar("lbwizard_provenance", default=None)


@contextmanager
def saying(**what: str | None) -> Iterator[None]:
    """Within the block, changes are recorded with these: command (a screen's name), message, via."""
    token = _said.set((_said.get() or {}) | {k: v for k, v in what.items() if v})
    try:
        yield
    finally:
        _said.reset(token)


def ssh_client() -> str | None:
    """The address this process works for over SSH (sshd's SSH_CONNECTION), if any: a change must not cut it off."""
    parts = os.environ.get("SSH_CONNECTION", "").split()
    return parts[0] if parts else None


def client_session() -> str:
    """The session ssh_client's address works in, in the words a refusal uses: the API runs lbctl for its
    caller (saying so in LBWIZARD_VIA) with the caller's address as an SSH client's."""
    return "this API caller's connection" if os.environ.get("LBWIZARD_VIA") else "this SSH session"


def _via() -> str:
    if os.environ.get("LBWIZARD_VIA"):
        return os.environ["LBWIZARD_VIA"]
    if ssh := os.environ.get("SSH_CONNECTION"):
        return f"ssh from {ssh.split()[0]}"
    for stream in (sys.stdin, sys.stdout):
        try:
            if stream.isatty():
                return f"console {os.ttyname(stream.fileno()).removeprefix('/dev/')}"
        except (OSError, ValueError):
            continue
    return "no terminal (a script or a service)"


def _user() -> str:
    try:
        return os.environ.get("SUDO_USER") or pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def describe() -> dict[str, str]:
    """This change's record: saved (local time), by, via, command, and the message when one was given."""
    said = _said.get() or {}
    record = {
        "saved": time.strftime("%Y-%m-%d %H:%M:%S"),
        "by": _user(),
        "via": said.get("via") or _via(),
        "command": said.get("command") or os.environ.get("LBWIZARD_COMMAND") or command_line(),
    }
    if said.get("message"):
        record["message"] = said["message"]
    return record
