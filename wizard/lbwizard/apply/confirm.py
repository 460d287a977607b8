"""Commit-confirm: keep a live change only if `lbwizard confirm` comes in time, else roll it back.

On the appliance (systemd as PID 1, live root) the timer is a transient systemd unit, which survives
the wizard, its terminal and its SSH session. Elsewhere (namespace tests, containers) it is a detached
process in its own session whose PID is kept in run/lbwizard/confirm-timer.pid; confirm stops it by
that PID after checking it really is our timer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from ..config.files import atomic_write
from ..config.paths import Paths

UNIT = "lbwizard-confirm"


def _systemd(paths: Paths) -> bool:
    return paths.is_live_root and Path("/run/systemd/system").is_dir()


def start(paths: Paths, seconds: float) -> str:
    """Arm the timer; returns how it was armed, for the admin."""
    if _systemd(paths):
        subprocess.run(
            [
                "systemd-run",
                f"--unit={UNIT}",
                f"--on-active={seconds}",
                "--timer-property=AccuracySec=100ms",
                sys.executable,
                "-m",
                "lbwizard.cli",
                "rollback",
            ],
            check=True,
            capture_output=True,
        )
        return f"systemd timer {UNIT}.timer"
    timer = subprocess.Popen(
        [sys.executable, "-m", "lbwizard.cli", "confirm-timer", "--seconds", str(seconds), "--root", str(paths.root)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    atomic_write(paths.confirm_timer_pid, f"{timer.pid}\n")
    return f"timer process {timer.pid}"


def _is_our_timer(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"lbwizard.cli" in command and b"confirm-timer" in command


def cancel(paths: Paths) -> bool:
    """Stop a pending timer; False when none was pending."""
    if _systemd(paths):
        result = subprocess.run(["systemctl", "stop", f"{UNIT}.timer"], capture_output=True)
        return result.returncode == 0
    if not paths.confirm_timer_pid.exists():
        return False
    pid = int(paths.confirm_timer_pid.read_text().strip())
    paths.confirm_timer_pid.unlink()
    if _is_our_timer(pid):
        os.kill(pid, signal.SIGTERM)
        return True
    return False
