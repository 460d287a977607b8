"""The playbook's own process: how it is started, stopped, and started ahead of the hand-over that takes it.

Light on purpose (the standard library only): lbctl and lbwizard start it first thing, before they import
the rest of lbwizard (start_early), so that Ansible loads while they import, read and check the change.
Under TCG the imports alone are over a second, and the playbook's loading (about 5 s) is most of a small
change's hand-over; here the two overlap.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

STOP_GRACE = 5.0

INSTALLED_ANSIBLE_DIR = Path("/usr/share/lbwizard/ansible")  # where image/assemble puts the roles


def _ansible_dir() -> Path:
    """LBWIZARD_ANSIBLE_DIR, else the source tree's ansible/ (a checkout), else the appliance's copy."""
    if "LBWIZARD_ANSIBLE_DIR" in os.environ:
        return Path(os.environ["LBWIZARD_ANSIBLE_DIR"])
    checkout = Path(__file__).resolve().parents[3] / "ansible"
    return checkout if (checkout / "site.yml").exists() else INSTALLED_ANSIBLE_DIR


ANSIBLE_DIR = _ansible_dir()


def playbook_command(vars_file: Path, roles: list[str] | None = None) -> list[str]:
    """site.yml through Ansible's Python API (apply/playbook.py), by this interpreter (the appliance's venv)."""
    tags = [",".join(roles)] if roles else []
    return [sys.executable, "-m", "lbwizard.apply.playbook", str(ANSIBLE_DIR / "site.yml"), str(vars_file), *tags]


def ready_playbook_command() -> list[str]:
    """apply/playbook.py started ahead (--ready): it loads Ansible, then waits for its variables and roles."""
    return [sys.executable, "-m", "lbwizard.apply.playbook", "--ready", str(ANSIBLE_DIR / "site.yml")]


EVENTS_CALLBACK = "lbwizard_events"  # ansible/callback_plugins/: the hand-over's events as JSON lines


def playbook_env() -> dict[str, str]:
    """Our ansible.cfg, its output as events (the hand-over reads them; ansible.cfg's own stdout callback stays
    the default one, for people), no colours, and modules run by this very interpreter (the appliance's venv)."""
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": EVENTS_CALLBACK,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCALHOST_WARNING": "false",
    }


def stop(process: subprocess.Popen) -> None:
    """Stop the playbook and everything it started (its own session): TERM, then KILL after a grace."""
    for sig, wait in ((signal.SIGTERM, STOP_GRACE), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def start(command: list[str], stdin: int | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=playbook_env(),
        cwd=ANSIBLE_DIR,
        start_new_session=True,  # its own process group: stopped whole if we are interrupted
    )


class ReadyPlaybook:
    """The playbook's process started ahead of the hand-over: it loads Ansible (about 5 s under TCG, most of
    a small change's hand-over) while the change's earlier steps run, then waits for its variables. Made when
    the transaction starts (Step.start), ended unused when it ends (Step.release): a failed earlier step, or
    no role stale after all. It also ends by itself when this process does (its stdin closes)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = start(ready_playbook_command(), stdin=subprocess.PIPE)

    def take(self, vars_file: Path, roles: list[str] | None) -> subprocess.Popen | None:
        """The process, told what to run; None when it is gone (then the caller starts a fresh one)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return None
        try:
            assert process.stdin is not None
            process.stdin.write(json.dumps({"vars": str(vars_file), "tags": roles or []}) + "\n")
            process.stdin.close()
        except OSError:
            stop(process)
            return None
        return process

    def cancel(self) -> None:
        """End it unused: its stdin closed, it stops as soon as it has loaded (or at once, by signal)."""
        process, self.process = self.process, None
        if process is not None:
            stop(process)
            if process.stdout is not None:
                process.stdout.close()


_early: ReadyPlaybook | None = None  # started by start_early(), before this process imported the rest


def start_early() -> None:
    """The command about to run makes a change with a hand-over: start the playbook's process now, for its
    transaction to take (take_early). Not taken, it ends when this process does (its stdin closes)."""
    global _early
    if _early is None:
        _early = ReadyPlaybook()


def take_early() -> ReadyPlaybook | None:
    """The process start_early() started, now the caller's (None if there is none)."""
    global _early
    taken, _early = _early, None
    return taken
