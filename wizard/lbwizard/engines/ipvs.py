"""The kernel's IPVS table through ipvsadm: read services, destinations and connections; edit a destination.

A reader returns None or nothing where there is no ipvsadm or no IPVS (the host of the tests).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from ..config.addressing import endpoint_text
from .errors import EngineError


@dataclass
class IpvsDestination:
    address: str
    port: int
    forward: str  # Masq, Route, Tunnel
    weight: int
    active: int
    inactive: int


@dataclass
class IpvsService:
    key: str  # "TCP 10.0.0.21:80", "TCP [2001:db8::100]:80" or "FWM 1"
    scheduler: str
    destinations: list[IpvsDestination]


def parse_ipvsadm(text: str) -> dict[str, IpvsService]:
    """`ipvsadm -Ln` output as services keyed like "TCP 10.0.0.21:80" / "FWM 1"."""
    services: dict[str, IpvsService] = {}
    current: IpvsService | None = None
    for line in text.splitlines():
        words = line.split()
        if not words or words[0] in ("IP", "Prot") or line.startswith("  -> RemoteAddress"):
            continue
        if words[0] in ("TCP", "UDP", "FWM", "SCTP"):
            current = IpvsService(f"{words[0]} {words[1]}", words[2] if len(words) > 2 else "", [])
            services[current.key] = current
        elif words[0] == "->" and current is not None and len(words) >= 6:
            address, _, port = words[1].rpartition(":")
            current.destinations.append(  # an IPv6 destination is [2001:db8::50]:80: the address without brackets
                IpvsDestination(address.strip("[]"), int(port), words[2], int(words[3]), int(words[4]), int(words[5]))
            )
    return services


def ipvs_services() -> dict[str, IpvsService] | None:
    """The kernel's IPVS table, or None where there is no ipvsadm or no IPVS (the host of the tests)."""
    if not shutil.which("ipvsadm"):
        return None
    result = subprocess.run(["ipvsadm", "-Ln"], capture_output=True, text=True, check=False)
    return parse_ipvsadm(result.stdout) if result.returncode == 0 else None


def ipvs_connections() -> list[dict[str, str]]:
    """`ipvsadm -Lnc`: each connection's protocol, state, client, VIP and destination."""
    if not shutil.which("ipvsadm"):
        return []
    result = subprocess.run(["ipvsadm", "-Lnc"], capture_output=True, text=True, check=False)
    rows = []
    for line in result.stdout.splitlines():
        words = line.split()
        if len(words) == 6 and words[0] in ("TCP", "UDP"):
            rows.append({"protocol": words[0], "state": words[2], "client": words[3], "vip": words[4], "destination": words[5]})
    return rows


FORWARD_FLAGS = {"NAT": "-m", "DR": "-g", "TUN": "-i"}


def ipvs_key(entry: dict) -> str:
    """The ipvsadm key of one rolevars.keepalived_virtual_servers entry."""
    if entry["fwmark"]:
        return f"FWM {entry['fwmark']}"
    return f"{entry['protocol']} {endpoint_text(entry['address'], entry['port'])}"


def ipvs_service_args(entry: dict) -> list[str]:
    if entry["fwmark"]:
        return ["-f", str(entry["fwmark"])]
    return ["-u" if entry["protocol"] == "UDP" else "-t", endpoint_text(entry["address"], entry["port"])]


def ipvsadm(*args: str) -> None:
    result = subprocess.run(["ipvsadm", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise EngineError(f"ipvsadm {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")


def ipvs_rules() -> list[str] | None:
    """The kernel's IPVS table as `ipvsadm -Sn` rules, sorted (services, destinations, methods, weights);
    None without ipvsadm or IPVS. A rollback's picture compares these."""
    if not shutil.which("ipvsadm"):
        return None
    result = subprocess.run(["ipvsadm", "-Sn"], capture_output=True, text=True, check=False)
    return sorted(result.stdout.splitlines()) if result.returncode == 0 else None
