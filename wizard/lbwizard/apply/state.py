"""Pictures of everything an apply may touch: to prove a rollback put it all back, and to roll back later.

A picture is plain JSON data, so `lbwizard apply` can keep the one taken before it changed anything
(/etc/lbwizard/rollback.json) and `lbwizard rollback` can restore it in another process.
"""

from __future__ import annotations

from pathlib import Path

from ..config.model import ApplianceConfig
from ..config.paths import Paths
from . import firewall, sysctl

# Files an apply writes outside etc/lbwizard (whose own files are all pictured, history excepted).
SYSTEM_FILES = ("etc/hostname", "etc/resolv.conf", sysctl.SYSCTL_FILE)


def capture(config: ApplianceConfig) -> dict:
    """The live state the config's apply touches: its interfaces, default routes, LBW chains, sysctls."""
    specs = [(spec.chain, spec.table, spec.parent) for spec in firewall.chains(config)]
    # the interface steps turn promote_secondaries on (see network.interface_step): picture it too
    promote = [f"net.ipv4.conf.{name}.promote_secondaries" for name in config.interfaces]
    return _capture(list(config.interfaces), specs, [*sysctl.wanted(config), *promote])


def capture_like(picture: dict) -> dict:
    """The same items as an earlier picture, as they are now."""
    specs = [(chain["chain"], chain["table"], chain["parent"]) for chain in picture["chains"].values()]
    return _capture(list(picture["interfaces"]), specs, list(picture["sysctls"]))


def _capture(interfaces: list[str], chains: list[tuple[str, str, str]], sysctls: list[str]) -> dict:
    from .network import default_routes, interface_state, iproute, transparency_route_state

    picture: dict = {"interfaces": {}, "chains": {}, "sysctls": {}}
    with iproute() as ipr:
        for name in interfaces:
            found = ipr.link_lookup(ifname=name)
            if found:
                picture["interfaces"][name] = interface_state(ipr, found[0])
        picture["default_routes"] = sorted((list(r) for r in default_routes(ipr)), key=str)
        picture["transparency_route"] = transparency_route_state(ipr)
    for chain, table, parent in chains:
        rules, jumped = firewall.chain_state(table, chain, parent)
        # keyed by table too: one chain name may be used in two tables
        picture["chains"][f"{table} {chain}"] = {
            "chain": chain,
            "table": table,
            "parent": parent,
            "rules": rules,
            "jumped": jumped,
        }
    for name in sysctls:
        picture["sysctls"][name] = sysctl.read(name)
    return picture


def tracked_files(paths: Paths) -> list[Path]:
    found = [paths.root / name for name in SYSTEM_FILES]
    if paths.config_dir.is_dir():
        found += [p for p in paths.config_dir.rglob("*") if p.is_file() and paths.history_dir not in p.parents]
    return sorted(set(found) - {paths.rollback_record})


def capture_files(paths: Paths) -> dict[str, str | None]:
    """Each file an apply may write (relative to root) and its content, None where absent."""
    return {str(p.relative_to(paths.root)): (p.read_text() if p.exists() else None) for p in tracked_files(paths)}


def differences(before: dict, after: dict, prefix: str = "") -> list[str]:
    """What differs between two pictures, one line per item, for the admin."""
    lines = []
    for key in sorted(set(before) | set(after), key=str):
        old, new = before.get(key), after.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            lines += differences(old, new, f"{prefix}{key} ")
        elif old != new:
            lines.append(f"{prefix}{key}: was {old!r}, now {new!r}")
    return lines
