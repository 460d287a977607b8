"""What a restore replaces, kept on disk: the way back from a power cut, and `lbwizard rollback`'s.

A restore writes files no other change writes (certificates, the pair's identity, SSH host keys, root's
password) before its commit point. Its first step keeps what they are now in restore-pending.json (0600:
it holds the keys it replaces) with appliance.yaml and the history's names; its last step, the restore's
commit point, moves that into the rollback record (on a live run) and removes the file. So:

- a power cut before that last step boots with the file there, and the boot apply puts every one of them
  back, appliance.yaml too, and removes the history versions the restore added (recover()): the old
  configuration with the old set, whole; a cut after it boots the new one with the new set;
- `lbwizard rollback` after a restore finds them in the rollback record and puts back the certificates,
  host keys and password beside the configuration (rollback_steps()); the next change's record replaces
  it, so no key outlives the change after the restore.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from ..config.files import atomic_write
from ..config.lock import PENDING_RESTORE
from ..config.paths import Paths
from .backup_files import try_reload
from .config_files import shadow_hash
from .step import Step

JOURNAL_VERSION = 1
RECORD_KEY = "restored"  # in the rollback record: what the restore that the record precedes replaced


def pending(paths: Paths) -> Path:
    return paths.config_dir / PENDING_RESTORE


def _state(path: Path) -> dict | None:
    """A file as it is: content, mode and owner, or where a link points; None when there is nothing."""
    if path.is_symlink():
        return {"link": os.readlink(path)}
    if not path.is_file():
        return None
    status = path.stat()
    content = base64.b64encode(path.read_bytes()).decode()
    return {"content": content, "mode": status.st_mode & 0o7777, "owner": [status.st_uid, status.st_gid]}


def _put(path: Path, state: dict | None) -> None:
    """Make path what _state() said it was."""
    if state is None or "link" in state:
        if path.is_symlink() or path.is_file():
            path.unlink()
        if state is not None:
            path.symlink_to(state["link"])
        return
    atomic_write(path, base64.b64decode(state["content"]), state["mode"])
    if os.geteuid() == 0:
        os.chown(path, *state["owner"])


def _chpasswd(hashed: str) -> None:
    subprocess.run(["chpasswd", "-e"], input=f"root:{hashed}\n", text=True, check=True, capture_output=True)


def _picture(paths: Paths, names: list[str], password: bool) -> dict:
    """What the files of names are now, appliance.yaml with them, the history's names and (on the unit
    itself, when the restore sets one) root's password hash."""
    history = sorted(str(p.relative_to(paths.root)) for p in paths.history_dir.iterdir()) if paths.history_dir.is_dir() else []
    wanted = sorted({*names, str(paths.appliance_yaml.relative_to(paths.root))})
    directories = sorted({str(d.relative_to(paths.root)) for n in wanted for d in _missing(paths.root / n)})
    return {
        "version": JOURNAL_VERSION,
        "files": {name: _state(paths.root / name) for name in wanted},
        "directories": directories,  # made by the restore: removed again when empty
        "history": history,
        "password": shadow_hash("root") if password and paths.is_live_root else None,
    }


def _missing(path: Path) -> list[Path]:
    missing, parent = [], path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    return missing


def journal_steps(paths: Paths, names: list[str], password: bool, live: bool) -> tuple[Step, Step]:
    """(the first step of a restore: keep what names are now; its last step, the commit point: hand that to
    the rollback record when live, and remove the journal). names: the files the restore may write, relative
    to the root; password: whether it sets root's."""
    journal = pending(paths)
    kept: dict = {}

    def keep() -> None:
        kept["picture"] = _picture(paths, names, password)
        kept["made"] = _missing(journal)  # a fresh unit's etc/lbwizard: taken away again with the journal
        atomic_write(journal, json.dumps(kept["picture"], indent=1) + "\n", 0o600)

    def forget() -> None:
        journal.unlink(missing_ok=True)
        for directory in kept.get("made", []):
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()

    def commit() -> None:
        if live and paths.rollback_record.is_file():
            kept["record"] = paths.rollback_record.read_bytes()
            record = json.loads(kept["record"])
            atomic_write(paths.rollback_record, json.dumps(record | {RECORD_KEY: kept["picture"]}, indent=1) + "\n", 0o600)
        journal.unlink()  # the commit point: from here on the restore is whole

    def uncommit() -> None:
        if "picture" in kept and not journal.exists():
            atomic_write(journal, json.dumps(kept["picture"], indent=1) + "\n", 0o600)
        if "record" in kept:
            atomic_write(paths.rollback_record, kept.pop("record"), 0o600)

    return (
        Step("keep what the restore replaces (certificates, keys, password), for a power cut or a rollback", keep, forget),
        Step("the restore is whole: hand what it replaced to lbwizard rollback", commit, uncommit),
    )


def recover(paths: Paths, echo: Callable[[str], None]) -> bool:
    """At boot: a restore a power cut stopped before its commit point is taken back whole. True if one was."""
    journal = pending(paths)
    if not journal.is_file():
        return False
    try:
        picture = json.loads(journal.read_text())
        files, history, directories = picture["files"], set(picture["history"]), picture["directories"]
    except (OSError, ValueError, KeyError, TypeError):
        echo(f"remove {journal}: unreadable, so the restore it was kept for cannot be taken back")
        journal.unlink()
        return False
    echo("take back a restore that a power cut stopped before it was whole: its files, password and versions")
    for name, state in files.items():
        _put(paths.root / name, state)
    if picture.get("password"):
        _chpasswd(picture["password"])
    if paths.history_dir.is_dir():
        for path in paths.history_dir.iterdir():
            if str(path.relative_to(paths.root)) not in history and path.is_file():
                path.unlink()
    for name in sorted(directories, key=lambda d: len(Path(d).parts), reverse=True):
        directory = paths.root / name
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
    journal.unlink()
    return True


def rollback_steps(record: dict, paths: Paths) -> list[Step]:
    """For `lbwizard rollback` of a restore: what it replaced that the record's picture does not hold (the
    certificates, SSH host keys, root's password), put back, each step undoing itself; on the unit itself
    HAProxy and sshd reloaded when theirs came back (and again on the way back, should a later step fail)."""
    restored = record.get(RECORD_KEY)
    if not restored:
        return []
    pictured = set(record.get("picture", {}).get("files", {}))
    history = str(paths.history_dir.relative_to(paths.root))
    names = [n for n in sorted(restored["files"]) if n not in pictured and not n.startswith(f"{history}/")]
    steps = [_put_back_step(paths.root / name, restored["files"][name]) for name in names]
    if restored.get("password") and paths.is_live_root:
        steps.append(_password_step(restored["password"]))
    if paths.is_live_root:
        for unit, folder in (("haproxy", "etc/haproxy/"), ("ssh", "etc/ssh/")):
            if any(name.startswith(folder) for name in names):
                reload = lambda unit=unit: try_reload(unit)
                steps.insert(0, Step(f"(on the way back: reload {unit} if it runs)", lambda: None, reload))
                steps.append(Step(f"reload {unit} if it runs, its files put back", reload, lambda: None))
    return steps


def _put_back_step(path: Path, state: dict | None) -> Step:
    saved: dict = {}

    def do() -> None:
        saved["now"] = _state(path)
        _put(path, state)

    def undo() -> None:
        if "now" in saved:
            _put(path, saved["now"])

    return Step(f"put back {path} as it was before the restore", do, undo)


def _password_step(hashed: str) -> Step:
    saved: dict = {}

    def do() -> None:
        saved["now"] = shadow_hash("root")
        _chpasswd(hashed)

    def undo() -> None:
        if saved.get("now"):
            _chpasswd(saved["now"])

    return Step("put back root's password as it was before the restore", do, undo)
