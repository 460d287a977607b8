"""The HTTPS API's tokens (etc/lbwizard/api-tokens.json, 0600): a name, whether it may change anything, and
the SHA-256 of the token, never the token itself.

A token is 32 random bytes, shown once when it is made (`lbctl api token add NAME`). SHA-256 suffices for
a secret of that strength (no password to guess, so no slow hash); the server hashes what a request
carries and compares the digests in constant time. The file is the unit's, not the configuration's: no
change to it makes a history version, and `lbctl api token remove` takes effect at the next request.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from .files import atomic_write
from .kinds import KindError
from .model import NAME
from .paths import Paths

PREFIX = "lbw_"  # so a token is recognisable in a leaked log or a secret scanner
FILE_LIMIT = 1024 * 1024


@dataclass(frozen=True)
class Token:
    name: str
    sha256: str
    read_only: bool
    created: str


class TokenError(ValueError):
    """A token command that cannot be done: (field, message), like an edit's."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def token_file(paths: Paths):
    return paths.config_dir / "api-tokens.json"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def load(paths: Paths) -> list[Token]:
    """The tokens as stored; a file that is missing holds none, one that does not read as ours holds none
    either (no request is let in on a file the server cannot judge)."""
    path = token_file(paths)
    try:
        with path.open("rb") as handle:
            data = json.loads(handle.read(FILE_LIMIT + 1)[:FILE_LIMIT])
    except (OSError, ValueError):
        return []
    rows = data.get("tokens") if isinstance(data, dict) else None
    found = []
    for row in rows if isinstance(rows, list) else []:
        try:
            found.append(Token(str(row["name"]), str(row["sha256"]), bool(row["read_only"]), str(row.get("created", ""))))
        except (KeyError, TypeError):
            continue
    return found


def strict(text: str) -> list[Token]:
    """A token file as `lbctl api token` writes it, or ValueError saying why not (a backup's, before a restore
    lets it decide who may use the API)."""
    data = json.loads(text)
    if not isinstance(data, dict) or set(data) != {"tokens"} or not isinstance(data["tokens"], list):
        raise ValueError('expected {"tokens": [...]}')
    found: list[Token] = []
    for index, row in enumerate(data["tokens"]):
        fields = {"name", "sha256", "read_only", "created"}
        if not isinstance(row, dict) or set(row) != fields:
            raise ValueError(f"tokens[{index}]: expected exactly {', '.join(sorted(fields))}")
        if not isinstance(row["name"], str) or not isinstance(row["created"], str) or len(row["created"]) > 40:
            raise ValueError(f"tokens[{index}]: name and created are text")
        if not isinstance(row["sha256"], str) or not re.fullmatch(r"[0-9a-f]{64}", row["sha256"]):
            raise ValueError(f"tokens[{index}].sha256: expected 64 lowercase hex digits")
        if not isinstance(row["read_only"], bool) or not row["created"].isprintable():
            raise ValueError(f"tokens[{index}]: read_only is true or false, created printable")
        check_name(row["name"])
        if any(t.name == row["name"] for t in found):
            raise ValueError(f"tokens[{index}].name: {row['name']} twice")
        found.append(Token(row["name"], row["sha256"], row["read_only"], row["created"]))
    return found


def find(paths: Paths, token: str) -> Token | None:
    """The stored token this one is, compared by digest in constant time; None when it is none of them."""
    wanted = digest(token)
    match = None
    for stored in load(paths):
        if hmac.compare_digest(stored.sha256, wanted):
            match = stored
    return match


@contextmanager
def _editing(paths: Paths) -> Iterator[list[Token]]:
    """The stored tokens under an flock of the config directory (not the change lock: a token is no change
    of the configuration, and must not wait for one); written back, 0600, when the block ends."""
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(paths.config_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        tokens = load(paths)
        yield tokens
        text = json.dumps({"tokens": [asdict(t) for t in tokens]}, indent=1) + "\n"
        atomic_write(token_file(paths), text, mode=0o600)
    finally:
        os.close(fd)


def check_name(name: str) -> str:
    try:
        return NAME.parse(name)
    except KindError as exc:
        raise TokenError("name", str(exc)) from None


def add(paths: Paths, name: str, read_only: bool) -> str:
    """Make a token named name; returns the token, which is stored nowhere."""
    check_name(name)
    token = PREFIX + secrets.token_urlsafe(32)
    with _editing(paths) as tokens:
        if any(t.name == name for t in tokens):
            raise TokenError("name", f"a token named {name} exists; remove it first (lbctl api token remove {name})")
        tokens.append(Token(name, digest(token), read_only, time.strftime("%Y-%m-%d %H:%M:%S")))
    return token


def remove(paths: Paths, name: str) -> None:
    with _editing(paths) as tokens:
        kept = [t for t in tokens if t.name != name]
        if len(kept) == len(tokens):
            known = ", ".join(t.name for t in tokens) or "none"
            raise TokenError("name", f"no token named {check_name(name)} (there are: {known})")
        tokens[:] = kept
