"""Commit-confirm: keep a live change only if `lbwizard confirm` comes in time, else roll it back.

What is pending is written down (run/lbwizard/confirm.json: armed when, rolls back when, or rolled back
when), so every answer is the truth: confirm in time says the change stays; confirm after the timer
ran says the change was already rolled back, and when; confirm with nothing armed says so. The
timer and confirm both take the change lock, so one of them wins and the other sees what it did.

On the appliance (systemd as PID 1, live root) the timer is a transient systemd timer, which survives
the wizard, its terminal and its SSH session; it unloads itself once it has run, so the next change
can arm one again. Elsewhere (namespace tests, containers) it is a detached process in its own
session whose PID is in run/lbwizard/confirm-timer.pid; it is stopped by that PID after checking it
really is our timer. Arming that fails undoes the change it was to guard (the caller's job).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..config.files import atomic_write
from ..config.paths import Paths

UNIT = "lbwizard-confirm"


class ArmingFailed(RuntimeError):
    """The timer could not be started; the message says why."""


def _systemd(paths: Paths) -> bool:
    return paths.is_live_root and Path("/run/systemd/system").is_dir()


def _note_path(paths: Paths) -> Path:
    return paths.root / "run/lbwizard/confirm.json"


def note(paths: Paths) -> dict:
    """What is known: {"state": "pending", "deadline": t} or {"state": "rolled back", "at": t}, or {}."""
    try:
        return json.loads(_note_path(paths).read_text())
    except (OSError, ValueError):
        return {}


def _write_note(paths: Paths, **fields: object) -> None:
    atomic_write(_note_path(paths), json.dumps(fields) + "\n", 0o600)


def forget(paths: Paths) -> None:
    """A new change was applied: what an earlier confirmation was about no longer matters."""
    _note_path(paths).unlink(missing_ok=True)


def start(paths: Paths, seconds: float) -> str:
    """Arm the timer; returns how it was armed, for the admin. ArmingFailed when it could not be."""
    _write_note(paths, state="pending", armed=time.time(), deadline=time.time() + seconds)
    timer_command = [sys.executable, "-m", "lbwizard.cli", "confirm-timer", "--seconds", "0", "--root", str(paths.root)]
    if _systemd(paths):
        result = subprocess.run(
            [
                "systemd-run",
                f"--unit={UNIT}",
                f"--on-active={seconds}",
                "--timer-property=AccuracySec=100ms",
                "--timer-property=RemainAfterElapse=no",  # unloaded once it ran: the next change can arm it again
                "--collect",  # its service too, even if the rollback failed
                *timer_command,
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            forget(paths)
            raise ArmingFailed(f"systemd-run could not arm the timer: {result.stderr.strip() or result.returncode}")
        return f"systemd timer {UNIT}.timer"
    timer_command[timer_command.index("0")] = str(seconds)
    try:
        timer = subprocess.Popen(
            timer_command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        forget(paths)
        raise ArmingFailed(f"could not start the timer process: {exc}") from exc
    try:
        atomic_write(paths.confirm_timer_pid, f"{timer.pid}\n")
    except OSError as exc:  # a timer nobody could stop is no timer: stop it, and say so
        timer.kill()
        timer.wait()
        forget(paths)
        raise ArmingFailed(f"could not record the timer ({paths.confirm_timer_pid}): {exc}") from exc
    return f"timer process {timer.pid}"


def _is_our_timer(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"lbwizard.cli" in command and b"confirm-timer" in command


def _stop_timer(paths: Paths) -> None:
    if _systemd(paths):
        subprocess.run(["systemctl", "stop", f"{UNIT}.timer"], capture_output=True)
        return
    if not paths.confirm_timer_pid.exists():
        return
    pid = int(paths.confirm_timer_pid.read_text().strip())
    paths.confirm_timer_pid.unlink()
    if pid != os.getpid() and _is_our_timer(pid):
        os.kill(pid, signal.SIGTERM)


def confirm(paths: Paths) -> dict:
    """Keep the pending change (call with the change lock held): the note as it was before."""
    found = note(paths)
    if found.get("state") == "pending":
        _stop_timer(paths)
        forget(paths)
    return found


def expired(paths: Paths) -> bool:
    """The timer ran out (call with the change lock held): True when the change must be rolled back now,
    False when a confirm came first."""
    paths.confirm_timer_pid.unlink(missing_ok=True)
    return note(paths).get("state") == "pending"


def rolled_back(paths: Paths, done: bool) -> None:
    """What the timer did, for the next confirm to tell."""
    _write_note(paths, state="rolled back" if done else "rollback failed", at=time.time())


def cancel(paths: Paths) -> None:
    """An explicit rollback: a pending timer has nothing left to guard."""
    if note(paths).get("state") == "pending":
        _stop_timer(paths)
        forget(paths)
