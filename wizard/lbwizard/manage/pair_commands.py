"""lbctl pair: join a pair with the pair secret, bring the peer level, show where the pair stands, and the
receiving end the peer's changes arrive at (over SSH, the pair key's only command)."""

from __future__ import annotations

import argparse
import copy
import getpass
import json
import sys
from pathlib import Path

from ..config import certstore, document
from ..config.lock import Busy, one_change
from ..config.model import ApplianceConfig
from ..pair import channel, keys, shared, sync, view
from .changes import EXIT_BAD_INPUT, EXIT_BUSY, EXIT_FAILED, EXIT_OK, EXIT_PEER_REFUSED

MASTER_WAIT, BACKUP_WAIT = 0.0, 60.0  # a peer's request meeting a change here: see receive(); 60 s: a change under TCG


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    pair = commands.add_parser("pair", help="the HA pair as one system: join, sync, status")
    actions = pair.add_subparsers(dest="action", metavar="ACTION", required=True)
    join = actions.add_parser("join", parents=[common], help="trust the peer: the same pair secret on both units")
    join.add_argument("--secret-file", metavar="FILE", help="read the secret from FILE (default: standard input)")
    level = actions.add_parser("sync", parents=[common], help="bring the peer level with this unit's shared configuration")
    level.add_argument(
        "--overwrite-peer",
        action="store_true",
        help="after both units changed while apart (diverged): this unit's shared part replaces the peer's",
    )
    level.add_argument(
        "--if-behind",
        action="store_true",
        help="only if this unit has a shared version the peer has not taken (the sync timer's way)",
    )
    actions.add_parser("status", parents=[common], help="the peer, the shared version, whether the peer is behind")
    actions.add_parser("receive", parents=[common], help="(the peer's changes arrive here over SSH)")


SECRET_READ_LIMIT = 4 * keys.MAX_SECRET  # bytes: room for UTF-8 and a line end, never more (/dev/zero, a big file)


def _read_secret(args: argparse.Namespace) -> str:
    """The secret as given: a file or standard input read to a bound, as UTF-8 (DocumentError naming
    pair_secret otherwise); judged by keys.secret_problem like an answers file's pair_secret."""
    if args.secret_file:
        data = document.read_bounded(Path(args.secret_file), SECRET_READ_LIMIT, "pair_secret")
        return document.decode(data, "pair_secret")
    if sys.stdin.isatty():
        return getpass.getpass("pair secret (the same on both units): ")
    return document.decode(sys.stdin.buffer.read(SECRET_READ_LIMIT + 1), "pair_secret")


def join(ctl, args: argparse.Namespace) -> int:
    try:
        secret = _read_secret(args)
    except document.DocumentError as exc:
        return ctl.problems([(exc.field, exc.message)])
    if problem := keys.secret_problem(secret):
        return ctl.problems([("pair_secret", problem)])
    config = ctl.config()
    if config.ha is None or not config.ha.peer:
        return ctl.problems([("ha", "this unit is not one of an HA pair; set it up as master or backup first")])
    key = keys.private_key(secret)
    public = keys.public_line(key)

    def paired(current: ApplianceConfig) -> ApplianceConfig:
        keys.write_identity(ctl.paths, key)  # under the lock, as the change it belongs to
        changed = copy.deepcopy(current)
        changed.ha.pair_key = public
        return changed

    return ctl.run(
        lambda echo, failure: ctl.operations.change(paired, echo, failure, peer=False), f"paired with {config.ha.peer}"
    )


def status(ctl, args: argparse.Namespace) -> int:
    config = ctl.config()
    behind = sync.peer_behind(config, ctl.paths)
    data = {
        "paired": shared.paired(config),
        "peer": config.ha.peer if config.ha else None,
        "shared_version": shared.version(config),
        "peer_behind": behind,
    }
    if not data["paired"]:
        text = "not paired (lbctl pair join, with the same pair secret on both units)"
    else:
        where = "in sync" if behind == 0 else f"behind by {behind} versions"
        text = f"paired with {data['peer']}; shared version {data['shared_version']}; peer {where}"
    ctl.out(text, data)
    return EXIT_OK


def sync_peer(ctl, args: argparse.Namespace) -> int:
    config = ctl.config()
    if not shared.paired(config):
        return ctl.problems([("ha.pair_key", "this unit is not paired (lbctl pair join)")])
    try:
        with one_change(ctl.paths):  # nothing changes here while the peer is brought level
            current = ctl.config()
            if args.if_behind and sync.peer_behind(current, ctl.paths) == 0:
                # the timer's test, made again under the lock: a change that was recording its peer's answer
                # when the timer looked has finished; no call to the peer, and the lock is free again at once
                ctl.out(f"the peer {config.ha.peer} has shared version {shared.version(current)}: nothing to send", {"ok": True})
                return EXIT_OK
            # the timer tries again in 30 s: a peer whose sshd refuses is not waited for (the lock is held meanwhile)
            answer = sync.sync(
                ctl.paths,
                current,
                lambda line: print(f"- {line}", file=sys.stderr, flush=True),
                args.overwrite_peer,
                retry=0 if args.if_behind else channel.RETRY_SECONDS,
            )
    except Busy as exc:
        print(f"lbctl: {exc}", file=sys.stderr)
        return EXIT_BUSY
    if answer.ok:
        ctl.out(f"the peer {config.ha.peer} is level at shared version {shared.version(config)}", {"ok": True})
        return EXIT_OK
    for field, message in answer.problems:
        print(f"peer {config.ha.peer}: {field}: {message}")
    print(f"lbctl: the peer {config.ha.peer} is not level: {answer.error or 'it refused'}", file=sys.stderr)
    if answer.refused:
        print(
            "lbctl: both units changed while apart; on the unit whose configuration is to be kept, run "
            "`lbctl pair sync --overwrite-peer`",
            file=sys.stderr,
        )
    return EXIT_PEER_REFUSED if answer.reached else EXIT_FAILED


class _Level(Exception):
    """The request changes nothing here."""


def receive(ctl, args: argparse.Namespace) -> int:
    """A change of the pair from the peer: taken as any change here (the lock, verify, apply, hand-over),
    its steps on stderr, the verdict as JSON on stdout. Two changes started on both units at once meet
    here: the master refuses the backup's at once, while the backup waits for the master's, so one of
    them wins, the master's."""
    try:
        incoming = json.loads(sys.stdin.read())
    except ValueError as exc:
        print(json.dumps({"ok": False, "error": f"not a pair request: {exc}"}))
        return EXIT_BAD_INPUT
    if isinstance(incoming, dict) and incoming.get("action") == "state":  # asks, changes nothing: no lock
        return _state(ctl, incoming)
    errors: list[str] = []

    def echo(line: str) -> None:
        print(f"- {line}", file=sys.stderr, flush=True)

    def failure(line: str) -> None:
        errors.append(line)
        echo(line)

    def take(current: ApplianceConfig) -> ApplianceConfig:
        new = sync.received(current, incoming)
        if new == current:
            raise _Level
        return new

    config = ctl.config()
    wait = MASTER_WAIT if config.ha is not None and config.ha.role == "master" else BACKUP_WAIT
    try:
        contents = sync.contents_of(incoming) if isinstance(incoming, dict) else {}
        with certstore.offering(contents):  # the store's files the change names (a renewed certificate, say)
            code, problems = ctl.operations.change(
                take, echo, failure, peer=False, wait=wait, on_verified=lambda: echo(f"{channel.ACCEPTED} verified; applying")
            )
    except _Level:
        code, problems = EXIT_OK, []
    except sync.Refused as exc:
        code, problems = EXIT_PEER_REFUSED, [(exc.field, exc.message)]
    if code == EXIT_BUSY and not errors:
        errors.append("busy")
    if code == EXIT_OK:  # the sender has what this unit now has
        sync.record_acknowledged(ctl.paths, shared.version(ctl.config()))
    answer = {
        "ok": code == EXIT_OK,
        "problems": problems,
        "error": " ".join(errors),
        "shared_version": shared.version(ctl.config()),
        "refused": code == EXIT_PEER_REFUSED,
    }
    print(json.dumps(answer))
    return code


def _state(ctl, incoming: dict) -> int:
    """This unit as it stands, for the peer's one view of the pair and its catching up at boot."""
    config = ctl.config()
    if not shared.paired(config):
        print(json.dumps({"ok": False, "error": f"{config.hostname} is not paired (lbctl pair join)"}))
        return EXIT_PEER_REFUSED
    state = view.own_state(config, ctl.paths, ctl.operations.local_addresses())
    if incoming.get("certificates"):  # a peer catching up at boot takes the files its new config names
        state["certificates"] = sync.certificate_contents(config, ctl.paths)
    print(json.dumps({"ok": True, **state}))
    return EXIT_OK


def cmd_pair(ctl, args: argparse.Namespace) -> int:
    return {"join": join, "sync": sync_peer, "status": status, "receive": receive}[args.action](ctl, args)
