"""The hand-over: ansible-playbook ansible/site.yml writes keepalived.conf and haproxy.cfg and reloads.

The role variables come from lbwizard.render.rolevars (decided in Python, tested there); each template is
checked by its daemon before it replaces the old file. Progress is reported per task; a failure names
the failing task. As a transaction step, undo puts the previous daemon files back (and reloads).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..config.files import atomic_write
from ..config.model import ApplianceConfig
from ..config.paths import Paths
from ..render.rolevars import role_vars
from .step import Step

INSTALLED_ANSIBLE_DIR = Path("/usr/share/lbwizard/ansible")  # where image/assemble puts the roles


def _ansible_dir() -> Path:
    """LBWIZARD_ANSIBLE_DIR, else the source tree's ansible/ (a checkout), else the appliance's copy."""
    if "LBWIZARD_ANSIBLE_DIR" in os.environ:
        return Path(os.environ["LBWIZARD_ANSIBLE_DIR"])
    checkout = Path(__file__).resolve().parents[3] / "ansible"
    return checkout if (checkout / "site.yml").exists() else INSTALLED_ANSIBLE_DIR


ANSIBLE_DIR = _ansible_dir()
DAEMON_FILES = ("etc/keepalived/keepalived.conf", "etc/haproxy/haproxy.cfg")
_TASK = re.compile(r"^TASK \[(?:[\w.-]+ : )?(.+?)\]")
_RECAP = re.compile(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


class HandoverError(RuntimeError):
    """The playbook failed; the message names the failing task and what it said."""


def playbook_command(vars_file: Path) -> list[str]:
    """ansible-playbook from the same environment as lbwizard (the appliance's venv), else from PATH."""
    local = Path(sys.executable).parent / "ansible-playbook"
    program = str(local) if local.exists() else (shutil.which("ansible-playbook") or "ansible-playbook")
    return [program, "-i", "localhost,", str(ANSIBLE_DIR / "site.yml"), "-e", f"@{vars_file}"]


def playbook_env() -> dict[str, str]:
    """Our ansible.cfg, no colours, and modules run by this very interpreter (the appliance's venv)."""
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCALHOST_WARNING": "false",
    }


def run_playbook(
    config: ApplianceConfig, paths: Paths, manage_services: bool, progress: Callable[[str], None], reload_haproxy: bool = True
) -> int:
    """Run site.yml; returns how many tasks changed something. Raises HandoverError on failure."""
    variables = role_vars(config, root=str(paths.root), services=manage_services, reload_haproxy=reload_haproxy)
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="lbwizard-vars-") as handle:
        json.dump(variables, handle)
        handle.flush()
        process = subprocess.Popen(
            playbook_command(Path(handle.name)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=playbook_env(),
            cwd=ANSIBLE_DIR,
        )
        task, failure, changed, output = "", [], 0, []
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip())
            if match := _TASK.match(line):
                task = match.group(1)
                progress(f"hand-over: {task}")
            elif line.startswith(("fatal:", "failed:")) or (failure and line.startswith(" ")):
                failure.append(line.rstrip())
            elif match := _RECAP.search(line):
                changed = int(match.group(2))
        if process.wait() != 0:
            detail = "\n".join(failure[:12]) or "\n".join(output[-12:])
            raise HandoverError(f"hand-over failed at task {task!r}:\n{detail}")
    return changed


def handover_step(config: ApplianceConfig, paths: Paths, manage_services: bool, reload_haproxy: bool = True) -> Step:
    """Hand over to the engines; undo restores the previous daemon files (reloading where it manages them).

    reload_haproxy=False: HAProxy already has the change through its runtime API; the file only records it.
    """
    # the daemon files as found (None: absent), taken before ansible-playbook may replace them
    found: dict[Path, tuple[str, int] | None] = {}

    def do() -> None:
        for name in DAEMON_FILES:
            path = paths.root / name
            found[path] = (path.read_text(), path.stat().st_mode & 0o777) if path.exists() else None
        run_playbook(config, paths, manage_services, lambda line: None, reload_haproxy)

    def undo() -> None:
        if not found:
            return
        for path, old in found.items():
            if old is None:
                path.unlink(missing_ok=True)
            else:
                atomic_write(path, *old)
        if manage_services:
            subprocess.run(["systemctl", "reload-or-restart", "keepalived", "haproxy"], check=False, capture_output=True)

    what = "configure and reload keepalived and HAProxy" if manage_services else "render keepalived.conf and haproxy.cfg"
    return Step(f"hand over: {what}", do, undo)
