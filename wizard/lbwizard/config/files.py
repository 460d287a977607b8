"""Atomic file writes, and reading the saved config.

A config file is never half written: the text goes to a temporary file in the same directory, is
fsynced, then renamed over the target, and the directory is fsynced so the rename survives power loss.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from . import model
from .model import ApplianceConfig
from .paths import Paths


def atomic_write(path: Path, text: str | bytes, mode: int = 0o644) -> None:
    """Replace path with text (or bytes: a backup file) in one step (temp file, fsync, rename, fsync the directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode() if isinstance(text, str) else text)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_config(paths: Paths) -> ApplianceConfig | None:
    """The saved config, or None on a unit never set up."""
    if not paths.appliance_yaml.exists():
        return None
    return model.loads(paths.appliance_yaml.read_text())
