"""A picture of everything an apply may touch, to prove a rollback really put it all back."""

from __future__ import annotations

from ..model import ApplianceConfig
from . import firewall, sysctl


def capture(config: ApplianceConfig) -> dict[str, object]:
    """Addresses and link state of the configured interfaces, default routes, lbwizard's chains, sysctls."""
    import iptc.easy as easy

    from .network import _ipr, default_routes, ipv4_addresses

    picture: dict[str, object] = {}
    with _ipr() as ipr:
        for name in config.interfaces:
            found = ipr.link_lookup(ifname=name)
            if found:
                link = ipr.get_links(found[0])[0]
                picture[f"link {name}"] = (bool(link["flags"] & 1), sorted(ipv4_addresses(ipr, found[0])))
        picture["default routes"] = sorted(default_routes(ipr), key=str)
    for spec in firewall.chains(config):
        exists = easy.has_chain(spec.table, spec.chain)
        picture[f"chain {spec.table} {spec.chain}"] = easy.dump_chain(spec.table, spec.chain) if exists else None
        picture[f"jump {spec.table} {spec.parent}"] = exists and easy.has_rule(spec.table, spec.parent, {"target": spec.chain})
    for name in sysctl.wanted(config):
        picture[f"sysctl {name}"] = sysctl.read(name)
    return picture


def differences(before: dict[str, object], after: dict[str, object]) -> list[str]:
    """What differs, one line per item, for the admin."""
    return [
        f"{key}: was {before.get(key)!r}, now {after.get(key)!r}"
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]
