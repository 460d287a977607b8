"""Atomic file writes, and reading the saved config.

A config file is never half written: the text goes to a temporary file in the same directory, is
fsynced, then renamed over the target, and the directory is fsynced so the rename survives power loss.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from . import document, model
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
    """The saved config, or None on a unit never set up; read bounded and strictly (model.ConfigFormatError)."""
    if not paths.appliance_yaml.exists():
        return None
    if not paths.appliance_yaml.is_file():  # a FIFO would be waited on for ever, a device read without end
        why = f"{paths.appliance_yaml} is not a plain file (a FIFO, a device or a directory); put the saved configuration back"
        raise model.ConfigFormatError([("config", why)])
    return load_config_file(paths.appliance_yaml, "config")


def load_config_file(path: Path, where: str) -> ApplianceConfig:
    """A config file (appliance.yaml, `lbwizard apply --config FILE`), read within the size limit."""
    try:
        text = document.decode(document.read_bounded(path, document.CONFIG_LIMIT, where), where)
    except document.DocumentError as exc:
        raise model.ConfigFormatError([(exc.field, exc.message)]) from None
    return model.loads(text, where)
