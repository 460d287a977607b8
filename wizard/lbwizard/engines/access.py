"""The one door to the running engines and the network, chosen once at start-up: live, or a dry run.

Status, diagnose and the runtime steps ask this object and never decide for themselves whether they
may: LiveEngines asks HAProxy's socket, ipvsadm, netlink and the wire; DryRunEngines asks nothing
and raises NotAsked with what it would have asked, which status and diagnose show as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import arp, clock, counters, haproxy, haproxy_certs, host, ipvs
from .errors import NotAsked


@dataclass(frozen=True)
class LiveEngines:
    """The running engines of the unit (or of the network namespace this process runs in)."""

    haproxy_socket: Path

    def local_addresses(self) -> set[str]:
        return host.local_addresses()

    def links_down(self, names: list[str]) -> list[str]:
        return host.links_down(names)

    def tcp_probe(self, address: str, port: int, source: str | None = None) -> str | None:
        return host.tcp_probe(address, port, source)

    def answering_macs(self, interface: str, address: str, wait: float = 1.0) -> set[str]:
        return arp.answering_macs(interface, address, wait=wait)

    def ipvs_services(self) -> dict[str, ipvs.IpvsService] | None:
        return ipvs.ipvs_services()

    def ipvs_connections(self) -> list[dict[str, str]]:
        return ipvs.ipvs_connections()

    def ipvs_stats(self) -> dict | None:
        return counters.ipvs_stats()

    def ipvsadm(self, *args: str) -> None:
        ipvs.ipvsadm(*args)

    def haproxy_reachable(self) -> bool:
        return self.haproxy_socket.exists()

    def haproxy_stats(self) -> dict[tuple[str, str], dict[str, str]]:
        return haproxy.haproxy_stats(self.haproxy_socket)

    def haproxy_set(self, command: str) -> None:
        haproxy.haproxy_set(self.haproxy_socket, command)

    def ipvs_rules(self) -> list[str] | None:
        return ipvs.ipvs_rules()

    def haproxy_server_settings(self) -> dict[str, dict[str, str]]:
        return haproxy.server_settings(self.haproxy_socket)

    def haproxy_certificates(self) -> dict[str, str]:
        return haproxy_certs.loaded(self.haproxy_socket)

    def haproxy_replace_certificate(self, name: str, pem: str) -> None:
        haproxy_certs.replace(self.haproxy_socket, name, pem)

    def clock_state(self) -> clock.ClockState:
        return clock.clock_state()


class DryRunEngines:
    """A dry run's engines: every question is refused with NotAsked, naming what a live run would ask."""

    def local_addresses(self) -> set[str]:
        raise NotAsked("read this unit's addresses (ip -4 -br addr)")

    def links_down(self, names: list[str]) -> list[str]:
        raise NotAsked(f"read the link state of {', '.join(names)} (ip -br link)")

    def tcp_probe(self, address: str, port: int, source: str | None = None) -> str | None:
        raise NotAsked(f"connect to {address}:{port}" + (f" from {source}" if source else ""))

    def answering_macs(self, interface: str, address: str, wait: float = 1.0) -> set[str]:
        raise NotAsked(f"send an ARP probe for {address} on {interface} (arping -D -I {interface} {address})")

    def ipvs_services(self) -> dict[str, ipvs.IpvsService] | None:
        raise NotAsked("read the kernel's IPVS table (ipvsadm -Ln)")

    def ipvs_connections(self) -> list[dict[str, str]]:
        raise NotAsked("read IPVS's connections (ipvsadm -Lnc)")

    def ipvs_stats(self) -> dict | None:
        raise NotAsked("read IPVS's counters (ipvsadm -Ln --stats)")

    def ipvsadm(self, *args: str) -> None:
        raise NotAsked(f"run ipvsadm {' '.join(args)}")

    def haproxy_reachable(self) -> bool:
        raise NotAsked("look for HAProxy's runtime socket")

    def haproxy_stats(self) -> dict[tuple[str, str], dict[str, str]]:
        raise NotAsked("read HAProxy's server states (show stat on its runtime socket)")

    def haproxy_set(self, command: str) -> None:
        raise NotAsked(f"send {command!r} to HAProxy's runtime socket")

    def ipvs_rules(self) -> list[str] | None:
        raise NotAsked("read the kernel's IPVS table (ipvsadm -Sn)")

    def haproxy_server_settings(self) -> dict[str, dict[str, str]]:
        raise NotAsked("read HAProxy's server settings (show servers state)")

    def haproxy_certificates(self) -> dict[str, str]:
        raise NotAsked("read the certificates HAProxy serves (show ssl cert)")

    def haproxy_replace_certificate(self, name: str, pem: str) -> None:
        raise NotAsked(f"swap the certificate {name} in HAProxy (set ssl cert, commit ssl cert)")

    def clock_state(self) -> clock.ClockState:
        raise NotAsked("ask chrony whether the clock is synchronised (chronyc tracking)")


Engines = LiveEngines | DryRunEngines


def for_run(haproxy_socket: Path, live: bool) -> Engines:
    """The start-up choice: a live run talks to the engines, a dry run to nobody."""
    return LiveEngines(haproxy_socket) if live else DryRunEngines()
