"""OpenSSH public keys as the appliance keeps them: one per line, type, base64 blob and a comment.

Checked here rather than trusted to sshd, which skips a line it cannot read without a word: a key with a
typo would leave the admin locked out and nobody told. Options before the key (command=, from=) are
refused: the appliance's management networks already say where logins may come from.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from .kinds import Kind, KindError, shown, unprintable

MAX_KEY_LENGTH = 16 * 1024  # an RSA-16384 key's line is about 2.8 KB

# each type's public key blob: how many SSH wire strings it holds (the type name first)
FIELDS = {
    "ssh-ed25519": 2,
    "ssh-rsa": 3,
    "ecdsa-sha2-nistp256": 3,
    "ecdsa-sha2-nistp384": 3,
    "ecdsa-sha2-nistp521": 3,
    "sk-ssh-ed25519@openssh.com": 3,
    "sk-ecdsa-sha2-nistp256@openssh.com": 4,
}
KEY_TYPES = tuple(FIELDS)


def _wire_strings(blob: bytes) -> list[bytes] | None:
    """The blob as SSH wire strings (uint32 length, bytes), or None when it does not split exactly."""
    strings, at = [], 0
    while at < len(blob):
        if at + 4 > len(blob):
            return None
        (length,) = struct.unpack(">I", blob[at : at + 4])
        if at + 4 + length > len(blob):
            return None
        strings.append(blob[at + 4 : at + 4 + length])
        at += 4 + length
    return strings


class SSHKeyError(ValueError):
    """A line that is not an OpenSSH public key the appliance takes."""


def parse_key(text: object) -> str:
    """The key normalised to "type blob comment" (single spaces), or SSHKeyError saying what is wrong."""
    if not isinstance(text, str) or "\n" in text.strip() or "\r" in text:
        raise SSHKeyError("one key per entry, on one line (the contents of a .pub file)")
    parts = text.split(None, 2)
    if not parts or parts[0] not in KEY_TYPES:
        got = parts[0][:24] if parts else ""
        raise SSHKeyError(f"{got!r} is not a key type this unit takes; use one of {', '.join(KEY_TYPES)} (no options before it)")
    if len(parts) < 2:
        raise SSHKeyError(f"the {parts[0]} key has no key data after its type")
    kind, data = parts[0], parts[1]
    try:
        blob = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise SSHKeyError(f"the {kind} key data is not base64 (was the line cut or wrapped?)") from None
    if blob[:4] != struct.pack(">I", len(kind)) or blob[4 : 4 + len(kind)] != kind.encode():
        raise SSHKeyError(f"the key data is not a {kind} key (the type and the data disagree)")
    strings = _wire_strings(blob)
    if strings is None or len(strings) != FIELDS[kind] or (kind == "ssh-ed25519" and len(strings[1]) != 32):
        raise SSHKeyError(f"the {kind} key data is incomplete (was the line cut?)")
    comment = parts[2].strip() if len(parts) > 2 else ""
    if unprintable(comment) or not all(c.isprintable() for c in comment):
        raise SSHKeyError("the key's comment has characters that cannot be printed")
    return f"{kind} {data} {comment}".strip()


def fingerprint(key: str) -> str:
    """SHA256:... as ssh-keygen -l prints it."""
    blob = base64.b64decode(key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def authorized_keys_text(keys: list[str]) -> str:
    header = "# managed by lbwizard from appliance.yaml (access.ssh_authorized_keys): lbctl access key add|remove\n"
    return header + "".join(f"{key}\n" for key in keys)


@dataclass(frozen=True)
class PublicKey(Kind):
    """An OpenSSH public key line, as a setting holds it: normalised as parse_key makes it, no options."""

    what: str = "an SSH public key"
    metavar: str = "KEY"
    max_length: int = MAX_KEY_LENGTH

    def parse_text(self, text: str) -> str:
        if len(text) > MAX_KEY_LENGTH:
            raise KindError(f"{shown(text)} is too long for an SSH public key (at most {MAX_KEY_LENGTH} characters)")
        try:
            normal = parse_key(text)
        except SSHKeyError as exc:
            raise KindError(str(exc)) from None
        if normal != text:
            raise KindError("write the key as type, data and comment separated by single spaces")
        return text

    def check(self, value: object) -> str:
        if not isinstance(value, str):
            raise KindError(f"{shown(value)} is not an SSH public key: expected the line of a .pub file")
        return self.parse_text(value)

    def json_schema(self) -> dict:
        return {"type": "string", "maxLength": MAX_KEY_LENGTH, "pattern": "^(ssh-|ecdsa-|sk-)[^\\n\\r]+$"}
