"""The hand-over: ansible/site.yml (run through Ansible's Python API) writes keepalived.conf and haproxy.cfg.

The role variables come from lbwizard.render.rolevars (decided in Python, tested there); each file is
checked by its daemon before it replaces the old one, and only a file that changes is checked and
its daemon reloaded (the roles' lb_template). A role is not run at all when its variables, its own
code and the file it wrote are exactly what its last successful run left (handover.json): then the
playbook could not change anything, and a change that touches one engine runs one role. Each task
is reported as it starts, with the seconds elapsed, and a failure names the failing task: the playbook's
process writes them as events (its callback plugin's JSON lines), not as text laid out for people. As a
transaction step, undo puts the previous daemon files back and reloads what it put back; an
interrupted playbook is stopped, its whole process group, before anything is put back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..config.files import atomic_write
from ..config.model import ApplianceConfig
from ..config.paths import Paths
from ..render.rolevars import role_vars
from .playbook_process import (
    ANSIBLE_DIR,
    ReadyPlaybook,
    playbook_command,
    take_early,
)
from .playbook_process import start as _start
from .playbook_process import stop as _stop
from .step import Step, report


@dataclass(frozen=True)
class RoleOutput:
    """The one file a role writes (relative to the root), and the systemd unit of the daemon that reads it."""

    file: str
    unit: str
    start_only: bool = False  # the daemon reads the file at start only: a restart, not a reload, takes it
    own_directory: bool = False  # the file's directory holds the daemon's files alone (none of others')


ROLES = {
    "keepalived": RoleOutput("etc/keepalived/keepalived.conf", "keepalived", own_directory=True),
    "haproxy": RoleOutput("etc/haproxy/haproxy.cfg", "haproxy", own_directory=True),
    "chrony": RoleOutput("etc/chrony/chrony.conf", "chrony", start_only=True),
    "rsyslog": RoleOutput("etc/rsyslog.conf", "rsyslog", start_only=True),
    "node_exporter": RoleOutput("etc/default/prometheus-node-exporter", "prometheus-node-exporter", start_only=True),
}
DAEMON_FILES = tuple(output.file for output in ROLES.values())
SHARED_SOURCES = ("site.yml", "ansible.cfg", "roles/lb_files")


class HandoverError(RuntimeError):
    """The playbook failed; the message names the failing task and what it said."""


_ahead: ReadyPlaybook | None = None  # started by started_ahead(), for the next transaction's hand-over to take


@contextlib.contextmanager
def started_ahead(wanted: bool = True) -> Iterator[None]:
    """A change (lbctl, lbwizard apply) about to be made: the playbook's process starts loading Ansible now,
    while the change is read, edited, verified and planned (under TCG that is seconds the hand-over no longer
    waits for), and the hand-over of the transaction inside takes it. Whatever is not taken by the end (bad
    input, a busy lock, no role stale) is ended unused."""
    global _ahead
    early = take_early()  # started before this process imported the rest (launch.py)
    if not wanted or _ahead is not None:
        if early is not None:
            early.cancel()
        yield
        return
    _ahead = early or ReadyPlaybook()
    try:
        yield
    finally:
        left, _ahead = _ahead, None
        if left is not None:
            left.cancel()


def _take_ahead() -> ReadyPlaybook | None:
    """The process started_ahead() started, now this caller's (None if there is none)."""
    global _ahead
    taken, _ahead = _ahead, None
    return taken


def run_playbook(
    config: ApplianceConfig,
    paths: Paths,
    manage_services: bool,
    progress: Callable[[str], None],
    reload_haproxy: bool = True,
    roles: list[str] | None = None,
    ready: ReadyPlaybook | None = None,
) -> int:
    """Run site.yml (only `roles`, when given), in `ready`'s process when there is one; returns how many
    tasks changed something.

    Raises HandoverError on failure. Interrupted (Ctrl-C, SIGTERM), it stops the playbook's whole
    process group and waits for it before re-raising, so nothing goes on writing behind an undo.
    """
    variables = role_vars(config, root=str(paths.root), services=manage_services, reload_haproxy=reload_haproxy)
    started = time.monotonic()
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="lbwizard-vars-") as handle:
        json.dump(variables, handle)
        handle.flush()
        vars_file = Path(handle.name)
        process = (ready and ready.take(vars_file, roles)) or _start(playbook_command(vars_file, roles))
        events = PlaybookEvents(progress, started)
        assert process.stdout is not None
        try:
            for line in process.stdout:
                events.read(line)
            status = process.wait()
        except BaseException:
            _stop(process)
            raise
        if status != 0:
            raise HandoverError(f"hand-over failed at task {events.task!r}:\n{events.failure()}")
    return events.changed


class PlaybookEvents:
    """What the playbook's process says, as the events its callback plugin writes (ansible/callback_plugins/
    lbwizard_events.py, one JSON object a line): each task reported as it starts, with the seconds since the
    hand-over began, the failures, and how many tasks changed something. A line that is not an event (Ansible's
    own warnings) is kept only to explain a failure that sent none."""

    def __init__(self, progress: Callable[[str], None], started: float):
        self.progress = progress
        self.started = started  # time.monotonic() when the hand-over began
        self.wall = time.time() - (time.monotonic() - started)  # the same instant on the wall clock
        self.task = ""
        self.changed = 0
        self.failures: list[dict] = []
        self.other: list[str] = []

    def read(self, line: str) -> None:
        event = _event(line)
        if event is None:
            self.other = [*self.other[-11:], line.rstrip()]
        elif event["event"] == "task":
            self.task = str(event.get("name", ""))
            at = event.get("time")
            seconds = at - self.wall if isinstance(at, int | float) else time.monotonic() - self.started
            self.progress(f"hand-over [{max(seconds, 0):.0f} s]: {self.task}")
        elif event["event"] == "failed":
            self.failures.append(event)
        elif event["event"] == "stats":
            self.changed = int(event.get("changed", 0))

    def failure(self) -> str:
        """What the failed tasks said (their message, and the output of a command they ran), else the last lines."""
        lines = []
        for event in self.failures[:3]:
            lines.append(f"{event.get('task')}: {event.get('message')}")
            lines += [f"  {line}" for key in ("stderr", "stdout") for line in str(event.get(key) or "").splitlines()[-8:]]
        return "\n".join(lines) or "\n".join(self.other)


def _event(line: str) -> dict | None:
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and isinstance(event.get("event"), str) else None


def _role_sources(role: str) -> list[Path]:
    places = [ANSIBLE_DIR / name for name in (*SHARED_SOURCES, f"roles/{role}")]
    found: list[Path] = []
    for place in places:
        found += sorted(p for p in place.rglob("*") if p.is_file()) if place.is_dir() else [place]
    return [p for p in found if "__pycache__" not in p.parts]


def fingerprints(variables: dict, paths: Paths) -> dict[str, str]:
    """Per role: a digest of what decides its output (its variables and code) and of the file it installed."""
    prints = {}
    for role, output in ROLES.items():
        digest = hashlib.sha256()
        # whether to reload is not what to write: a runtime change leaves lb_reload_haproxy off, and the
        # boot renders with lb_manage_services off (the daemons start after it)
        own = {
            k: v
            for k, v in variables.items()
            if k.startswith((f"{role}_", "lb_")) and k not in ("lb_reload_haproxy", "lb_manage_services")
        }
        digest.update(json.dumps(own, sort_keys=True).encode())
        for source in _role_sources(role):
            digest.update(str(source.relative_to(ANSIBLE_DIR)).encode() + b"\0" + source.read_bytes() + b"\0")
        installed = paths.root / output.file
        digest.update(installed.read_bytes() if installed.exists() else b"\0absent\0")
        prints[role] = digest.hexdigest()
    return prints


def _recorded(paths: Paths) -> dict[str, str]:
    try:
        return json.loads(paths.handover_record.read_text())
    except (OSError, ValueError):
        return {}


def stale_roles(variables: dict, paths: Paths) -> list[str]:
    """The roles whose output may differ from what is installed: a run of them may change something."""
    recorded = _recorded(paths)
    return [role for role, digest in fingerprints(variables, paths).items() if recorded.get(role) != digest]


def missing_directories(path: Path) -> list[Path]:
    """The directories above path that do not exist yet, nearest first."""
    missing = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    return missing


def reload_daemons(roles: list[str]) -> None:
    """Reload (or start) the daemons of the roles whose files were put back, restarting those that read
    their file at start only; one that does not come back is a failure."""
    for role in roles:
        output = ROLES[role]
        verb = "restart" if output.start_only else "reload-or-restart"
        result = subprocess.run(["systemctl", verb, output.unit], check=False, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"systemctl {verb} {output.unit} failed: {result.stderr.strip() or result.returncode}")


def handover_step(config: ApplianceConfig, paths: Paths, manage_services: bool, reload_haproxy: bool = True) -> Step:
    """Hand over to the engines; undo restores the previous daemon files (reloading where it manages them).

    reload_haproxy=False: HAProxy already has the change through its runtime API; the file only records it.
    """
    # the files as found (None: absent), taken before ansible-playbook may replace them, and the
    # directories it may create for them
    found: dict[Path, tuple[str, int] | None] = {}
    created: list[Path] = []
    variables = role_vars(config, root=str(paths.root), services=manage_services, reload_haproxy=reload_haproxy)
    ready: ReadyPlaybook | None = None

    def start() -> None:
        """Ansible loading while the steps before this one run (or since started_ahead): only when a role will run."""
        nonlocal ready
        ahead = _take_ahead()
        if stale_roles(variables, paths):
            ready = ahead or ReadyPlaybook()
        elif ahead is not None:
            ahead.cancel()

    def release() -> None:
        if ready:
            ready.cancel()  # nothing left to end once run_playbook took it

    def do() -> None:
        stale = stale_roles(variables, paths)
        if not stale:
            report("hand-over: every daemon's file is what this config makes; nothing to validate or reload")
            return
        for path in [paths.root / name for name in DAEMON_FILES] + [paths.handover_record]:
            found[path] = (path.read_text(), path.stat().st_mode & 0o777) if path.exists() else None
            created.extend(missing_directories(path))
        run_playbook(config, paths, manage_services, report, reload_haproxy, roles=stale, ready=ready)
        atomic_write(paths.handover_record, json.dumps(fingerprints(variables, paths), indent=1, sort_keys=True) + "\n")

    def undo() -> None:
        put_back = []
        for path, old in found.items():
            now = (path.read_text(), path.stat().st_mode & 0o777) if path.exists() else None
            if now == old:
                continue
            if old is None:
                path.unlink(missing_ok=True)
            else:
                atomic_write(path, *old)
            put_back += [role for role, output in ROLES.items() if paths.root / output.file == path]
        for path in found:  # a write cut short (the playbook stopped mid-task) leaves its temporary file
            for temporary in path.parent.glob(f".{path.name}.*") if path.parent.is_dir() else []:
                temporary.unlink()
        for directory in sorted(set(created), key=lambda d: len(d.parts), reverse=True):
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()
        if manage_services and put_back:
            reload_daemons(put_back)

    what = (
        "configure and reload keepalived, HAProxy and the unit's services"
        if manage_services
        else "render keepalived.conf, haproxy.cfg and the unit's services' files"
    )
    return Step(f"hand over: {what}", do, undo, start, release)
