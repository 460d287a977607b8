"""The unit's files a backup holds: read for `lbctl backup`, written back for a restore as steps that undo
themselves (the format itself is config/backup.py).

A restored file keeps the owner and group of the file it replaces, or takes its directory's group when
it is new: HAProxy reads its certificate as the haproxy group (0640), which a plain write as root would
take from it. Its mode is the unit's own for its kind (config/backup.py unit_mode), never the manifest's;
a directory a restore makes gets the unit's own mode too (the certificates' 0750 in HAProxy's group, the
pair's 0700). Nothing is written through a link out of the root, nor over a directory, device or FIFO:
refuse() says so before anything is touched. A daemon whose files a restore changed is reloaded if it
runs (HAProxy for certificates, sshd for host keys), and reloaded again on the way back should a later
step fail.

History: the backup's versions keep their numbers when they all lie above this unit's newest, and are
otherwise moved up just past it, so no number is used twice and the unit's own versions stay in
history (`lbctl rollback N` can go back to one); a fresh unit gets exactly the backup's numbers. A
restore lets none of the unit's own versions go; the backup's oldest are left out when both would
exceed history.KEEP.
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path

from ..config import certstore, history, provenance
from ..config.backup import (
    API_TOKENS_MEMBER,
    CONFIG_MEMBER,
    PAIR_MEMBERS,
    PASSWORD_MEMBER,
    STORE_MEMBER,
    UNPACKED_LIMIT,
    Backup,
    BackupError,
    Members,
    belongs,
    certificate_members,
    history_member,
    store_member,
)
from ..config.files import atomic_write
from ..config.model import ApplianceConfig
from ..config.password import is_crypt_hash
from ..config.paths import Paths
from .config_files import file_step, shadow_hash
from .handover import missing_directories
from .step import Step

VERSION_FILE = "etc/lb-appliance-version"  # written by image/assemble


def appliance_version(paths: Paths) -> str | None:
    path = paths.root / VERSION_FILE
    return path.read_text().strip() if path.is_file() else None


def _password_hash_now(paths: Paths) -> str | None:
    """root's password hash as set now: /etc/shadow on the unit, the record file under any other root."""
    if paths.is_live_root:
        return shadow_hash("root")
    return paths.admin_password_hash.read_text().strip() if paths.admin_password_hash.is_file() else None


def collect(paths: Paths, config: ApplianceConfig, host_keys: bool) -> Members:
    """What a backup of this unit holds, read now: the config, its history, certificates, the pair's
    identity, the API's token hashes, the admin password hash (when one is set) and, if asked, the SSH host keys."""
    versions = history.versions(paths)  # plain files only: a FIFO, a directory or a link to a device is no version
    wanted = [paths.appliance_yaml, *(f(paths, n) for n in versions for f in (history.path_of, history.record_of))]
    wanted += [paths.root / name for name in (*sorted(certificate_members(config)), *PAIR_MEMBERS, API_TOKENS_MEMBER)]
    # the store's files of the configuration and of every kept version (a rollback after a restore finds them)
    named = certstore.named(config) | certstore.named_in_history(paths)
    wanted += [paths.root / store_member(fingerprint) for fingerprint in sorted(named)]
    if host_keys:
        wanted += sorted((paths.root / "etc/ssh").glob("ssh_host_*"))
    members: Members = {}
    for path in wanted:
        name = str(path.relative_to(paths.root))
        if belongs(name, config) and (found := _plain_file(path, paths.root)):  # history's NNNN.yaml and .json, sshd's key pairs
            members[name] = found
    hashed = _password_hash_now(paths)
    if hashed and is_crypt_hash(hashed):  # a locked account has nothing worth carrying
        members[PASSWORD_MEMBER] = (hashed.encode() + b"\n", 0o600)
    return members


def _plain_file(path: Path, root: Path) -> tuple[bytes, int] | None:
    """The content and mode of the unit's file at path; None where there is no plain file (nothing, a directory,
    a FIFO, a socket or a device: nothing a backup holds, and none of them is opened). BackupError for a link
    there, or a folder on its way that leads out of root: a backup holds the unit's own files, never what a
    link names (a certificate replaced by a link to /etc/shadow would carry /etc/shadow, which a restore
    then writes as a certificate HAProxy's group reads)."""
    if path.is_symlink():
        raise BackupError(f"{path} is a link (to {os.readlink(path)}); {_LINK_HINT}")
    if not path.parent.resolve().is_relative_to(root.resolve()):
        link = next(p for p in [path.parent, *path.parent.parents] if p.is_symlink())
        raise BackupError(f"{link} is a link (to {os.readlink(link)}) out of {root}; {_LINK_HINT}")
    try:
        if not stat.S_ISREG(path.lstat().st_mode):  # opening a socket fails, a FIFO waits, a device acts
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        return None
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode):  # replaced since lstat()
        os.close(fd)
        return None
    if status.st_size > UNPACKED_LIMIT:  # a sparse file of a terabyte costs nothing on disk
        os.close(fd)
        limit = UNPACKED_LIMIT // 2**20
        raise BackupError(f"{path} is larger than {limit} MiB, more than a backup holds; nothing was written")
    with os.fdopen(fd, "rb") as handle:
        return handle.read(UNPACKED_LIMIT + 1), status.st_mode & 0o7777


_LINK_HINT = "a backup holds the unit's own files, not what a link names: put the file itself there; nothing was written"


def password_hash(backup: Backup) -> str | None:
    content = backup.members.get(PASSWORD_MEMBER)
    return content[0].decode().strip() if content else None


# directories a restore may have to make, with the unit's own modes (make-appliance-certificate, pair/keys.py)
DIRECTORY_MODES = {"etc/haproxy/certs": 0o750, "etc/lbwizard/certificates": 0o750, "etc/lbwizard/pair": 0o700}


def refuse(backup: Backup, paths: Paths, host_keys: bool) -> str | None:
    """Why this unit's tree cannot take the backup's files (None: it can): a directory on their way that is a
    link out of the root or is no directory at all (a file where the folder goes), or a place a file goes
    that holds a directory, a device or a FIFO."""
    root = paths.root.resolve()
    names = [name for name in backup.members if name != PASSWORD_MEMBER and (host_keys or name not in backup.host_keys)]
    if paths.history_dir.exists() and not paths.history_dir.is_dir():  # every restore saves a version there
        return f"refused: {paths.history_dir} is a file on this unit, where a restore needs a folder for the history"
    for name in sorted(names):
        path = paths.root / name
        if not path.parent.resolve().is_relative_to(root):
            return f"refused: {path.parent} leads out of {paths.root} (a link); {name} would be written there"
        if blocked := next((p for p in path.parents if p.exists() and not p.is_dir()), None):
            return f"refused: {blocked} is a file on this unit, where a restore needs a folder for {name}"
        if path.exists() and not path.is_symlink() and not path.is_file():
            return f"refused: {path} is a directory, a device or a FIFO on this unit, not a file a restore may replace"
    return None


def _make_directories(missing: list[Path], root: Path, gid: int | None) -> None:
    """Make the missing directories (nearest first, as missing_directories lists them) with the unit's own modes."""
    for directory in reversed(missing):
        directory.mkdir()
        relative = str(directory.relative_to(root)) if directory.is_relative_to(root) else ""
        if relative in DIRECTORY_MODES:
            os.chmod(directory, DIRECTORY_MODES[relative])
            if gid is not None and os.geteuid() == 0:
                os.chown(directory, 0, gid)


def _owned_file_step(
    path: Path, content: bytes, mode: int, changed: list[Path], group: str | None, root: Path = Path("/")
) -> Step:
    """Write path as the backup has it, keeping the owner of what it replaces (a new file: root and group,
    or its directory's group); undo puts back the old file (or link), its mode and owner, or removes it
    and the directories made for it. A file that is already so is left alone; one that was not is added
    to changed."""
    saved: dict = {}

    def do() -> None:
        saved["link"] = os.readlink(path) if path.is_symlink() else None
        saved["old"] = (path.read_bytes(), os.stat(path)) if path.is_file() and saved["link"] is None else None
        if saved["old"] and saved["old"][0] == content and saved["old"][1].st_mode & 0o7777 == mode:
            return
        owner = saved["old"][1] if saved["old"] else None
        changed.append(path)  # before the write: one that fails half way is undone too
        saved["dirs"] = missing_directories(path)
        _make_directories(saved["dirs"], root, _group_id(group))
        atomic_write(path, content, mode)
        uid, gid = (owner.st_uid, owner.st_gid) if owner else (os.geteuid(), _gid(group, path.parent))
        if (path.stat().st_uid, path.stat().st_gid) != (uid, gid) and os.geteuid() == 0:
            os.chown(path, uid, gid)

    def undo() -> None:
        if path not in changed:
            return
        old, link = saved["old"], saved["link"]
        if old is not None:
            atomic_write(path, old[0], old[1].st_mode & 0o7777)
            os.chown(path, old[1].st_uid, old[1].st_gid)
        else:
            path.unlink(missing_ok=True)
            if link is not None:
                path.symlink_to(link)
        for directory in saved.get("dirs", []):
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()

    return Step(f"write {path} from the backup", do, undo)


def _group_id(group: str | None) -> int | None:
    try:
        return grp.getgrnam(group).gr_gid if group else None
    except KeyError:  # no such group here (a test machine without HAProxy)
        return None


def _gid(group: str | None, directory: Path) -> int:
    found = _group_id(group)
    return directory.stat().st_gid if found is None else found


def try_reload(unit: str) -> None:
    """Reload (or restart) unit if it runs; one that is down stays down and reads its files when it starts."""
    result = subprocess.run(["systemctl", "try-reload-or-restart", unit], check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"systemctl try-reload-or-restart {unit} failed: {result.stderr.strip() or result.returncode}")


def _files_of(
    files: list[tuple[Path, bytes, int]], unit: str | None, group: str | None = None, root: Path = Path("/")
) -> list[Step]:
    """The steps that write a daemon's files (new ones in its group); with its unit, bracketed by its
    reloads (forward once they are written, backward once they are put back), each only when a file
    really changed."""
    changed: list[Path] = []
    writes = [_owned_file_step(path, content, mode, changed, group, root) for path, content, mode in files]
    if unit is None or not files:
        return writes
    when_changed = lambda: try_reload(unit) if changed else None
    return [
        Step(f"(on the way back: reload {unit} if it runs)", lambda: None, when_changed),
        *writes,
        Step(f"reload {unit} if it runs and a file of it changed", when_changed, lambda: None),
    ]


def written(backup: Backup, paths: Paths, host_keys: bool) -> list[str]:
    """The files (relative to the root) a restore of backup writes besides the configuration and its
    history: what restore_steps() writes, and the password hash record under a root other than /."""
    names = [n for n in sorted(certificate_members(backup.config) | set(PAIR_MEMBERS)) if n in backup.members]
    names += _store_members(backup)
    names += [API_TOKENS_MEMBER] if API_TOKENS_MEMBER in backup.members else []
    names += backup.host_keys if host_keys else []
    if PASSWORD_MEMBER in backup.members and not paths.is_live_root:
        names.append(str(paths.admin_password_hash.relative_to(paths.root)))
    return names


def _store_members(backup: Backup) -> list[str]:
    """The certificate store's files a backup holds (each new to a unit that lacks it: a file never changes)."""
    return sorted(name for name in backup.members if STORE_MEMBER.fullmatch(name))


def restore_steps(backup: Backup, paths: Paths, host_keys: bool) -> list[Step]:
    """The backup's certificates, pair identity, API tokens and (with host_keys) SSH host keys, written before the
    hand-over reads them; on the unit itself HAProxy and sshd are reloaded when theirs changed."""
    live = paths.is_live_root
    found = lambda names: [(paths.root / n, *backup.members[n]) for n in sorted(names) if n in backup.members]
    # HAProxy reads its certificates as its own group (haproxy.service.d/unprivileged.conf), as
    # make-appliance-certificate installs them
    root = paths.root
    certificates = certificate_members(backup.config) | set(_store_members(backup))
    steps = _files_of(found(certificates), "haproxy" if live else None, "haproxy", root)
    steps += _files_of(found(PAIR_MEMBERS), None, root=root)
    steps += _files_of(found([API_TOKENS_MEMBER]), None, root=root)  # who may use the API (hashes only)
    if host_keys:
        steps += _files_of(found(backup.host_keys), "ssh" if live else None, root=root)
    return steps


def _as_one(description: str, parts: list[Step]) -> Step:
    """Several steps shown as one (a history of a thousand files is one line), undone in reverse."""
    done: list[Step] = []

    def do() -> None:
        for part in parts:
            done.append(part)
            part.do()

    def undo() -> None:
        failed = []
        for part in reversed(done):
            try:
                part.undo()
            except Exception as exc:
                failed.append(f"{part.description}: {exc}")
        if failed:
            raise RuntimeError("; ".join(failed))

    return Step(description, do, undo)


def history_steps(backup: Backup, paths: Paths) -> list[Step]:
    """The backup's versions into the history after this unit's own (see the module's docstring), a version
    of the restored config if the backup's newest is not it, and last the config itself: saving it is the
    commit point, as in every change (config_files.config_steps). None of this unit's versions is let go:
    of the backup's, only the newest that fit beside them within history.KEEP come in (a unit whose own
    fill it gets the restored config as one version more, and its next change lets the oldest go)."""
    ours, theirs = history.versions(paths), backup.versions
    text = backup.members[CONFIG_MEMBER][0].decode()
    newest_is_config = bool(theirs) and backup.members[history_member(theirs[-1])][0].decode() == text
    room = max(0, history.KEEP - len(ours) - (0 if newest_is_config else 1))
    kept = theirs[len(theirs) - room :] if room else []
    shift = max(0, history.next_number(paths) - kept[0]) if kept else 0  # past every number held, a FIFO's too
    writes = []
    for number in kept:
        for kind, path in (("yaml", history.path_of(paths, number + shift)), ("json", history.record_of(paths, number + shift))):
            if content := backup.members.get(history_member(number, kind)):
                writes.append(file_step(path, content[0].decode(), f"keep version {number + shift:04d}"))
    steps = []
    if writes:
        numbers = f"{kept[0] + shift:04d}" + (f" to {kept[-1] + shift:04d}" if len(kept) > 1 else "")
        left_out = (
            f" (its oldest {len(theirs) - len(kept)} left out: the history keeps {history.KEEP})"
            if len(kept) < len(theirs)
            else ""
        )
        steps.append(_as_one(f"bring the backup's {len(kept)} version(s) into the history as {numbers}{left_out}", writes))
    if not kept or not newest_is_config:
        number = max([history.next_number(paths) - 1, *(n + shift for n in kept)]) + 1
        record = json.dumps(provenance.describe(), indent=1) + "\n"
        steps.append(file_step(history.path_of(paths, number), text, f"keep the restored configuration as version {number:04d}"))
        steps.append(file_step(history.record_of(paths, number), record, f"say who restored version {number} and how"))
    return [*steps, file_step(paths.appliance_yaml, text, f"save the restored configuration to {paths.appliance_yaml}")]


def picture(paths: Paths, backup: Backup) -> dict[str, dict | None]:
    """What a restore writes beyond the change's own picture (apply/state.py): each file of the backup
    and of the history by digest, mode and owner (no secret in a message), and root's password hash."""
    names = {name for name in backup.members if name != PASSWORD_MEMBER}
    if paths.history_dir.is_dir():
        names |= {str(p.relative_to(paths.root)) for p in paths.history_dir.iterdir()}
    found: dict[str, dict | None] = {}
    for name in sorted(names):
        path = paths.root / name
        if path.is_file():
            status = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[name] = {"sha256": digest, "mode": status.st_mode & 0o7777, "owner": (status.st_uid, status.st_gid)}
        else:
            found[name] = None
    hashed = _password_hash_now(paths)
    found["admin password"] = {"sha256": hashlib.sha256(hashed.encode()).hexdigest()} if hashed else None
    return found
