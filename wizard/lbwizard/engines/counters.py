"""The engines' own counters, per virtual service and per real server, for the console's charts (the API's
sampler reads them every few seconds): connections open now, connections and requests since the engine
started, and bytes both ways. HAProxy's `show stat` for layer 7, the kernel's IPVS table (`ipvsadm -Ln
--stats --exact`, and -Ln for the connections open now) for layer 4. A counter an engine does not keep
(requests at layer 4, or of a TCP-mode HAProxy service) is None.

Series are keyed "SERVICE" and "SERVICE/SERVER" by the configuration's names.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from ..config.model import ApplianceConfig, ipvs_marks
from ..render.rolevars import keepalived_virtual_servers
from .haproxy import backend_name
from .ipvs import IpvsService, ipvs_key


@dataclass(frozen=True)
class Counters:
    current: int | None  # connections open now
    connections: int | None  # connections since the engine's counters started
    requests: int | None  # HTTP requests since then (layer 7 in HTTP mode)
    bytes: int | None  # in + out since then


@dataclass(frozen=True)
class IpvsStats:
    connections: int
    bytes: int


def _number(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _sum(*values: int | None) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _haproxy_row(row: dict[str, str]) -> Counters:
    return Counters(
        _number(row.get("scur")),
        _number(row.get("stot")),
        _number(row.get("req_tot")),
        _sum(_number(row.get("bin")), _number(row.get("bout"))),
    )


def from_haproxy(config: ApplianceConfig, stats: dict[tuple[str, str], dict[str, str]]) -> dict[str, Counters]:
    """The layer-7 services' series from `show stat` (engines/haproxy.haproxy_stats)."""
    found: dict[str, Counters] = {}
    for service in (s for s in config.virtual_services if s.layer == 7):
        backend = backend_name(service.name)
        if (whole := stats.get((backend, "BACKEND"))) is not None:
            found[service.name] = _haproxy_row(whole)
        for server in service.real_servers:
            if (row := stats.get((backend, server.name))) is not None:
                found[f"{service.name}/{server.name}"] = _haproxy_row(row)
    return found


def parse_ipvs_stats(text: str) -> dict[str, tuple[IpvsStats, dict[tuple[str, int], IpvsStats]]]:
    """`ipvsadm -Ln --stats --exact`: each service (keyed as ipvs.parse_ipvsadm keys it) and its destinations."""
    services: dict[str, tuple[IpvsStats, dict[tuple[str, int], IpvsStats]]] = {}
    current: dict[tuple[str, int], IpvsStats] | None = None
    for line in text.splitlines():
        words = line.split()
        numbers = [_number(w) for w in words[-5:]] if len(words) >= 6 else []
        if len(numbers) != 5 or None in numbers:
            continue
        conns, _in_packets, _out_packets, in_bytes, out_bytes = numbers
        stats = IpvsStats(conns, in_bytes + out_bytes)  # type: ignore[operator]
        if words[0] in ("TCP", "UDP", "FWM", "SCTP"):
            current = {}
            services[f"{words[0]} {words[1]}"] = (stats, current)
        elif words[0] == "->" and current is not None:
            address, _, port = words[1].rpartition(":")
            current[(address.strip("[]"), int(port))] = stats
    return services


def ipvs_stats() -> dict[str, tuple[IpvsStats, dict[tuple[str, int], IpvsStats]]] | None:
    """The kernel's IPVS counters, or None where there is no ipvsadm or no IPVS."""
    if not shutil.which("ipvsadm"):
        return None
    result = subprocess.run(["ipvsadm", "-Ln", "--stats", "--exact"], capture_output=True, text=True, check=False)
    return parse_ipvs_stats(result.stdout) if result.returncode == 0 else None


def from_ipvs(
    config: ApplianceConfig,
    table: dict[str, IpvsService],
    stats: dict[str, tuple[IpvsStats, dict[tuple[str, int], IpvsStats]]],
) -> dict[str, Counters]:
    """The layer-4 services' series: connections open now from the table (-Ln), the rest from --stats."""
    found: dict[str, Counters] = {}
    entries = keepalived_virtual_servers(config)
    marks = ipvs_marks(config)
    for service in (s for s in config.virtual_services if s.layer == 4):
        mark = marks.get(service.name)
        where = (service.address, service.port)
        mine = [e for e in entries if (e["fwmark"] == mark if mark else (e["address"], e["port"]) == where)]
        if not mine:
            continue
        key = ipvs_key(mine[0])
        kernel, counted = table.get(key), stats.get(key)
        if kernel is None or counted is None:
            continue
        whole, per_server = counted
        open_now = {(d.address, d.port): d.active + d.inactive for d in kernel.destinations}
        found[service.name] = Counters(sum(open_now.values()), whole.connections, None, whole.bytes)
        for server in service.real_servers:
            where = (server.address, 0 if mark else server.port)
            if (one := per_server.get(where)) is not None:
                found[f"{service.name}/{server.name}"] = Counters(open_now.get(where), one.connections, None, one.bytes)
    return found
