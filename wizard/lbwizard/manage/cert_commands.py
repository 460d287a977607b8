"""lbctl cert: the certificate store. Add (or replace) a certificate from PEM files, list them with their names,
issuer, expiry and users, show one, remove one no service uses.

Each file is read bounded (a device or a FIFO never past the limit) and judged whole before any change
(config/pem.py): every problem is a `--pem: ...` (or --cert, --key, --chain) line, exit 2, nothing changed.
The content then comes with the change (certstore.offering), which writes it into the store, hands it over
and saves the version naming it: history, rollback and backup see it. No private key is ever printed.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from ..config import certificate_edit, certificate_sni, certstore, pem
from ..config.document import DocumentError, read_bounded
from ..config.edit import EditError
from . import acme_commands
from .changes import EXIT_OK

EXPIRY_WARNING_DAYS = 21


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    cert = commands.add_parser("cert", help="the certificate store: TLS services name its certificates")
    actions = cert.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", parents=[common], help="a certificate, its chain and key, from PEM files")
    add.add_argument("name", help="what TLS services will call it (lbctl vs set VS --certificates NAME)")
    add.add_argument("--pem", metavar="FILE", help='certificate, chain and key in one file ("-": standard input)')
    add.add_argument("--cert", metavar="FILE", help="the certificate (its chain may follow it)")
    add.add_argument("--key", metavar="FILE", help="its private key (unencrypted)")
    add.add_argument("--chain", metavar="FILE", help="the issuers' certificates, the nearest first")
    add.add_argument("--replace", action="store_true", help="swap the content of a certificate already in the store")
    actions.add_parser("list", parents=[common], help="every certificate: names, issuer, expiry, which services use it")
    actions.add_parser("show", parents=[common], help="one certificate, whole (never its key)").add_argument("name")
    actions.add_parser("remove", parents=[common], help="a certificate no service uses").add_argument("name")
    acme_commands.add_actions(actions, common)


def _read(option: str, file: str) -> bytes:
    if file == "-":
        data = sys.stdin.buffer.read(pem.FILE_LIMIT + 1)
        if len(data) > pem.FILE_LIMIT:
            raise pem.PemError(option, f"standard input is larger than {pem.FILE_LIMIT // 1024} KiB; no certificate file is")
        return data
    try:
        return read_bounded(Path(file), pem.FILE_LIMIT, option)
    except DocumentError as exc:
        raise pem.PemError(option, exc.message) from None


def bundle_of(args: argparse.Namespace) -> pem.Bundle:
    """The certificate the options give, read and judged (PemError naming the option)."""
    parts = {"--cert": args.cert, "--key": args.key, "--chain": args.chain}
    if args.pem is not None:
        if given := [option for option, value in parts.items() if value is not None]:
            raise pem.PemError(given[0], "--pem holds the certificate, chain and key already; give --pem alone")
        return pem.from_pem(_read("--pem", args.pem), "--pem")
    if args.cert is None or args.key is None:
        raise pem.PemError(
            "--pem" if args.cert is None and args.key is None else ("--key" if args.cert else "--cert"), _missing(args)
        )
    chain = _read("--chain", args.chain) if args.chain is not None else None
    return pem.from_parts(_read("--cert", args.cert), _read("--key", args.key), chain)


def _missing(args: argparse.Namespace) -> str:
    if args.cert is None and args.key is None:
        return "give the certificate: --pem FILE, or --cert FILE --key FILE [--chain FILE]"
    return "give both --cert FILE and --key FILE (or one --pem FILE)"


def add(ctl, args: argparse.Namespace) -> int:
    try:
        certificate_edit.checked_name(args.name)
        found = bundle_of(args)
    except pem.PemError as exc:
        return ctl.problems([(exc.field, exc.message)])
    except EditError as exc:
        return ctl.problems([(exc.field, exc.message)])
    data = found.pem()
    fingerprint = certstore.fingerprint_of(data)
    names = ", ".join(pem.names(found.leaf)) or pem.subject_text(found.leaf)
    until = f"{found.leaf.not_valid_after_utc:%Y-%m-%d}"
    replacing = args.replace and certstore.find(ctl.config(), args.name) is not None  # --replace of a new name adds it
    what = f"{'replaced' if replacing else 'added'} certificate {args.name} ({names}, until {until})"
    with certstore.offering({fingerprint: data}):
        return ctl.commit(
            lambda current: certificate_sni.refuse_new(
                current, certificate_edit.put(current, args.name, fingerprint, replace=args.replace), ctl.paths
            ),
            what,
        )


def days_left(entry: certstore.Entry, now: datetime) -> str:
    seconds = entry.seconds_left(now)
    if seconds is None:
        return "?"
    return "EXPIRED" if seconds <= 0 else f"{int(seconds // 86400)} days"


def _line(entry: certstore.Entry, now: datetime) -> str:
    used = ", ".join(entry.users) or "no service"
    source = "ACME" if entry.acme else "uploaded"
    if entry.info is None:
        return f"{entry.name:<16} PROBLEM: {entry.problem}  (used by {used})"
    info = entry.info
    return (
        f"{entry.name:<16} {', '.join(info['names']) or info['subject']}\n"
        f"{'':<16} issuer {info['issuer']}; until {info['not_after']} ({days_left(entry, now)}); {source}; used by {used}"
    )


def list_(ctl, args: argparse.Namespace) -> int:
    config = ctl.config()
    now = datetime.now(UTC)
    entries = certstore.inventory(config, ctl.paths)
    text = "\n".join(_line(e, now) for e in entries) or "no certificate in the store yet: lbctl cert add NAME --pem FILE"
    return ctl.out(text, [e.as_json(now) for e in entries]) or EXIT_OK


def show(ctl, args: argparse.Namespace) -> int:
    config = ctl.config()
    now = datetime.now(UTC)
    entry = next((e for e in certstore.inventory(config, ctl.paths) if e.name == args.name), None)
    if entry is None:
        known = ", ".join(c.name for c in config.certificates) or "none yet"
        return ctl.problems([("name", f"no certificate {args.name!r} in the store (there are: {known})")])
    declared = certstore.find(config, args.name)
    data = entry.as_json(now) | {"acme": None}
    if declared is not None and declared.acme is not None:
        data["acme"] = {"domains": declared.acme.domains, "directory": declared.acme.directory, "email": declared.acme.email}
    lines = [f"{key}: {value}" for key, value in data.items() if value not in (None, [], "")]
    return ctl.out("\n".join(lines), data) or EXIT_OK


def remove(ctl, args: argparse.Namespace) -> int:
    return ctl.commit(lambda current: certificate_edit.remove(current, args.name), f"removed certificate {args.name}")


ACTIONS = {
    "add": add,
    "list": list_,
    "show": show,
    "remove": remove,
    "acme": acme_commands.cmd_acme,
    "account": acme_commands.cmd_account,
    "renew": acme_commands.cmd_renew,
}


def cmd_cert(ctl, args: argparse.Namespace) -> int:
    return ACTIONS[args.action](ctl, args)
