"""The certificate store in a change: new files written before HAProxy reads them, every named one checked,
and, after the commit point, the files nothing names any more let go (config/certstore.py).

The store's files are never part of a picture (apply/state.py): they hold private keys, and they need none.
A file is written once under its SHA-256 and never changed; the files of the configuration before a change
and of every kept history version stay, so a rollback, a failed change or a power cut finds whatever its
configuration names, and a change adds or lets go whole files only.
"""

from __future__ import annotations

from ..config import certstore
from ..config.files import atomic_write
from ..config.model import ApplianceConfig
from ..config.paths import Paths
from .step import Step


def store_steps(config: ApplianceConfig, paths: Paths) -> list[Step]:
    """The files this change offers, into the store (undo takes back those it added), then a check that each
    certificate config names is there whole: a change never hands HAProxy a certificate it cannot read."""
    offered = certstore.offered()
    steps = []
    if offered:
        steps.append(_write_step(paths, offered))
    if config.certificates:
        checked = f"check the {len(config.certificates)} certificate(s) of the store"
        steps.append(Step(checked, lambda: _check(config, paths), _nothing))
    return steps


def _nothing() -> None:
    return None


def _check(config: ApplianceConfig, paths: Paths) -> None:
    with certstore.offering({}):  # what is offered is written by now: the disk must have it
        if problems := certstore.problems(config, paths):
            raise RuntimeError("; ".join(f"{field}: {message}" for field, message in problems))


def _write_step(paths: Paths, files: dict[str, bytes]) -> Step:
    written: list[str] = []
    made: dict[str, bool] = {}

    def do() -> None:
        made["directory"] = certstore.make_directory(paths)
        for fingerprint, data in sorted(files.items()):
            if certstore.write(paths, fingerprint, data):
                written.append(fingerprint)

    def undo() -> None:
        for fingerprint in written:
            certstore.path_of(paths, fingerprint).unlink(missing_ok=True)
        directory = paths.certificate_store
        if made.get("directory") and directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()

    return Step(f"store {len(files)} certificate file(s) in {paths.certificate_store}", do, undo)


def prune_step(config: ApplianceConfig, paths: Paths) -> Step | None:
    """After the commit point: the store's files that neither config nor any kept history version names are
    let go (a file half a power cut left, or one only a let-go version named). Nothing a rollback could need
    goes; undo puts them back. A file that cannot be removed stays, which harms nothing."""
    if not paths.certificate_store.is_dir():
        return None
    removed: dict[str, bytes] = {}

    def do() -> None:
        unnamed = certstore.stored(paths) - certstore.named(config)
        if unnamed:
            unnamed -= certstore.named_in_history(paths)
        for fingerprint in sorted(unnamed):
            path = certstore.path_of(paths, fingerprint)
            try:
                data = path.read_bytes()
                path.unlink()
            except OSError:
                continue
            removed[fingerprint] = data

    def undo() -> None:
        for fingerprint, data in removed.items():  # as they were, byte for byte
            atomic_write(certstore.path_of(paths, fingerprint), data, certstore.FILE_MODE)

    return Step("let go of certificate files no kept version names", do, undo)
