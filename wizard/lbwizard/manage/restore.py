"""A restore: what a backup holds made real on this unit as one change (`lbctl restore`, or a first boot's
answers disk saying `restore: FILE`).

The file is checked whole before anything is touched (config/backup.py). Then, under the change lock,
one transaction: the backup's config applied like any change (network, kernel, firewall, files, the
hand-over), its certificates, pair identity, SSH host keys and admin password hash written, its history
brought in, and appliance.yaml saved. Any failure undoes all of it, proven against a picture that
includes the restored files. What it replaces is kept first (apply/restore_journal.py), and the last
step, the restore's commit point, hands that to the rollback record: a power cut before it boots the old
configuration with the old certificates, keys and password, and `lbwizard rollback` after it puts them
back. A paired unit's config keeps its ha section; it is not pushed to the peer.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from ..apply import backup_files, restore_journal, state
from ..apply.plan import plan
from ..config import backup, files
from ..config.backup import Backup, BackupError
from ..config.lock import Busy, one_change
from ..config.model import ConfigFormatError
from ..config.paths import Paths
from ..config.verify_access import guards
from ..engines.access import for_run
from .changes import EXIT_BAD_INPUT, EXIT_BUSY, print_failure, print_step, run_steps


def print_refusal(reason: str) -> None:
    print(f"backup: {reason}", flush=True)


def read_backup(file: Path) -> Backup:
    """The backup in file ("-": standard input), checked whole; BackupError says why it is refused."""
    try:
        if str(file) == "-":
            if sys.stdin is None:  # closed (`lbctl restore - <&-`)
                raise BackupError("cannot read standard input: it is closed")
            data = backup.read_file(sys.stdin.buffer)
        else:
            with open(file, "rb") as handle:
                data = backup.read_file(handle)
    except OSError as exc:
        raise BackupError(f"cannot read {file}: {exc.strerror or exc}") from None
    return backup.unpack(data)


def restore(
    found: Backup,
    paths: Paths,
    *,
    live: bool,
    handover: bool,
    host_keys: bool = True,
    echo: Callable[[str], None] = print_step,
    failure: Callable[[str], None] = print_failure,
    refused: Callable[[str], None] = print_refusal,
    client: str | None = None,
    force: bool = False,
) -> int:
    """Make this unit what found holds, as one transaction; host_keys=False keeps this unit's own SSH host
    keys even when the backup has some. Returns the exit code, as every change does: EXIT_BAD_INPUT, after
    refused(reason), when this unit's tree cannot take the backup's files, or when the backup's access
    settings would cut off the session the restore comes from (client) or leave root without its SSH key
    (verify_access.guards, as on every path; force: the admin said so). Nothing is touched then."""
    try:
        with one_change(paths):
            if reason := backup_files.refuse(found, paths, host_keys):
                refused(reason)
                return EXIT_BAD_INPUT
            try:
                previous = files.load_config(paths)
            except ConfigFormatError:
                previous = None  # a saved config that no longer loads is replaced all the same
            config = found.config
            if problems := guards(previous, config, client, force):
                for field, message in problems:
                    refused(f"{field}: {message}")
                return EXIT_BAD_INPUT
            password = backup_files.password_hash(found)
            written = backup_files.written(found, paths, host_keys)
            keep, whole = restore_journal.journal_steps(paths, written, password is not None, live)
            steps = plan(
                config,
                paths,
                password,
                live=live,
                previous=previous,
                handover=handover,
                restored_files=backup_files.restore_steps(found, paths, host_keys),
                history=backup_files.history_steps(found, paths),
            )
            steps = [keep, *steps, whole]  # whole: the commit point (apply/restore_journal.py)
            capture = None
            if live:
                engines = for_run(paths.haproxy_socket, live)
                capture = lambda: state.capture(config, paths, engines) | {"restored": backup_files.picture(paths, found)}
            return run_steps(steps, capture, echo, failure)
    except Busy as exc:
        failure(str(exc))
        return EXIT_BUSY
