"""What each virtual service and real server is doing right now, next to what the admin asked for.

The reference's "take a real server offline or online" table: requested state beside actual state,
weight and connections, from the kernel's IPVS table (layer 4) and HAProxy's stats (layer 7); and
whether the VIP is on this unit, which in an HA pair says which unit is master.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from . import engines
from .model import ApplianceConfig, RealServer, VirtualService
from .paths import Paths
from .rolevars import keepalived_virtual_servers


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
        return cls(server.name, f"{server.address}:{server.port}", server.state, actual, weight, active, inactive, check)


@dataclass
class ServiceStatus:
    name: str
    endpoint: str
    layer: int
    forwarding: str
    scheduler: str
    vip_here: bool
    unit: str  # single | master | backup
    engine: str  # what the engine says of the service as a whole
    servers: list[ServerStatus] = field(default_factory=list)


def local_addresses() -> set[str]:
    """IPv4 addresses on this unit's interfaces (in the current network namespace)."""
    from .apply.network import iproute

    with iproute() as ipr:
        return {msg.get_attr("IFA_ADDRESS") for msg in ipr.get_addr(family=2)}


def _unit(config: ApplianceConfig, addresses: set[str]) -> str:
    if config.ha is None:
        return "single"
    floating = config.ha.floating.external
    return "master" if floating and floating in addresses else "backup"


def _layer4(entries: list[dict], service: VirtualService, table) -> tuple[str, list[ServerStatus]]:
    """entries: rolevars.keepalived_virtual_servers of the whole config (one IPVS service each)."""
    if service.fwmark:
        entries = [e for e in entries if e["fwmark"] == service.fwmark]
    else:
        entries = [e for e in entries if e["address"] == service.address and e["port"] == service.port]
    kernel = table.get(engines.ipvs_key(entries[0])) if table is not None and entries else None
    engine = "IPVS: not available here" if table is None else ("IPVS: no such service" if kernel is None else "IPVS: loaded")
    destinations = {(d.address, d.port): d for d in kernel.destinations} if kernel else {}
    # the port IPVS knows the server by: 0 in a port-following fwmark service
    ports = {(s["address"], s["check_port"]): s["port"] for s in (entries[0]["real_servers"] if entries else [])}
    servers = []
    for server in service.real_servers:
        found = destinations.get((server.address, ports.get((server.address, server.port), server.port)))
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


def _layer7(service: VirtualService, stats) -> tuple[str, list[ServerStatus]]:
    backend = engines.backend_name(service.name)
    whole = stats.get((backend, "BACKEND"))
    engine = f"HAProxy: {whole['status']}" if whole else "HAProxy: not running or not reachable"
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


def collect(config: ApplianceConfig, paths: Paths) -> list[ServiceStatus]:
    addresses = local_addresses()
    unit = _unit(config, addresses)
    table = engines.ipvs_services() if any(s.layer == 4 for s in config.virtual_services) else None
    stats = engines.haproxy_stats(paths.haproxy_socket) if any(s.layer == 7 for s in config.virtual_services) else {}
    entries = keepalived_virtual_servers(config)
    result = []
    for service in config.virtual_services:
        engine, servers = _layer4(entries, service, table) if service.layer == 4 else _layer7(service, stats)
        endpoint = (
            f"fwmark {service.fwmark} ({service.address}:{service.port})"
            if service.fwmark
            else f"{service.address}:{service.port}"
        )
        result.append(
            ServiceStatus(
                service.name,
                endpoint,
                service.layer,
                service.forwarding,
                service.scheduler,
                service.address in addresses,
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
        vip = "VIP up on this unit" if status.vip_here else "VIP NOT on this unit"
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
