"""A unit that was away catches up with its peer at boot, before its engines start: it must never serve as
master with a configuration older than the pair's.

The boot apply (lbwizard-apply.service, ordered before keepalived and HAProxy) asks the peer for its state
once the network is up. A peer ahead of this unit, while this unit has nothing the peer lacks, gives it
its shared part; the boot then applies that (a new history version, the daemons' files rendered) before
keepalived starts. Both ahead (each changed while the other was away) is a diverged pair: nothing is
merged, this unit boots what it has, and the boot says which command settles it. A peer that cannot be
asked (powered off too, say) leaves this unit as it was; the peer's sync timer brings it level later.
"""

from __future__ import annotations

from collections.abc import Callable

from ..config import certstore
from ..config.model import ApplianceConfig
from ..config.paths import Paths
from . import shared, sync, view


def from_peer(paths: Paths, config: ApplianceConfig, echo: Callable[[str], None]) -> tuple[ApplianceConfig | None, str]:
    """(config with the peer's newer shared part, what happened) or (None, why this unit stays as it is)."""
    if not shared.paired(config):
        return None, ""
    assert config.ha is not None
    own = shared.version(config)
    state, why = view.ask_peer(paths, config, certificates=True)
    if state is None:
        return None, f"the peer {config.ha.peer} could not be asked ({why}); booting shared version {own} as saved"
    theirs, peer_config = state.get("shared_version"), view.config_of(state)
    if not isinstance(theirs, int) or peer_config is None:
        return None, f"the peer {config.ha.peer} sent a state this unit cannot read; booting as saved"
    if not shared.differs(config, peer_config):
        return None, f"level with the peer {config.ha.peer} (shared version {own})"
    common = sync.acknowledged(paths) or 0  # the last shared version both units had
    ours_new, theirs_new = own > common, theirs > common
    if theirs_new and not ours_new:
        echo(f"the peer {config.ha.peer} is at shared version {theirs}, this unit at {own}: take the peer's")
        try:
            _store(paths, sync.contents_of(state))
        except (sync.Refused, OSError) as exc:
            return None, f"the peer {config.ha.peer} sent certificates this unit cannot keep ({exc}); booting as saved"
        return shared.merged(config, peer_config, theirs), f"took shared version {theirs} from the peer {config.ha.peer}"
    if ours_new and not theirs_new:
        peer = config.ha.peer
        return None, f"the peer {peer} is behind (shared version {theirs}, this unit {own}); the sync timer brings it level"
    return None, (
        f"the pair has DIVERGED: both units changed the shared configuration while apart (this unit shared version "
        f"{own}, the peer {config.ha.peer} {theirs}, both from {common}); nothing was merged and this unit boots "
        "what it had saved. On the unit whose configuration is to be kept, run `lbctl pair sync --overwrite-peer`"
    )


def _store(paths: Paths, contents: dict[str, bytes]) -> None:
    """The peer's certificate files into the store before the boot applies what names them: a file named by
    its content is no store's until a saved configuration names it, and the next change lets go of any
    that none does (apply/certificate_steps.py), so a boot that then fails leaves the store it had whole."""
    if contents:
        certstore.make_directory(paths)
    for fingerprint, data in contents.items():
        certstore.write(paths, fingerprint, data)
