"""The config's applied versions (etc/lbwizard/history/NNNN.yaml, each with NNNN.json saying who made it
and how): listing them, reading one back, numbering the next, and keeping a bounded number.

History only grows in number: a rollback applies an old version as the newest one, so it can be rolled
back too. The newest KEEP versions are kept; older ones go when a new one is saved (a rollback to the
one before the newest is always possible: it is among them). Numbers have at least four digits and
sort as numbers, so 10000 comes after 9999.

One version that does not load (damaged on disk, or written by hand) never stops the rest: `lbctl history`
lists it saying why, a rollback to it is refused naming it, and the boot passes over it.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import document, model
from .kinds import printable_text
from .model import ApplianceConfig, ConfigFormatError
from .paths import Paths

KEEP = 1000
MAX_PROBLEM = 300  # characters of why a version does not load, in lbctl history


def path_of(paths: Paths, number: int) -> Path:
    return paths.history_dir / f"{number:04d}.yaml"


def record_of(paths: Paths, number: int) -> Path:
    """Who saved this version, when, from where, with which command (config.provenance)."""
    return paths.history_dir / f"{number:04d}.json"


def _numbered(paths: Paths) -> list[tuple[int, Path]]:
    """Every entry named as path_of() or record_of() names one, whatever it is (str.isdigit() also takes "²"
    or "٣", which int() refuses or reads as a number whose own file is another)."""
    if not paths.history_dir.is_dir():
        return []
    own = lambda p, n: p.name in (path_of(paths, n).name, record_of(paths, n).name)
    named = lambda p: p.stem.isascii() and p.stem.isdigit() and own(p, int(p.stem))
    return sorted((int(p.stem), p) for p in paths.history_dir.iterdir() if named(p))


def versions(paths: Paths) -> list[int]:
    """The versions: plain files only (a FIFO there would be waited on for ever, a directory read as nothing)."""
    return [number for number, path in _numbered(paths) if path.suffix == ".yaml" and path.is_file()]


def newest(paths: Paths) -> int | None:
    numbers = versions(paths)
    return numbers[-1] if numbers else None


def next_number(paths: Paths) -> int:
    """The number the next version takes: past every entry named as a version, so none is written through a
    FIFO or over a directory that holds a number."""
    numbered = _numbered(paths)
    return (numbered[-1][0] if numbered else 0) + 1


def beyond_keep(paths: Paths, keep: int = KEEP) -> list[int]:
    """The versions to let go once one more is saved: all but the newest keep - 1."""
    numbers = versions(paths)
    return numbers[: max(0, len(numbers) - (keep - 1))]


def unfinished(paths: Paths) -> list[int]:
    """Versions newer than the saved config: written by a change that a power cut stopped before its
    commit point (saving appliance.yaml, the last step). A finished change's newest version is always
    the saved config's text (a rollback saves an old text as a new version)."""
    if not paths.appliance_yaml.exists():
        return []
    saved = paths.appliance_yaml.read_bytes()
    numbers = versions(paths)
    found = []
    while numbers and path_of(paths, numbers[-1]).read_bytes() != saved:
        found.append(numbers.pop())
    return found if numbers else []  # none matches at all: not ours to judge, keep everything


def _text(paths: Paths, number: int) -> str:
    """The version's text; ConfigFormatError (field "version") when it cannot be read as text."""
    try:
        return document.decode(document.read_bounded(path_of(paths, number), document.CONFIG_LIMIT, "version"), "version")
    except document.DocumentError as exc:
        raise ConfigFormatError([("version", f"history version {number:04d} cannot be read: {exc.message}")]) from None


def _parse(number: int, text: str) -> ApplianceConfig:
    try:
        return model.loads(text)
    except ConfigFormatError as exc:
        raise ConfigFormatError([("version", f"history version {number:04d} does not load as a configuration: {exc}")]) from None


def load(paths: Paths, number: int) -> ApplianceConfig:
    """The config of a version; ConfigFormatError naming the version when it does not load."""
    return _parse(number, _text(paths, number))


def _record(paths: Paths, number: int) -> dict:
    try:
        record = json.loads(record_of(paths, number).read_text())
    except (OSError, ValueError, RecursionError):  # RecursionError: nested past Python's limit
        return {}
    return record if isinstance(record, dict) else {}


def rows(paths: Paths) -> list[dict]:
    """Each version: number, when and how it was saved, its size, and whether it is what runs now."""
    try:
        current = paths.appliance_yaml.read_text()
    except (OSError, UnicodeDecodeError):
        current = None
    result = []
    for number in versions(paths):
        record = _record(paths, number)
        row = {
            "version": number,
            "saved": record.get("saved") or "",
            "by": record.get("by", ""),
            "via": record.get("via", ""),
            "command": record.get("command", ""),
            "message": record.get("message", ""),
            "services": None,
            "real_servers": None,
            "current": False,
            "problem": None,
        }
        try:
            text = _text(paths, number)
            config = _parse(number, text)
        except ConfigFormatError as exc:  # one bad version on disk; the others are still listed
            row["problem"] = " ".join(exc.problems[0][1].split())[:MAX_PROBLEM]  # one line, bounded
        else:
            row["services"] = len(config.virtual_services)
            row["real_servers"] = sum(len(s.real_servers) for s in config.virtual_services)
            row["current"] = text == current
        result.append(row)
    for row in [r for r in result if r["current"]][:-1]:  # a rollback saves an old text again
        row["current"] = False
    return result


def row_text(row: dict) -> str:
    """One version on one line; what a record says (a message, a command line, a path) is shown with its
    control characters escaped, so no record can draw another line or move the terminal's cursor."""
    who = ", ".join(str(x) for x in (row.get("by"), row.get("via")) if x)
    line = f"{row['version']:04d}  {row['saved'] or '(time not recorded)'}  {who}: {row.get('command') or '?'}"
    if row.get("message"):
        line += f'  "{row["message"]}"'
    if row.get("problem"):
        return printable_text(line + f"  [BAD: {row['problem']}]")
    line += f"  [{row['services']} service(s), {row['real_servers']} real server(s)]"
    return printable_text(line + ("  <- current" if row["current"] else ""))


def rollback_target(paths: Paths, wanted: int | None) -> tuple[int | None, str | None]:
    """The version a rollback goes to (default: the one before the newest), or why there is none."""
    numbers = versions(paths)
    if wanted is None:
        wanted = numbers[-2] if len(numbers) > 1 else None
    if wanted is None or wanted not in numbers:
        return None, f"{wanted!r} is not a saved version; lbctl history lists them ({numbers[-5:]}, ...)"
    return wanted, None
