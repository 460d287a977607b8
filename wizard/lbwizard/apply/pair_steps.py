"""The setup wizard's change of a paired unit as a change of the pair (issue 16): run again (console or
answers file), it changes the shared part on the peer first, inside the same transaction, so a peer that
refuses leaves both units as they were and a failure here undoes the peer's part too.

lbctl and the management screens do the same in manage/operations.py (before their commit); the peer's
receiving end is lbctl pair receive. A peer that cannot be reached does not stop the change: it is made
here, and the peer is behind until it catches up (the sync timer, or its own boot).
"""

from __future__ import annotations

from ..config.model import ApplianceConfig
from ..config.paths import Paths
from ..pair import channel, shared, sync
from .step import Step, report


class PeerRefused(RuntimeError):
    """The peer did not take the change; so neither unit has it."""


def is_pair_change(previous: ApplianceConfig | None, config: ApplianceConfig) -> bool:
    return previous is not None and shared.paired(previous) and shared.paired(config) and shared.differs(previous, config)


def pair_steps(paths: Paths, previous: ApplianceConfig, config: ApplianceConfig) -> tuple[Step, Step]:
    """(first step: the peer takes config, which is at the next shared version; last step: record that it did)."""
    assert config.ha is not None and config.ha.peer
    peer, base = config.ha.peer, shared.version(previous)
    taken: dict[str, bool] = {}
    acked_before = sync.acknowledged(paths)

    def ask() -> None:
        answer = channel.call(paths, peer, sync.request("apply", config, base, paths), report)
        if not answer.reached:
            report(f"the peer {peer} could not be reached ({answer.error}): the change is made here, the peer catches up later")
            return
        if not answer.ok:
            why = "; ".join(f"{field}: {message}" for field, message in answer.problems) or answer.error
            raise PeerRefused(f"the peer {peer} refused the change, so neither unit has it: {why}")
        taken["peer"] = True

    def take_back() -> None:
        if taken.pop("peer", False):
            undone = channel.call(paths, peer, sync.request("undo", previous, shared.version(config), paths), report)
            if not undone.ok:
                raise PeerRefused(f"the peer {peer} could not undo its part ({undone.error}): run lbctl pair sync")

    def record() -> None:
        if taken.get("peer"):
            sync.record_acknowledged(paths, shared.version(config))

    def forget() -> None:
        if not taken.get("peer"):
            return
        if acked_before is None:
            paths.pair_peer_state.unlink(missing_ok=True)
        else:
            sync.record_acknowledged(paths, acked_before)

    return (
        Step(f"change the peer {peer} first (shared version {shared.version(config)})", ask, take_back),
        Step(f"record that the peer {peer} has shared version {shared.version(config)}", record, forget),
    )
