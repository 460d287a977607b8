"""One change of the pair: the peer asked first, then both units apply at once; if the peer cannot be
reached, here only, and the peer is brought level later (lbctl pair sync, the sync timer).

Peer first, so that a peer that refuses (its verify objects, or it has changes this unit does not know)
leaves both units as they were. If this unit then fails its own apply, the peer is asked to undo; if the
peer fails after it accepted, this unit undoes its own: the change is on both units or on neither. A
request carries the whole shared part, not a difference: a peer that is behind by any number of versions
is level after one request.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ..config import certstore, model
from ..config.files import atomic_write
from ..config.model import ApplianceConfig
from ..config.paths import Paths
from . import channel, shared
from .channel import Answer

Echo = Callable[[str], None]


def request(action: str, config: ApplianceConfig, base: int, paths: Paths | None = None) -> dict:
    """apply: take config's shared part at its shared version, if this unit's is base or older (it is
    behind or level). undo: put back config's shared part, if this unit is at base (the change undone).
    With paths, the store's files config names go with it (they travel over the pair's channel only)."""
    made = {"action": action, "base": base, "version": shared.version(config), "config": model.dumps(config)}
    if paths is not None:
        made["certificates"] = certificate_contents(config, paths)
    return made


def certificate_contents(config: ApplianceConfig, paths: Paths) -> dict[str, str]:
    """The store's files config names, by fingerprint (a file missing here is left out: the peer's own check
    of its store then says which)."""
    found, offered = {}, certstore.offered()  # a change's new content is not in the store yet when the peer is asked
    for certificate in config.certificates:
        try:
            data = offered.get(certificate.fingerprint) or certstore.read(paths, certificate.fingerprint)
            found[certificate.fingerprint] = data.decode()
        except (certstore.StoreError, UnicodeDecodeError):
            continue
    return found


def contents_of(message: dict) -> dict[str, bytes]:
    """The certificate files a request or a state carries, each checked against its name (Refused otherwise)."""
    carried = message.get("certificates") or {}
    if not isinstance(carried, dict):
        raise Refused("certificates", "the certificates a pair request carries are not a mapping")
    found = {}
    for fingerprint, text in carried.items():
        data = text.encode() if isinstance(text, str) else b""
        if not isinstance(fingerprint, str) or certstore.fingerprint_of(data) != fingerprint:
            raise Refused(
                "certificates", f"a certificate file the peer sent is not what its name says ({str(fingerprint)[:16]}...)"
            )
        found[fingerprint] = data
    return found


def acknowledged(paths: Paths) -> int | None:
    """The last shared version the peer took, or None if it never answered."""
    try:
        return int(json.loads(paths.pair_peer_state.read_text())["acked"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record_acknowledged(paths: Paths, version: int) -> None:
    atomic_write(paths.pair_peer_state, json.dumps({"acked": version}) + "\n", 0o600)


def peer_behind(config: ApplianceConfig, paths: Paths) -> int | None:
    """How many shared versions the peer has not taken (0: in sync; None: not paired). Both units start
    the shared versions at 0 when they pair, so a peer never reached yet is behind by all of them."""
    if not shared.paired(config):
        return None
    return max(0, shared.version(config) - (acknowledged(paths) or 0))


class PeerChange:
    """The peer taking a change, beside this unit's own apply: asked first; once it says ACCEPTED (it holds
    its lock and its verify is content) this unit applies too, both at once, so a pair change takes about
    as long as the slower unit's, not the sum of both. Until then nothing is done here: a peer that
    refuses, or that is busy with a change of its own, leaves both units as they were."""

    def __init__(self, paths: Paths, previous: ApplianceConfig, new: ApplianceConfig, echo: Echo) -> None:
        assert new.ha is not None and new.ha.peer
        self.echo = echo
        echo(f"change the peer {new.ha.peer} (shared version {shared.version(new)}); this unit follows once it accepts")
        self.call = channel.Call(paths, new.ha.peer, request("apply", new, shared.version(previous), paths))
        self.answer: Answer | None = None

    def wait_accepted(self) -> bool:
        """True once the peer accepted and is applying; False when it finished without (result() says how)."""
        if self.call.wait_for(f"- {channel.ACCEPTED}", self.echo):
            return True
        return self.result().ok  # a peer that had it already (level) answers ok with nothing to accept

    def result(self) -> Answer:
        if self.answer is None:
            self.answer = self.call.finish(self.echo)
        return self.answer


def after_here(paths: Paths, previous: ApplianceConfig, new: ApplianceConfig, answer: Answer, done: bool, echo: Echo) -> None:
    """Record what the peer has; undo the peer's part of a change that failed here. (A peer that accepted
    and then failed is the caller's: it undoes this unit's part.)"""
    assert new.ha is not None and new.ha.peer
    if done and answer.ok:
        record_acknowledged(paths, shared.version(new))
    elif done:
        behind = peer_behind(new, paths)
        echo(
            f"the peer {new.ha.peer} could not be reached ({answer.error}); the change is made here, and the peer "
            f"is behind by {behind} versions until it catches up "
            "(lbctl pair sync, or the sync timer once it is reachable)"
        )
    elif answer.ok:
        echo(f"undo the change on the peer {new.ha.peer} too")
        undone = channel.call(paths, new.ha.peer, request("undo", previous, shared.version(new), paths), echo)
        if undone.ok:
            echo(f"the peer {new.ha.peer} undid it too, so neither unit has it")
        else:
            echo(f"the peer {new.ha.peer} could not undo it ({undone.error}): run lbctl pair sync once it is reachable")


OVERWRITE_BASE = 2**62  # a base no unit is beyond: the peer takes the part whatever it has


def sync(
    paths: Paths, config: ApplianceConfig, echo: Echo, overwrite: bool = False, retry: float = channel.RETRY_SECONDS
) -> Answer:
    """Bring the peer level with this unit (the whole shared part, at this unit's shared version).

    Made from the last version both units had (the one the peer last took): a peer with changes of its
    own since then refuses, so a pair that changed on both sides while apart (diverged) is never merged
    or overwritten by the timer. overwrite: the admin's choice of this unit's part over the peer's."""
    assert config.ha is not None and config.ha.peer
    base = OVERWRITE_BASE if overwrite else (acknowledged(paths) or 0)
    answer = channel.call(paths, config.ha.peer, request("apply", config, base, paths), echo, retry=retry)
    if answer.ok:
        record_acknowledged(paths, shared.version(config))
    return answer


class Refused(ValueError):
    """A request this unit does not take; the message says why and what to do."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def received(current: ApplianceConfig, incoming: dict) -> ApplianceConfig:
    """This unit's config after taking a peer's request, or Refused. Called under the change lock."""
    if not shared.paired(current):
        raise Refused("ha.pair_key", f"{current.hostname} is not paired (lbctl pair join)")
    try:
        action, base, version = str(incoming["action"]), int(incoming["base"]), int(incoming["version"])
        sender = model.loads(str(incoming["config"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise Refused("pair", f"not a pair request this unit understands: {exc}") from None
    own = shared.version(current)
    if action == "apply" and own > base:
        raise Refused(
            "ha.shared_version",
            f"{current.hostname} is at shared version {own}, newer than the {base} this change was made from: it has "
            f"changes the sender does not know; run `lbctl pair sync` on {current.hostname}, then make the change again",
        )
    if action == "undo" and own != base:
        raise Refused("ha.shared_version", f"{current.hostname} is at shared version {own}, not {base}: nothing to undo")
    if action not in ("apply", "undo"):
        raise Refused("pair", f"{action!r} is not a pair request")
    return shared.merged(current, sender, version)
