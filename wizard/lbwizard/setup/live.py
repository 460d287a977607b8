"""What the running machine already has (addresses, gateway, nameserver), for the wizard's defaults.

Read once, when a default is first needed (probed()): an answers file that answers every question never
reads it, and so never imports pyroute2 (a tenth of a second here, half a second under TCG). Reading never
changes anything, so dry runs read the live system too: a person re-running the wizard on a configured unit
sees the values it runs with.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from dataclasses import dataclass, field
from pathlib import Path

WIZARD_INTERFACES = ("eth0", "eth1")


@dataclass(frozen=True)
class LiveSystem:
    """The live values the wizard offers as defaults; empty when there are none (or in tests)."""

    addresses: dict[str, str] = field(default_factory=dict)  # "eth0" -> "10.0.0.21/24"
    gateway: str | None = None
    nameserver: str | None = None

    def answer_defaults(self) -> dict[str, str]:
        """The live values keyed by question id."""
        defaults: dict[str, str] = {}
        for name, cidr in self.addresses.items():
            iface = ipaddress.IPv4Interface(cidr)
            defaults[f"{name}_address"] = str(iface.ip)
            defaults[f"{name}_netmask"] = str(iface.netmask)
        if self.gateway:
            defaults["gateway"] = self.gateway
        if self.nameserver:
            defaults["nameserver"] = self.nameserver
        return defaults


def read_nameserver(resolv_conf: Path) -> str | None:
    """The first IPv4 nameserver of a resolv.conf, if any."""
    try:
        lines = resolv_conf.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                return str(ipaddress.IPv4Address(parts[1]))
            except ValueError:
                continue
    return None


def probe(root: Path = Path("/")) -> LiveSystem:
    """Read eth0/eth1 addresses and the default gateway over netlink, and the nameserver under root."""
    addresses: dict[str, str] = {}
    gateway = None
    try:
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            for name in WIZARD_INTERFACES:
                index = ipr.link_lookup(ifname=name)
                if not index:
                    continue
                for msg in ipr.get_addr(index=index[0], family=socket.AF_INET):
                    addresses[name] = f"{msg.get_attr('IFA_ADDRESS')}/{msg['prefixlen']}"
                    break
            for route in ipr.get_default_routes(family=socket.AF_INET):
                gateway = route.get_attr("RTA_GATEWAY") or gateway
                if gateway:
                    break
    except Exception:  # no netlink (a container, a test sandbox): no live defaults, never a crash
        pass
    return LiveSystem(addresses=addresses, gateway=gateway, nameserver=read_nameserver(root / "etc/resolv.conf"))


class Probed:
    """The live system of root, read by probe() the first time it is asked (LiveSystem's interface)."""

    def __init__(self, root: Path = Path("/")) -> None:
        self.root = root

    @functools.cached_property
    def _read(self) -> LiveSystem:
        return probe(self.root)

    @property
    def addresses(self) -> dict[str, str]:
        return self._read.addresses

    @property
    def gateway(self) -> str | None:
        return self._read.gateway

    @property
    def nameserver(self) -> str | None:
        return self._read.nameserver

    def answer_defaults(self) -> dict[str, str]:
        return self._read.answer_defaults()
