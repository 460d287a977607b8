"""The pair's SSH identity, made from the pair secret both units were given, so that two units paired with
the same secret trust each other with no other step.

The secret is stretched with scrypt (so the public key, which appliance.yaml keeps, does not give the
secret away to a guess-per-microsecond search) into an ed25519 seed; both units derive the same key. The
private key is the only thing kept (etc/lbwizard/pair/id_ed25519, 0600); the secret itself is neither
stored nor printed. Each unit lets the key in for one command only: the peer's receiving end of a change.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import TYPE_CHECKING

from ..config.files import atomic_write
from ..config.kinds import unprintable
from ..config.model import ApplianceConfig
from ..config.paths import Paths
from ..render import quoting

if TYPE_CHECKING:  # cryptography is imported where a key is made: every apply renders authorized_keys, few make keys
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

MIN_SECRET = 16
MAX_SECRET = 256  # characters: one line, typed on both units
SALT = b"lbwizard pair identity v1"
COMMENT = "lbwizard-pair"


def secret_problem(secret: object) -> str | None:
    """Why a pair secret cannot be used, or None."""
    if not isinstance(secret, str) or len(secret.strip()) < MIN_SECRET:
        return f"the pair secret must be at least {MIN_SECRET} characters (the same on both units)"
    if len(secret.strip()) > MAX_SECRET or unprintable(secret.strip()):
        # every path alike (an answers file, lbctl pair join's file or standard input): no line break, escape
        # or NUL inside, so both units can type what the other was given
        return f"the pair secret is one line of at most {MAX_SECRET} printable characters"
    return None


def private_key(secret: str) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    seed = Scrypt(salt=SALT, length=32, n=2**14, r=8, p=1).derive(secret.strip().encode())
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_line(key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    blob = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{blob.decode()} {COMMENT}"


def identity_text(key: Ed25519PrivateKey) -> str:
    """The private key in OpenSSH's own format, as ssh -i reads it."""
    from cryptography.hazmat.primitives import serialization

    text = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
    return text.decode()


def write_identity(paths: Paths, key: Ed25519PrivateKey) -> None:
    """The private key where this unit's ssh takes it from (mode 0600, as ssh insists)."""
    atomic_write(paths.pair_identity, identity_text(key), 0o600)
    os.chmod(paths.pair_identity.parent, 0o700)


def receive_command(paths: Paths) -> str:
    """What the peer's key may run here: lbctl's receiving end (under --root when not the live root)."""
    root = [] if paths.is_live_root else ["--root", str(paths.root)]
    return shlex.join([sys.executable, "-m", "lbwizard.manage.lbctl", *root, "pair", "receive"])


def authorized_line(public: str, peer: str, paths: Paths) -> str:
    """root's authorized_keys line for the pair key: from the peer's address only, for one command, no
    terminal, no forwarding (sshd's restrict). Each part as sshd reads it (render/quoting.py): the peer an
    address, never a pattern; the command with its quotes escaped (sshd's only escape); the key bare."""
    peer = quoting.ssh_from_pattern(peer, "ha.peer")
    command = quoting.ssh_option_string(receive_command(paths), "the pair's receiving command")
    key = quoting.authorized_key(public, "ha.pair_key")
    return f'restrict,from="{peer}",command="{command}" {key}'


def authorized_text(config: ApplianceConfig, paths: Paths) -> str:
    """The pair key's line for root's authorized_keys, when this unit is paired; "" otherwise."""
    if config.ha is None or not config.ha.peer or not config.ha.pair_key:
        return ""
    line = authorized_line(config.ha.pair_key, config.ha.peer, paths)
    return f"# the HA peer's changes (lbctl pair join made this key)\n{line}\n"
