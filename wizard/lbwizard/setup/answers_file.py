"""The answers file's own settings: those the console does not ask (management networks, keys, a password
hash, the pair secret, the unit's services), each declared with its kind and help, and the kinds of the
secrets the console asks (password, pair secret). The answers runner (flow.py) reads with these; the JSON
Schema of the whole file (answers_schema.py) is made from them and the questions' kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config.declare import spec_of
from ..config.kinds import Boolean, Kind, KindError, Network, Parsed, Text, choice_of
from ..config.model import SYSLOG_PROTOCOLS, Clock, Logging
from ..config.password import is_crypt_hash
from ..config.sshkeys import PublicKey, parse_key
from ..config.verify_access import parse_networks
from ..pair import keys as pair_keys
from .host_answers import PARSERS as HOST_PARSERS

PASSWORD_MIN_LENGTH = 8


@dataclass(frozen=True)
class Password(Kind):
    """The admin password: typed at a console, so printable characters only, spaces allowed anywhere."""

    what: str = "a password"
    metavar: str = "PASSWORD"
    max_length: int = 256

    def parse(self, value: object) -> str:
        return self.check(value)

    def parse_text(self, text: str) -> str:
        return self.check(text)

    def check(self, value: object) -> str:
        if not isinstance(value, str):
            raise KindError("a password is text; quote it in an answers file")
        if len(value) < PASSWORD_MIN_LENGTH:
            raise KindError(f"use at least {PASSWORD_MIN_LENGTH} characters")
        if len(value) > self.max_length:
            raise KindError(f"use at most {self.max_length} characters")
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise KindError("control characters (newline, tab, ...) cannot be typed at a login prompt; leave them out")
        return value

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": PASSWORD_MIN_LENGTH, "maxLength": self.max_length, "writeOnly": True}


@dataclass(frozen=True)
class PairSecret(Kind):
    """The secret typed on both units of a pair; empty: pair later (lbctl pair join)."""

    what: str = "a pair secret"
    max_length: int = 256

    def parse(self, value: object) -> str | None:
        return self.check(value)

    def parse_text(self, text: str) -> str | None:
        return self.check(text)

    def check(self, value: object) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        # spaces and a line end around it are not part of it (both units strip them): a file's last line
        if not isinstance(value, str) or len(value) > self.max_length or any(ord(c) < 32 for c in value.strip()):
            raise KindError(f"the pair secret is one line of at most {self.max_length} printable characters")
        if problem := pair_keys.secret_problem(value):
            raise KindError(problem)
        return value.strip()

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": pair_keys.MIN_SECRET, "maxLength": self.max_length, "writeOnly": True}


def _crypt_hash(value: object) -> str:
    if not isinstance(value, str) or not is_crypt_hash(value):
        raise ValueError("is not a crypt hash; make one with `openssl passwd -6`")
    return value


def _keys(value: object) -> list[str]:
    """One key or a list of them, each as a .pub file's line (normalised)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError("expected a list of public keys (the lines of .pub files)")
    keys = []
    for index, item in enumerate(items):
        try:
            keys.append(parse_key(item))
        except ValueError as exc:
            raise KindError(str(exc), index if isinstance(value, list) else None) from None
    return keys


def _list_or_line(item: dict[str, Any], words: tuple[str, ...]) -> dict[str, Any]:
    return {"anyOf": [{"type": "array", "items": item}, {"type": "string", "maxLength": 4096}, {"enum": list(words)}]}


# the settings an answers file may carry that the console does not ask (lbctl changes them later)
ANSWERS_ONLY: dict[str, tuple[Kind, str]] = {
    "management_networks": (
        Parsed(what="the management networks", read=parse_networks, schema=_list_or_line(Network().json_schema(), ("default",))),
        "where SSH and management may come from: a list or one line of networks; default: this unit's own subnets",
    ),
    "ssh_authorized_keys": (
        Parsed(
            what="the SSH keys",
            read=_keys,
            max_length=16 * 1024,
            schema={"anyOf": [PublicKey().json_schema(), {"type": "array", "items": PublicKey().json_schema()}]},
        ),
        "OpenSSH public keys that may log in as root (the lines of .pub files)",
    ),
    "admin_password_hash": (
        Parsed(what="a crypt hash", read=_crypt_hash, max_length=512, schema={"type": "string", "maxLength": 512}),
        "first boot: the admin password as a crypt hash (openssl passwd -6) instead of admin_password",
    ),
    "pair_secret": (PairSecret(), "an HA pair: the same secret on both units, so they trust each other"),
    "ntp_servers": (
        Parsed(
            what="the NTP servers",
            read=HOST_PARSERS["ntp_servers"],
            schema=_list_or_line(spec_of(Clock, "ntp_servers").kind.item.json_schema(), ("none",)),  # type: ignore[attr-defined]
        ),
        "NTP servers: a list or one line of host names or addresses; none: the clock runs free",
    ),
    "syslog_server": (
        Parsed(
            what="a syslog server",
            read=HOST_PARSERS["syslog_server"],
            schema={"anyOf": [spec_of(Logging, "syslog_server").kind.json_schema(), {"type": "null"}]},
        ),
        "HOST[:PORT] that gets the unit's logs; none: they stay on the unit",
    ),
    "syslog_protocol": (choice_of(SYSLOG_PROTOCOLS, "a syslog transport"), "udp | tcp"),
    "metrics": (Boolean(), "serve the Prometheus metrics (yes/no)"),
}
RESTORE = Text(what="a backup file name", max_length=4096, min_length=1)


def answers_only(data: dict) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The answers-only settings an answers file gives, each read by its kind; (values, problems by key)."""
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for key, (kind, _help) in ANSWERS_ONLY.items():
        if key not in data:
            continue
        try:
            values[key] = kind.parse(data[key])
        except KindError as exc:
            problems.append((f"{key}[{exc.index}]" if exc.index is not None else key, str(exc)))
    return values, problems
