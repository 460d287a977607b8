"""What each virtual service and real server is doing right now, next to what the admin asked for.

The reference's "take a real server offline or online" table: requested state beside actual state,
weight and connections, from the kernel's IPVS table (layer 4) and HAProxy's stats (layer 7); and
whether the VIP is on this unit, which in an HA pair says which unit is master.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..config.addressing import endpoint_text
from ..config.model import ApplianceConfig, RealServer, VirtualService, ipvs_marks
from ..render.rolevars import keepalived_virtual_servers
from .access import Engines
from .errors import NotAsked
from .haproxy import backend_name
from .ipvs import ipvs_key


@dataclass
class ServerStatus:
    name: str
    endpoint: str
    requested: str  # online | drain | offline (the config)
    actual: str  # up | down | draining | offline | missing | unknown
    weight: int | None = None
    active: int | None = None
    inactive: int | None = None
    check: str = ""  # the engine's last health check result, where it says

    @classmethod
    def of(cls, server: RealServer, actual: str, weight=None, active=None, inactive=None, check: str = "") -> ServerStatus:
        endpoint = endpoint_text(server.address, server.port)
        return cls(server.name, endpoint, server.state, actual, weight, active, inactive, check)


@dataclass
class ServiceStatus:
    name: str
    endpoint: str
    layer: int
    forwarding: str
    scheduler: str
    vip_here: bool | None  # None: not asked (a dry run)
    unit: str  # single | master | backup | unknown
    engine: str  # what the engine says of the service as a whole
    servers: list[ServerStatus] = field(default_factory=list)


def _unit(config: ApplianceConfig, addresses: set[str] | None) -> str:
    if config.ha is None:
        return "single"
    if addresses is None:
        return "unknown"
    floating = config.ha.floating.external
    return "master" if floating and floating in addresses else "backup"


def not_in_ipvs_because(service: VirtualService) -> str | None:
    """Why keepalived leaves this layer-4 service out of IPVS; None when it loads it (or it is layer 7).

    keepalived 2.2.7 ignores a virtual server with no real server ("has no real servers - ignoring"), and
    an offline server is not in its file: a service with no server in service is not in the kernel's
    table, and clients of its VIP and port get no answer from it until a server is online.
    """
    if service.layer != 4 or any(server.state != "offline" for server in service.real_servers):
        return None
    if not service.real_servers:
        return "it has no real server yet (keepalived loads a virtual server only with one: lbctl rs add)"
    return "every real server is offline (keepalived loads a virtual server only with one in service: lbctl rs online)"


def _layer4(
    entries: list[dict], service: VirtualService, mark: int | None, table, not_asked: str = ""
) -> tuple[str, list[ServerStatus]]:
    """entries: rolevars.keepalived_virtual_servers of the whole config (one IPVS service each); mark:
    the service's IPVS firewall mark (model.ipvs_marks), if it has one.

    table None: no IPVS here, or (with not_asked, a dry run) nobody asked it.
    """
    if mark:
        entries = [e for e in entries if e["fwmark"] == mark]
    else:
        entries = [e for e in entries if e["address"] == service.address and e["port"] == service.port]
    kernel = table.get(ipvs_key(entries[0])) if table is not None and entries else None
    left_out = not_in_ipvs_because(service)
    if table is None:
        engine = f"IPVS: not asked (dry run): would {not_asked}" if not_asked else "IPVS: not available here"
    elif left_out:
        engine = f"IPVS: not loaded: {left_out}" if kernel is None else f"IPVS: loaded until keepalived's reload: {left_out}"
    else:
        engine = "IPVS: no such service" if kernel is None else "IPVS: loaded"
    destinations = {(d.address, d.port): d for d in kernel.destinations} if kernel else {}
    servers = []
    for server in service.real_servers:
        found = destinations.get((server.address, 0 if mark else server.port))  # 0: a marked service's destination
        if table is None:
            actual = "unknown"
        elif found is None:
            actual = "offline" if server.state == "offline" else "missing"
        elif found.weight == 0:
            actual = "draining" if server.state == "drain" else "down"
        else:
            actual = "up"
        check = "health check failing (weight 0)" if actual == "down" else ""
        if found is None:
            servers.append(ServerStatus.of(server, actual, check=check))
        else:
            servers.append(ServerStatus.of(server, actual, found.weight, found.active, found.inactive, check))
    return engine, servers


HAPROXY_ACTUAL = {"UP": "up", "DOWN": "down", "MAINT": "offline", "DRAIN": "draining", "NOLB": "draining", "no check": "up"}


def _layer7(service: VirtualService, stats, not_asked: str = "") -> tuple[str, list[ServerStatus]]:
    backend = backend_name(service.name)
    whole = stats.get((backend, "BACKEND"))
    if whole:
        engine = f"HAProxy: {whole['status']}"
    else:
        engine = f"HAProxy: not asked (dry run): would {not_asked}" if not_asked else "HAProxy: not running or not reachable"
    servers = []
    for server in service.real_servers:
        row = stats.get((backend, server.name), {})
        status = row.get("status", "")
        actual = HAPROXY_ACTUAL.get(status.split()[0] if status else "", status.lower()) if row else "unknown"
        if actual == "up" and server.state == "drain" and row.get("weight") == "0":
            actual = "draining"
        check = " ".join(x for x in (row.get("check_status", ""), row.get("last_chk", "")) if x)
        weight = int(row["weight"]) if row.get("weight", "").isdigit() else None
        active = int(row["scur"]) if row.get("scur", "").isdigit() else None
        servers.append(ServerStatus.of(server, actual, weight, active, check=check))
    return engine, servers


def _ask(question, empty):
    """The engines' answer, or (empty, what would have been asked) in a dry run."""
    try:
        return question(), ""
    except NotAsked as exc:
        return empty, exc.what


def collect(config: ApplianceConfig, engines: Engines) -> list[ServiceStatus]:
    addresses, _ = _ask(engines.local_addresses, None)
    unit = _unit(config, addresses)
    layers = {s.layer for s in config.virtual_services}
    table, ipvs_not_asked = _ask(engines.ipvs_services, None) if 4 in layers else (None, "")
    stats, haproxy_not_asked = _ask(engines.haproxy_stats, {}) if 7 in layers else ({}, "")
    entries = keepalived_virtual_servers(config)
    marks = ipvs_marks(config)
    result = []
    for service in config.virtual_services:
        if service.layer == 4:
            engine, servers = _layer4(entries, service, marks.get(service.name), table, ipvs_not_asked)
        else:
            engine, servers = _layer7(service, stats, haproxy_not_asked)
        endpoint = (
            f"fwmark {service.fwmark} ({endpoint_text(service.address, service.port)})"
            if service.fwmark
            else endpoint_text(service.address, service.port)
        )
        result.append(
            ServiceStatus(
                service.name,
                endpoint,
                service.layer,
                service.forwarding,
                service.scheduler,
                None if addresses is None else service.address in addresses,
                unit,
                engine,
                servers,
            )
        )
    return result


def as_json(statuses: list[ServiceStatus]) -> list[dict]:
    return [asdict(s) for s in statuses]


def as_text(statuses: list[ServiceStatus], config: ApplianceConfig) -> str:
    """The reference's maintenance table, one block per virtual service."""
    lines = []
    if config.ha is not None:
        unit = statuses[0].unit if statuses else "unknown"
        peer = config.ha.peer
        lines.append(f"HA pair: this unit is {unit.upper()} (peer {peer}); floating {config.ha.floating.external}")
    for status in statuses:
        vip = {True: "VIP up on this unit", False: "VIP NOT on this unit", None: "VIP not looked for (dry run)"}[status.vip_here]
        lines.append(
            f"{status.name}  {status.endpoint}  layer {status.layer} {status.forwarding.upper()} {status.scheduler}  "
            f"{vip}  [{status.engine}]"
        )
        lines.append(
            f"  {'server':<12} {'address:port':<22} {'requested':<10} {'actual':<9} "
            f"{'weight':>6} {'active':>6} {'inactive':>8}  check"
        )
        for server in status.servers:

            def show(value):
                return "-" if value is None else str(value)

            lines.append(
                f"  {server.name:<12} {server.endpoint:<22} {server.requested:<10} {server.actual:<9} "
                f"{show(server.weight):>6} {show(server.active):>6} {show(server.inactive):>8}  {server.check}"
            )
    return "\n".join(lines)
