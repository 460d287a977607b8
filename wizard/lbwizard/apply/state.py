"""Pictures of everything an apply may touch: to prove a rollback put it all back, and to roll back later.

A picture is plain JSON data: the interfaces, default routes, LBW firewall chains and kernel settings
an apply touches, every file it may write (content and mode; the daemons' files included) and what the
running engines hold (the IPVS table, HAProxy's servers' admin states and weights). `lbwizard apply`
keeps the one taken before it changed anything (/etc/lbwizard/rollback.json), so `lbwizard rollback`
can restore it in another process and prove, with a second picture, that all of it is back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ..config.model import ApplianceConfig
from ..config.paths import Paths
from ..engines.access import Engines
from ..engines.errors import NotAsked
from . import firewall, sysctl
from .config_files import is_lbwizard_script
from .handover import DAEMON_FILES
from .network import default_routes, interface_state, iproute, transparency_route_state

# Files an apply writes outside etc/lbwizard (whose own files are all pictured, history excepted).
SYSTEM_FILES = ("etc/hostname", "etc/resolv.conf", sysctl.SYSCTL_FILE, *DAEMON_FILES)
SETTLE_SECONDS = 10.0


def capture(config: ApplianceConfig, paths: Paths, engines: Engines) -> dict:
    """The live state the config's apply touches, its files and the engines' state."""
    specs = [(spec.chain, spec.table, spec.parent, spec.ipv6) for spec in firewall.chains(config)]
    # the interface steps turn promote_secondaries on (see network.interface_step): picture it too
    promote = [f"net.ipv4.conf.{name}.promote_secondaries" for name in config.interfaces]
    picture = _capture(list(config.interfaces), specs, [*sysctl.wanted(config), *promote])
    return picture | {"files": capture_files(paths), "engines": engine_picture(engines)}


def capture_like(picture: dict, paths: Paths, engines: Engines) -> dict:
    """The same items as an earlier picture, as they are now (and any file written since)."""
    specs = [(c["chain"], c["table"], c["parent"], c.get("ipv6", False)) for c in picture["chains"].values()]
    now = _capture(list(picture["interfaces"]), specs, list(picture["sysctls"]))
    if "files" in picture:
        names = {paths.root / name for name in picture["files"]} | set(tracked_files(paths))
        now["files"] = capture_files(paths, sorted(names))
    if "engines" in picture:
        now["engines"] = engine_picture(engines)
    return now


def engine_picture(engines: Engines) -> dict:
    """What the admin decides in the running engines: IPVS's services and destinations (with their
    weights) and HAProxy's servers' admin states and weights; their health is not part of it."""
    try:
        return {"ipvs": engines.ipvs_rules(), "haproxy": engines.haproxy_server_settings()}
    except NotAsked:
        return {}


def _capture(interfaces: list[str], chains: list[tuple[str, str, str, bool]], sysctls: list[str]) -> dict:
    picture: dict = {"interfaces": {}, "chains": {}, "sysctls": {}}
    with iproute() as ipr:
        for name in interfaces:
            found = ipr.link_lookup(ifname=name)
            if found:
                picture["interfaces"][name] = interface_state(ipr, found[0])
        picture["default_routes"] = sorted((list(r) for r in default_routes(ipr)), key=str)
        picture["transparency_route"] = transparency_route_state(ipr)
    for chain, table, parent, ipv6 in chains:
        rules, jumped = firewall.chain_state(table, chain, parent, ipv6)
        # keyed by family and table too: one chain name is used in several tables and in both families
        picture["chains"][firewall.ChainRules(table, chain, parent, [], ipv6).key] = {
            "chain": chain,
            "table": table,
            "parent": parent,
            "ipv6": ipv6,
            "rules": rules,
            "jumped": jumped,
        }
    for name in sysctls:
        picture["sysctls"][name] = sysctl.read(name)
    return picture


def tracked_files(paths: Paths) -> list[Path]:
    """Every file an apply may write: the system's few, the daemons', and etc/lbwizard's (history apart, and
    the admin's own files among the real-server scripts, which no apply or rollback touches)."""
    found = [paths.root / name for name in SYSTEM_FILES]
    if paths.config_dir.is_dir():
        scripts = paths.realservers_dir
        admins = lambda p: scripts in p.parents and not (p.parent == scripts and is_lbwizard_script(p))
        # the certificate store and the ACME account hold private keys: never pictured (apply/certificate_steps.py)
        unpictured = (paths.history_dir, paths.certificate_store, paths.acme_dir)
        pictured = lambda p: p.is_file() and not any(d in p.parents for d in unpictured) and not admins(p)
        found += [p for p in paths.config_dir.rglob("*") if pictured(p)]
    return sorted(set(found) - {paths.rollback_record})


def capture_files(paths: Paths, files: list[Path] | None = None) -> dict[str, dict | None]:
    """Each file an apply may write (relative to root): its text and mode, None where absent."""
    pictured = {}
    for path in tracked_files(paths) if files is None else files:
        exists = path.is_file()
        pictured[str(path.relative_to(paths.root))] = (
            {"text": path.read_text(), "mode": path.stat().st_mode & 0o7777} if exists else None
        )
    return pictured


def settled_comparison(capture: Callable[[], dict], wait: float = SETTLE_SECONDS) -> Callable[[dict, dict], list[str]]:
    """differences(), asked again for a few seconds while they last: a reloaded keepalived or HAProxy
    takes its file a moment after systemctl returns, and the engines are part of the picture."""

    def compare(before: dict, after: dict) -> list[str]:
        deadline = time.monotonic() + wait
        lines = differences(before, after)
        while lines and time.monotonic() < deadline:
            time.sleep(0.25)
            lines = differences(before, capture())
        return lines

    return compare


def differences(before: dict, after: dict, prefix: str = "") -> list[str]:
    """What differs between two pictures, one line per item, for the admin."""
    lines = []
    for key in sorted(set(before) | set(after), key=str):
        old, new = before.get(key), after.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            lines += differences(old, new, f"{prefix}{key} ")
        elif old != new:
            lines.append(f"{prefix}{key}: was {_short(old)}, now {_short(new)}")
    return lines


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."
