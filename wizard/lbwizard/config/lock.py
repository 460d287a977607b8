"""One change at a time: every path that changes the unit holds this lock from reading the saved config
to its last step (lbctl, the management screens, the wizard, the commit-confirm timer, the boot apply).

The lock is an flock on the root directory itself (/ on the unit, DIR for --root): the kernel drops it
when its holder exits, however it exits, so a crashed change never leaves the unit locked, and no lock
file is left behind. While it holds the lock, the holder says who it is (command, PID, since when) in
run/lbwizard/change.holder; a change that meets it waits a short, bounded time, then refuses naming
that holder. Nothing of the refused change was written, and history numbers stay unique.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .paths import Paths

WAIT_SECONDS = float(os.environ.get("LBWIZARD_LOCK_WAIT", "10"))  # the environment: tests and benches only
POLL_SECONDS = 0.05
_held: set[Path] = set()  # roots this process holds: a change inside a change (a rollback's) holds it once


PENDING_RESTORE = "restore-pending.json"  # in the config folder (apply/restore_journal.py writes it)


class Busy(RuntimeError):
    """Another change holds the lock; the message names it."""


class RestorePending(Busy):
    """A restore was cut off (killed, the power lost) before its commit point. Until the way back it kept is
    taken (the boot apply does it), a change would build on a half-restored unit and be lost when that happens."""


def command_line() -> str:
    """What this process was started as, for the holder's note: `lbctl rs add VIP1 192.168.2.51`."""
    program = Path(sys.argv[0]).name if sys.argv else "lbwizard"
    program = {"lbctl.py": "lbctl", "cli.py": "lbwizard"}.get(program, program)  # python -m lbwizard...
    return " ".join([program, *sys.argv[1:]])


def _note_path(paths: Paths) -> Path:
    return paths.root / "run/lbwizard/change.holder"


def _holder(paths: Paths) -> str:
    try:
        note = json.loads(_note_path(paths).read_text())
    except (OSError, ValueError):
        return "another change (it has not said who it is yet)"
    since = time.strftime("%H:%M:%S", time.localtime(note.get("since", 0)))
    return f"`{note.get('command', '?')}` (pid {note.get('pid', '?')}, since {since})"


def _own_note(paths: Paths) -> bool:
    """Whether the note's folder is the root's own: one that leads out of it (a link) gets no note, and
    loses none; the note is a courtesy to the change that waits, never a reason to write elsewhere."""
    return _note_path(paths).parent.resolve().is_relative_to(paths.root.resolve())


def _say_who(paths: Paths, command: str) -> list[Path]:
    """Write the holder's note, never through a link at its place; the directories made for it, to take away
    with it."""
    note = _note_path(paths)
    if not _own_note(paths):
        return []
    made = [d for d in (note.parent.parent, note.parent) if not d.exists()]
    note.parent.mkdir(parents=True, exist_ok=True)
    try:
        note.unlink(missing_ok=True)  # a link there goes; what it names stays as it is
        fd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except OSError:  # a directory in its place: no note
        return made
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps({"command": command, "pid": os.getpid(), "since": time.time()}))
    return made


@contextmanager
def one_change(paths: Paths, command: str | None = None, wait: float | None = None, recovering: bool = False) -> Iterator[None]:
    """Hold the change lock for the block; Busy after `wait` seconds if another change keeps it, RestorePending
    while a cut-off restore waits to be taken back (recovering: the boot apply, which takes it back)."""
    root = paths.root.resolve()
    if root in _held:
        yield
        return
    root.mkdir(parents=True, exist_ok=True)  # a new --root receives the files anyway
    deadline = time.monotonic() + (WAIT_SECONDS if wait is None else wait)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Busy(
                        f"another change is in progress: {_holder(paths)}; nothing was changed, try again when it has finished"
                    ) from None
                time.sleep(POLL_SECONDS)
        journal = paths.config_dir / PENDING_RESTORE
        if not recovering and journal.is_file():
            raise RestorePending(
                f"a restore was cut off before it was whole ({journal} keeps the way back): `lbwizard apply --boot` "
                "takes it back whole, as the next boot would; nothing was changed, make this change after that"
            )
        _held.add(root)
        made = _say_who(paths, command or command_line())
        try:
            yield
        finally:
            _held.discard(root)
            if _own_note(paths) and not _note_path(paths).is_dir():
                _note_path(paths).unlink(missing_ok=True)
            for directory in reversed(made):
                if directory.is_dir() and not any(directory.iterdir()):
                    directory.rmdir()
    finally:
        os.close(fd)  # closing drops the lock
