"""The certificate store: each certificate's PEM file (certificate, chain, key), named by its SHA-256.

appliance.yaml declares the store (`certificates: [{name, fingerprint}]`); the files are
/etc/lbwizard/certificates/SHA256.pem (0640 root:haproxy, the folder 0750), so no private key is ever in
appliance.yaml, a history version or a rollback record, and HAProxy reads them as its own group. A file is
written once and never changed: a change that adds or replaces a certificate writes a new file beside the
old ones, a history version names exactly the content it used, a rollback to it finds that content, and a
power cut at any instant leaves both the old and the new declared store whole (appliance.yaml, saved last,
says which one is in force). A file is kept while the configuration or any kept history version names it;
the others are let go after a change (apply/certificate_steps.py).

A change that brings new content offers it (offering()): `lbctl cert add`, an ACME order or renewal, a
restore, the peer of a pair; the change's first store step writes what its configuration names.
"""

from __future__ import annotations

import contextlib
import contextvars
import grp
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .document import DocumentError, read_bounded
from .files import atomic_write
from .model import ApplianceConfig, Certificate
from .paths import Paths
from .pem import FILE_LIMIT

GROUP = "haproxy"  # HAProxy runs as haproxy (haproxy.service.d/unprivileged.conf) and reads the files as its group
FILE_MODE, DIRECTORY_MODE = 0o640, 0o750
_FINGERPRINT_LINE = re.compile(r"^\s*fingerprint:\s*['\"]?([0-9a-f]{64})['\"]?\s*$", re.M)
_OFFERED: contextvars.ContextVar[dict[str, bytes]] = contextvars.ContextVar("offered_certificates", default={})  # noqa: B039


class StoreError(ValueError):
    """A certificate the configuration names whose file is missing or not what its name says."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def path_of(paths: Paths, fingerprint: str) -> Path:
    return paths.certificate_store / f"{fingerprint}.pem"


def fingerprint_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def find(config: ApplianceConfig, name: str) -> Certificate | None:
    return next((c for c in config.certificates if c.name == name), None)


def users(config: ApplianceConfig, name: str) -> list[str]:
    """The virtual services that name a certificate."""
    return [s.name for s in config.virtual_services if name in s.certificates]


def named(config: ApplianceConfig) -> set[str]:
    """The fingerprints a configuration declares."""
    return {c.fingerprint for c in config.certificates}


def named_in_history(paths: Paths) -> set[str]:
    """The fingerprints any kept history version declares (read as lines: a thousand versions need no YAML)."""
    found: set[str] = set()
    if paths.history_dir.is_dir():
        for version in filter(Path.is_file, paths.history_dir.glob("*.yaml")):  # a FIFO there: waited on for ever
            with contextlib.suppress(OSError, UnicodeDecodeError):
                found.update(_FINGERPRINT_LINE.findall(version.read_text()))
    return found


def stored(paths: Paths) -> set[str]:
    """The fingerprints whose files are in the store now."""
    if not paths.certificate_store.is_dir():
        return set()
    return {p.stem for p in paths.certificate_store.glob("*.pem") if re.fullmatch(r"[0-9a-f]{64}", p.stem)}


def read(paths: Paths, fingerprint: str, field: str = "certificates") -> bytes:
    """A stored file's content, checked against its name; StoreError when it is missing or altered."""
    path = path_of(paths, fingerprint)
    try:
        data = read_bounded(path, FILE_LIMIT, field)
    except DocumentError:
        raise StoreError(field, f"its file {path} is not in the store") from None
    if fingerprint_of(data) != fingerprint:
        raise StoreError(field, f"its file {path} is not the content its name says (altered on the disk)")
    return data


def problems(config: ApplianceConfig, paths: Paths) -> list[tuple[str, str]]:
    """Each certificate the configuration names whose file is not in the store whole (nor offered)."""
    found = []
    offer = offered()
    for index, certificate in enumerate(config.certificates):
        if certificate.fingerprint in offer:
            continue
        try:
            read(paths, certificate.fingerprint, f"certificates[{index}]")
        except StoreError as exc:
            found.append((exc.field, f"certificate {certificate.name}: {exc.message}"))
    return found


@contextlib.contextmanager
def offering(files: dict[str, bytes]) -> Iterator[None]:
    """Content a change inside may store, by fingerprint; each is checked to hash to its name here."""
    for fingerprint, data in files.items():
        if fingerprint_of(data) != fingerprint:
            raise StoreError("certificates", f"the content offered as {fingerprint[:16]}... is not what that name says")
    token = _OFFERED.set({**_OFFERED.get(), **files})
    try:
        yield
    finally:
        _OFFERED.reset(token)


def offered() -> dict[str, bytes]:
    return dict(_OFFERED.get())


def group_id() -> int | None:
    try:
        return grp.getgrnam(GROUP).gr_gid
    except KeyError:  # a test machine without HAProxy's user
        return None


def make_directory(paths: Paths) -> bool:
    """The store's folder, 0750 root:haproxy; True when it was made now."""
    directory = paths.certificate_store
    if directory.is_dir():
        return False
    directory.parent.mkdir(parents=True, exist_ok=True)
    directory.mkdir(mode=DIRECTORY_MODE)
    os.chmod(directory, DIRECTORY_MODE)
    _own(directory)
    return True


def write(paths: Paths, fingerprint: str, data: bytes) -> bool:
    """A file into the store (0640 root:haproxy); True when it was written, False when it was there whole."""
    if fingerprint_of(data) != fingerprint:
        raise StoreError("certificates", f"the content offered as {fingerprint[:16]}... is not what that name says")
    path = path_of(paths, fingerprint)
    if path.is_file() and not path.is_symlink() and fingerprint_of(path.read_bytes()) == fingerprint:
        return False
    atomic_write(path, data, FILE_MODE)
    _own(path)
    return True


def _own(path: Path) -> None:
    gid = group_id()
    if gid is not None and os.geteuid() == 0:
        os.chown(path, 0, gid)


@dataclass(frozen=True)
class Entry:
    """One certificate of the store as lbctl cert list, status, diagnose, the motd and the metrics see it."""

    name: str
    fingerprint: str
    users: tuple[str, ...]
    acme: bool
    info: dict | None  # pem.describe(), or None when its file is missing or unreadable
    problem: str | None
    not_after: datetime | None

    def seconds_left(self, now: datetime) -> float | None:
        return None if self.not_after is None else (self.not_after - now).total_seconds()

    def as_json(self, now: datetime) -> dict:
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "used_by": list(self.users),
            "acme": self.acme,
            "problem": self.problem,
            "seconds_left": self.seconds_left(now),
            **(self.info or {}),
        }


def inventory(config: ApplianceConfig, paths: Paths) -> list[Entry]:
    """Every certificate the configuration declares, read from its file (never its key's text)."""
    from .pem import PemError, describe
    from .pem import stored as read_stored

    entries = []
    for index, certificate in enumerate(config.certificates):
        info, problem, not_after = None, None, None
        try:
            found = read_stored(read(paths, certificate.fingerprint, f"certificates[{index}]"))
            info = describe(found)
            not_after = found.leaf.not_valid_after_utc
        except (StoreError, PemError) as exc:
            problem = exc.message
        entries.append(
            Entry(
                certificate.name,
                certificate.fingerprint,
                tuple(users(config, certificate.name)),
                certificate.acme is not None,
                info,
                problem,
                not_after,
            )
        )
    return entries
