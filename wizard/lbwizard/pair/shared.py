"""What the two units of a pair share, and what stays each unit's own.

Shared: the virtual services with their real servers, the certificate store they name (its files travel
with each change, over the pair's channel only), the floating addresses and the VRRP settings that must
agree (router id, advert interval, preempt); these are changed on both units as one change. Each
unit's own: its addresses, gateway, DNS, host name, role and peer, its management access. The shared
part carries a version of its own (ha.shared_version), one up per pair change, so a unit can tell a peer
that is behind (a full copy brings it level) from one that has changes it does not know (refused: never
a silent merge).
"""

from __future__ import annotations

import copy
from dataclasses import asdict

from ..config.model import ApplianceConfig

SHARED_HA = ("floating", "vrrp_id", "advert_interval", "preempt")


def paired(config: ApplianceConfig) -> bool:
    """Is this unit one of a pair whose units trust each other (a peer and the pair key)?"""
    return config.ha is not None and bool(config.ha.peer) and bool(config.ha.pair_key)


def version(config: ApplianceConfig) -> int:
    return config.ha.shared_version if config.ha else 0


def part(config: ApplianceConfig) -> dict:
    """The shared part as plain data, for comparing two configs."""
    ha = asdict(config.ha) if config.ha else {}
    return {
        "virtual_services": [asdict(s) for s in config.virtual_services],
        "certificates": [asdict(c) for c in config.certificates],
        "ha": {k: ha.get(k) for k in SHARED_HA},
    }


def differs(a: ApplianceConfig, b: ApplianceConfig) -> bool:
    return part(a) != part(b)


def merged(local: ApplianceConfig, sender: ApplianceConfig, shared_version: int) -> ApplianceConfig:
    """This unit's config with the sender's shared part, at shared_version; the rest stays this unit's."""
    result = copy.deepcopy(local)
    result.virtual_services = copy.deepcopy(sender.virtual_services)
    result.certificates = copy.deepcopy(sender.certificates)
    if result.ha is not None and sender.ha is not None:
        for key in SHARED_HA:
            setattr(result.ha, key, copy.deepcopy(getattr(sender.ha, key)))
        result.ha.shared_version = shared_version
    return result


def stepped(config: ApplianceConfig, base: int) -> ApplianceConfig:
    """config at the next shared version after base."""
    result = copy.deepcopy(config)
    if result.ha is not None:
        result.ha.shared_version = base + 1
    return result
