"""lbctl backup and lbctl restore: this unit in one file (mode 0600: it holds secrets), and back."""

from __future__ import annotations

import argparse
import contextlib
import os
import stat
import sys
from datetime import datetime
from pathlib import Path
from typing import TextIO

from ..apply import backup_files
from ..apply.state import SYSTEM_FILES
from ..config import backup, history
from ..config.backup import BackupError
from ..config.files import atomic_write
from ..config.lock import Busy, one_change
from ..config.paths import Paths
from .changes import EXIT_BAD_INPUT, EXIT_BUSY, EXIT_OK
from .restore import read_backup, restore

BACKUP_MODE = 0o600


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    made = commands.add_parser(
        "backup", parents=[common], help="this unit's configuration, history, certificates and keys in one file (0600)"
    )
    made.add_argument("file", metavar="FILE", help='where to write it ("-": standard output)')
    made.add_argument(
        "--with-host-keys", action="store_true", help="the SSH host keys too: a reinstalled unit keeps its SSH identity"
    )
    back = commands.add_parser("restore", parents=[common], help="make this unit what a backup holds, as one change")
    back.add_argument("file", metavar="FILE", help='the backup ("-": standard input)')
    back.add_argument(
        "--keep-host-keys", action="store_true", help="keep this unit's own SSH host keys even if the backup has some"
    )
    back.add_argument(
        "--force", action="store_true", help="even if the backup's access settings cut off this session or remove every SSH key"
    )


def _summary(found: backup.Backup, where: str) -> tuple[str, dict]:
    """What a backup holds, for the admin and for a script."""
    certificates = sorted(backup.certificate_members(found.config) & set(found.members))
    pair = sorted(set(backup.PAIR_MEMBERS) & set(found.members))
    password = backup.PASSWORD_MEMBER in found.members
    lines = [
        f"{where}: the backup of {found.describe()}",
        f"  certificates: {', '.join(certificates) or 'none'}",
        f"  HA pair identity: {'yes' if pair else 'no'}; admin password hash: {'yes' if password else 'no (none set)'}",
        "  It holds secrets (private keys, the password hash): keep it where only administrators can read it.",
    ]
    data = {
        "ok": True,
        "file": where,
        "hostname": backup.shown(found.manifest.get("hostname")),
        "created": backup.shown(found.manifest.get("created")),
        "versions": found.versions,
        "certificates": certificates,
        "pair_identity": bool(pair),
        "admin_password_hash": password,
        "host_keys": found.host_keys,
    }
    return "\n".join(lines), data


def where_to_write(given: Path, paths: Paths) -> tuple[Path, bool]:
    """The path a backup goes to and whether it is a FIFO (written through, as a pipe) rather than a file
    (replaced whole, atomically). A link to a file is written through to that file. BackupError, saying
    why, for a place no backup may go: a directory, a device or socket, a link to nothing, a missing
    directory, or the unit's own configuration (anything under /etc/lbwizard, and the files the unit runs on:
    HAProxy's, keepalived's and sshd's folders, the system files an apply writes), which it would replace."""
    path = given
    if given.is_symlink():
        path = given.resolve()
        if not path.exists():
            raise BackupError(f"{given} is a link to {path}, which does not exist; nothing was written")
    resolved = path.resolve()
    for own in sorted({(root / place).resolve() for root in (paths.root, Path("/")) for place in _OWN_PLACES}):
        if resolved.is_relative_to(own) and not (resolved == own and own.is_dir()):
            where = f"is {own}" if resolved == own else f"is in {own}"
            raise BackupError(f"{given} {where}, the unit's own configuration; write it elsewhere; nothing was written")
    if path.exists():
        kind = path.stat().st_mode
        if stat.S_ISDIR(kind):
            raise BackupError(f"{given} is a directory; name a file in it; nothing was written")
        if not (stat.S_ISREG(kind) or stat.S_ISFIFO(kind)):
            raise BackupError(f"{given} is a device or a socket, not a file or a FIFO; nothing was written")
    elif not path.parent.is_dir():
        raise BackupError(f"the directory {path.parent} does not exist; nothing was written")
    return path, stat.S_ISFIFO(path.stat().st_mode) if path.exists() else False


# relative to a root: what the unit itself writes and runs on (a backup written over HAProxy's certificate made
# every later change fail on haproxy -c)
_OWN_PLACES = ("etc/lbwizard", "etc/haproxy", "etc/keepalived", "etc/ssh", *SYSTEM_FILES)


def _write(path: Path, data: bytes, fifo: bool) -> None:
    """The backup into path: through a FIFO as it is, else replacing the file in one step (mode 0600)."""
    if not fifo:
        atomic_write(path, data, BACKUP_MODE)
        return
    with open(path, "wb") as pipe:  # waits for a reader, as any writer to a FIFO does
        pipe.write(data)


def cmd_backup(ctl, args: argparse.Namespace) -> int:
    if args.file != "-":
        return _backup(ctl, args, None)
    output = sys.stdout
    if output is None:  # closed (`lbctl backup - >&-`): FILE "-" is still no file named "-"
        print("backup: cannot write standard output: it is closed; nothing was written", file=sys.stderr)
        return EXIT_BAD_INPUT
    with contextlib.redirect_stdout(sys.stderr):  # standard output holds the backup: every word goes elsewhere
        return _backup(ctl, args, output)


def _backup(ctl, args: argparse.Namespace, output: TextIO | None) -> int:
    """The backup to args.file, or to output (standard output, while everything said goes to standard error)."""
    to_stdout = output is not None
    target, fifo = Path(args.file), False
    try:
        if not to_stdout:
            target, fifo = where_to_write(Path(args.file), ctl.paths)
    except BackupError as exc:
        return ctl.problems([("backup", str(exc))])
    try:
        with one_change(ctl.paths):  # briefly: a change in flight is not half copied
            config = ctl.config()
            if outside := backup.certificate_problems(config):  # a backup that no restore would take
                return ctl.problems([("backup", f"{problem}; nothing was written") for problem in outside])
            members = backup_files.collect(ctl.paths, config, args.with_host_keys)
            left_out = _leave_out_bad_history(members)
    except BackupError as exc:
        return ctl.problems([("backup", str(exc))])
    except Busy as exc:
        print(f"lbctl: {exc}", file=sys.stderr)
        return EXIT_BUSY
    version = backup_files.appliance_version(ctl.paths)
    data = backup.pack(members, hostname=config.hostname, appliance_version=version, created=datetime.now().astimezone())
    try:
        found = backup.unpack(data)  # what was written reads back, or nothing is written
    except BackupError as exc:
        return ctl.problems([("backup", f"this unit's backup would not restore ({exc}); nothing was written")])
    text, summary = _summary(found, "standard output" if to_stdout else str(target))
    text = "\n".join([text, *(f"  left out {reason}" for reason in left_out)])
    if output is not None:
        try:
            output.buffer.write(data)
            output.flush()
        except OSError as exc:  # the reader went away (a closed pipe), a full disk behind a redirection
            os.dup2(os.open(os.devnull, os.O_WRONLY), output.fileno())  # no second failure at exit
            why = f"cannot write standard output: {exc.strerror or exc}; nothing usable was written"
            print(f"backup: {why}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(text, file=sys.stderr)
        return EXIT_OK
    try:
        _write(target, data, fifo)
    except OSError as exc:
        return ctl.problems([("backup", f"cannot write {args.file}: {exc.strerror or exc}; nothing usable was written")])
    ctl.out(text, summary | {"left_out": left_out})
    return EXIT_OK


def _leave_out_bad_history(members: backup.Members) -> list[str]:
    """Take out the history versions that do not load (with their records) and records that are not JSON:
    no restore would take a backup holding them. Returns why each was left out."""
    bad = backup.history_problems(members)
    for name in bad:
        members.pop(name, None)
        if name.endswith(".yaml"):
            members.pop(name.removesuffix(".yaml") + ".json", None)
    return list(bad.values())


def cmd_restore(ctl, args: argparse.Namespace) -> int:
    """Refused (exit 2, `backup: reason`, nothing changed) unless the whole file checks out."""
    try:
        found = read_backup(Path(args.file))
    except BackupError as exc:
        return ctl.problems([("backup", str(exc))])

    def change(echo, failure) -> tuple[int, list]:
        live, refusals = not ctl.dry_run, []
        code = restore(
            found,
            ctl.paths,
            live=live,
            handover=ctl.handover,
            host_keys=not args.keep_host_keys,
            echo=echo,
            failure=failure,
            refused=refusals.append,
            client=ctl.operations.client,
            force=args.force,
        )
        ctl.operations.saved_version = history.newest(ctl.paths) if code == EXIT_OK else None
        return code, [("backup", reason) for reason in refusals]

    return ctl.run(change, f"restored the backup of {found.describe()}")
