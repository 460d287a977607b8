"""Steps that write lbwizard's own files: appliance.yaml, its history copy, the admin password.

Each step remembers what it replaced (content, or that nothing was there, directories included) so
undo puts the tree back exactly as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from ..config import history, model, provenance
from ..config.files import atomic_write
from ..config.model import ApplianceConfig
from ..config.paths import Paths
from ..render import realserver
from .step import Step


def file_step(path: Path, text: str, description: str, mode: int = 0o644) -> Step:
    """Write path atomically; undo restores the previous content or removes what was created."""
    saved: dict[str, object] = {}

    def do() -> None:
        missing = []
        parent = path.parent
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        saved["dirs"] = missing
        saved["old"] = path.read_bytes() if path.exists() else None
        saved["mode"] = path.stat().st_mode & 0o7777 if path.exists() else None
        atomic_write(path, text, mode)

    def undo() -> None:
        if "old" not in saved:  # do() never got as far as looking: nothing of ours to undo
            return
        old = saved["old"]
        if old is None:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):  # a file where its folder goes: nothing written
                path.unlink()
        else:
            atomic_write(path, old, int(saved["mode"]))  # type: ignore[arg-type]  # bytes: whatever was there
        for directory in saved.get("dirs", []):  # type: ignore[union-attr]
            if directory.exists() and not any(directory.iterdir()):
                directory.rmdir()

    return Step(description, do, undo)


def _head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(512)


def is_lbwizard_script(path: Path) -> bool:
    """A plain file (not a link) that lbwizard wrote as a real-server script."""
    return path.is_file() and not path.is_symlink() and realserver.written_by_lbwizard(_head(path))


def _scripts_folder_problem(directory: Path, root: Path, names: set[str]) -> str | None:
    """Why the real-server scripts cannot go into directory: a link, a folder out of the root, or a file of
    someone else's (the admin's) where a script goes. None when they can."""
    if directory.is_symlink():
        return (
            f"{directory} is a link (to {os.readlink(directory)}): the real-server scripts go only into a folder "
            "of lbwizard's own; make it a plain folder"
        )
    if not directory.resolve().is_relative_to(root.resolve()):
        return (
            f"{directory} leads out of {root} (a link on its way): the real-server scripts go only into a folder under the root"
        )
    if directory.exists() and not directory.is_dir():
        return f"{directory} is not a folder: the real-server scripts go there; move it away"
    for name in sorted(names):
        path = directory / name
        if (path.exists() or path.is_symlink()) and not is_lbwizard_script(path):
            return (
                f"{path} is not a script lbwizard wrote (no 'managed by lbwizard' line): rename or move it; "
                "the script of a real server goes there"
            )
    return None


def script_steps(directory: Path, root: Path, scripts: dict[str, str]) -> list[Step]:
    """The real-server scripts in their folder: each written (.sh executable), and those lbwizard wrote for
    servers no longer configured removed. The admin's own files there (notes, tools: no 'managed by
    lbwizard' line) are never touched; the first step refuses a folder that is a link or leads out of the
    root, and a file of the admin's where a script goes, before any is written."""

    def check() -> None:
        if problem := _scripts_folder_problem(directory, root, set(scripts)):
            raise RuntimeError(problem)

    def unwanted() -> list[Path]:
        return [p for p in directory.iterdir() if p.name not in scripts and is_lbwizard_script(p)] if directory.is_dir() else []

    writes = [
        file_step(directory / name, text, f"write the real server script {name}", 0o755 if name.endswith(".sh") else 0o644)
        for name, text in scripts.items()
    ]
    return [
        Step(f"check the real-server scripts' folder {directory}", check, lambda: None),
        *writes,
        remove_step(unwanted, "remove scripts of real servers no longer used"),
    ]


def config_steps(config: ApplianceConfig, paths: Paths) -> list[Step]:
    """The next history entry, with who made it and how; the oldest versions beyond history.KEEP let go;
    and last, appliance.yaml: saving it is the change's commit point. A power cut before it leaves a
    history version newer than appliance.yaml, which the next boot removes (history.unfinished)."""
    text = model.dumps(config)
    steps = version_steps(paths, text, "this version")
    if old := history.beyond_keep(paths):
        going = [history.path_of(paths, n) for n in old] + [history.record_of(paths, n) for n in old]
        steps.append(remove_step(lambda: going, f"let go of {len(old)} version(s) older than the newest {history.KEEP}"))
    return [*steps, file_step(paths.appliance_yaml, text, f"save the configuration to {paths.appliance_yaml}")]


def version_steps(paths: Paths, text: str, what: str) -> list[Step]:
    """text kept as the next history version, and its record of who made it and how (a change and a rollback)."""
    number = history.next_number(paths)
    version, record = history.path_of(paths, number), history.record_of(paths, number)
    return [
        file_step(version, text, f"keep {what} as {version}"),
        file_step(record, json.dumps(provenance.describe(), indent=1) + "\n", f"say who made version {number} and how"),
    ]


def remove_step(files: Callable[[], list[Path]], description: str) -> Step:
    """Remove the files files() names when the step runs; undo brings them back."""
    removed: dict[Path, tuple[bytes, int]] = {}

    def do() -> None:
        for path in files():
            if path.is_file():
                removed[path] = (path.read_bytes(), path.stat().st_mode & 0o7777)
                path.unlink()

    def undo() -> None:
        for path, (content, mode) in removed.items():
            atomic_write(path, content, mode)  # bytes: whatever was there, text or not

    return Step(description, do, undo)


def shadow_hash(user: str) -> str | None:
    """user's field of /etc/shadow: its password hash, or ! or * when locked."""
    for line in Path("/etc/shadow").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user and len(fields) > 1:
            return fields[1]
    return None


def _chpasswd(user: str, hashed: str) -> None:
    subprocess.run(["chpasswd", "-e"], input=f"{user}:{hashed}\n", text=True, check=True, capture_output=True)


def password_step(hashed: str, paths: Paths, user: str = "root") -> Step:
    """Set the admin's password hash: /etc/shadow on a live root, a 0600 record file under any other root."""
    if not paths.is_live_root:
        return file_step(paths.admin_password_hash, hashed + "\n", "record the administrator password hash", 0o600)
    saved: dict[str, str | None] = {}

    def do() -> None:
        saved["old"] = shadow_hash(user)
        _chpasswd(user, hashed)

    def undo() -> None:
        if saved.get("old") is not None:
            _chpasswd(user, saved["old"])  # type: ignore[arg-type]

    return Step(f"set the password of {user}", do, undo)
