"""Links, addresses and the default routes, made live with pyroute2 in the current network namespace.

Only the interfaces the config names are touched. On each, the wizard owns the addresses the config
gives it (IPv4, and IPv6 on a dual-stack unit) and those the previous config gave it (which it replaces);
any other address an admin added stays. IPv6 addresses are added without duplicate address detection
(nodad), so HAProxy and keepalived can use them at once; the kernel's own link-local addresses are never
lbwizard's. Each step remembers what it found and undo puts exactly that back.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from ipaddress import IPv6Address, ip_address, ip_interface
from pathlib import Path
from typing import TYPE_CHECKING

from ..config.model import TRANSPARENT_MARK, ApplianceConfig, extra_vips, host_route, nat_addresses, uses_transparency
from .step import Step

if TYPE_CHECKING:
    from pyroute2 import IPRoute

IFF_UP = 0x1
IFA_F_NODAD = 0x02
RT_SCOPE_UNIVERSE = 0
MAIN_TABLE = 254
PROC_CONF = Path("/proc/sys/net/ipv4/conf")


@contextmanager
def iproute() -> Iterator[IPRoute]:
    # imported here: a dry run never opens netlink, and pyroute2 takes a tenth of its whole time to import
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        yield ipr


def link_index(ipr: IPRoute, name: str) -> int:
    found = ipr.link_lookup(ifname=name)
    if not found:
        raise RuntimeError(f"interface {name} does not exist on this machine")
    return found[0]


def ipv4_addresses(ipr: IPRoute, index: int) -> list[str]:
    """The interface's IPv4 addresses as CIDR strings."""
    return [f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}" for a in ipr.get_addr(index=index, family=socket.AF_INET)]


def ipv6_addresses(ipr: IPRoute, index: int) -> list[str]:
    """The interface's global IPv6 addresses as CIDR strings (not its link-local one, which is the kernel's)."""
    return [
        f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}"
        for a in ipr.get_addr(index=index, family=socket.AF_INET6)
        if a["scope"] == RT_SCOPE_UNIVERSE
    ]


def managed_addresses(ipr: IPRoute, index: int) -> list[str]:
    """The interface's addresses lbwizard may own: IPv4, and global IPv6."""
    return ipv4_addresses(ipr, index) + ipv6_addresses(ipr, index)


def interface_state(ipr: IPRoute, index: int) -> dict:
    """What an interface looks like to lbwizard: up or down, and its IPv4 and global IPv6 addresses (sorted)."""
    return {"up": bool(ipr.get_links(index)[0]["flags"] & IFF_UP), "addresses": sorted(managed_addresses(ipr, index))}


def interface_step(name: str, wanted: list[str], previously_owned: list[str]) -> Step:
    """Bring name up with the wanted addresses (the first is its own), dropping those an earlier config gave it."""
    saved: dict[str, object] = {}

    promote = PROC_CONF / name / "promote_secondaries"

    def do() -> None:
        with iproute() as ipr:
            index = link_index(ipr, name)
            saved.update(interface_state(ipr, index))
            # Deleting a subnet's primary address deletes its secondaries too, unless they are promoted:
            # an admin's extra address (or a keepalived VIP) must survive the wizard's own change.
            saved["promote"] = promote.read_text()
            promote.write_text("1")
            for cidr in wanted:
                if cidr not in saved["addresses"]:
                    _add_addr(ipr, index, cidr)
            for cidr in previously_owned:
                if cidr not in wanted and cidr in saved["addresses"]:
                    _del_addr(ipr, index, cidr)
            ipr.link("set", index=index, state="up")

    def undo() -> None:
        if "addresses" not in saved:
            return
        restore_interface(name, bool(saved["up"]), list(saved["addresses"]))  # type: ignore[call-overload]
        if "promote" in saved:
            promote.write_text(str(saved["promote"]))

    return Step(f"set {name} to {', '.join(wanted)} and bring it up", do, undo)


def restore_interface(name: str, up: bool, addresses: list[str]) -> None:
    """Make the interface hold exactly these addresses (IPv4 and global IPv6), up or down. A default route the kernel drops
    on the way (its gateway unreachable for the moment between the old address going and the new one
    coming: an undo after a change of the interface's address) is put back where its gateway is still
    reachable; a rollback's own route step sets the routes it wants after this."""
    from pyroute2 import NetlinkError  # here, as in iproute(): a dry run never imports pyroute2

    with iproute() as ipr:
        index = link_index(ipr, name)
        routes = default_routes(ipr)
        now = managed_addresses(ipr, index)
        for cidr in now:
            if cidr not in addresses:
                _del_addr(ipr, index, cidr)
        for cidr in addresses:
            if cidr not in now:
                _add_addr(ipr, index, cidr)
        for via, oif in [route for route in routes if route not in default_routes(ipr)]:
            with suppress(NetlinkError):  # its gateway is on none of the addresses now
                _add_default(ipr, via, oif)
        ipr.link("set", index=index, state="up" if up else "down")


def _add_addr(ipr: IPRoute, index: int, cidr: str) -> None:
    iface = ip_interface(cidr)
    flags = {"flags": IFA_F_NODAD} if iface.version == 6 else {}  # usable at once: no tentative state
    ipr.addr("add", index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen, **flags)


def _del_addr(ipr: IPRoute, index: int, cidr: str) -> None:
    iface = ip_interface(cidr)
    ipr.addr("del", index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen)


def default_routes(ipr: IPRoute) -> list[tuple[str | None, int | None]]:
    """(gateway, output interface index) of each default route in the main table (only: the TPROXY table has a
    default route of its own), IPv4 then IPv6 (an IPv6 gateway has a colon; one without a gateway is IPv4's)."""
    return [
        (r.get_attr("RTA_GATEWAY"), r.get_attr("RTA_OIF"))
        for family in (socket.AF_INET, socket.AF_INET6)
        for r in ipr.get_default_routes(family=family)
        if r.get_attr("RTA_TABLE") == MAIN_TABLE and (family == socket.AF_INET or r.get_attr("RTA_GATEWAY"))
    ]


def _is6(via: str | None) -> bool:
    return via is not None and ":" in via


def _default(via: str | None) -> dict:
    return {"dst": "::/0", "family": socket.AF_INET6} if _is6(via) else {"dst": "0.0.0.0/0"}


def _add_default(ipr: IPRoute, via: str | None, oif: int | None) -> None:
    ipr.route("add", gateway=via, oif=oif, **_default(via))


def default_route_step(gateway: str, oif_name: str | None = None) -> Step:
    """Make gateway the only default route of its family (through interface oif_name: an IPv6 link-local
    gateway is reached on the external interface); undo restores the routes found."""
    saved: dict[str, list] = {}
    six = ":" in gateway

    def do() -> None:
        with iproute() as ipr:
            saved["routes"] = default_routes(ipr)
            if six:  # the kernel keeps several IPv6 default routes side by side: this one alone
                for via, oif in saved["routes"]:
                    if _is6(via):
                        ipr.route("del", gateway=via, oif=oif, **_default(via))
                oif = {"oif": link_index(ipr, oif_name)} if oif_name else {}
                ipr.route("add", gateway=gateway, **_default(gateway), **oif)
            else:
                ipr.route("replace", dst="0.0.0.0/0", gateway=gateway)

    def undo() -> None:
        if "routes" in saved:
            restore_default_routes(saved["routes"])

    return Step(f"set the {'IPv6 ' if six else ''}default gateway to {gateway}", do, undo)


def restore_default_routes(routes: list) -> None:
    """Make these (gateway, interface index) pairs the only default routes (IPv4 and IPv6)."""
    with iproute() as ipr:
        for via, oif in default_routes(ipr):
            ipr.route("del", gateway=via, oif=oif, **_default(via))
        for via, oif in routes:
            _add_default(ipr, via, oif)


def hostname_step(hostname: str) -> Step:
    """The live host name (only for the real root: a namespace shares the host's)."""
    saved: dict[str, str] = {}

    def do() -> None:
        saved["old"] = socket.gethostname()
        socket.sethostname(hostname)

    def undo() -> None:
        if "old" in saved:
            socket.sethostname(saved["old"])

    return Step(f"set the host name to {hostname}", do, undo)


# Transparent layer-7 services (TPROXY): packets marked by the firewall as replies to HAProxy's
# transparent sockets are delivered locally through this routing table, whatever their destination.
TRANSPARENT_TABLE = 7000
TRANSPARENT_RULE_PRIORITY = 7000  # before the main table (32766)


def transparency_route_state(ipr: IPRoute) -> list[bool]:
    """[rule present, local route present]: the TPROXY policy route as it is now."""
    rule = any(
        r.get_attr("FRA_FWMARK") == TRANSPARENT_MARK
        and r.get_attr("FRA_FWMASK") == TRANSPARENT_MARK
        and r.get_attr("FRA_TABLE") == TRANSPARENT_TABLE
        for r in ipr.get_rules(family=socket.AF_INET)
    )
    route = bool(ipr.get_routes(family=socket.AF_INET, table=TRANSPARENT_TABLE, dst_len=0))
    return [rule, route]


def restore_transparency_route(rule: bool, route: bool) -> None:
    """Make the TPROXY rule and local route present or absent, as given."""
    with iproute() as ipr:
        now_rule, now_route = transparency_route_state(ipr)
        spec = {"fwmark": TRANSPARENT_MARK, "fwmask": TRANSPARENT_MARK, "table": TRANSPARENT_TABLE}
        if rule and not now_rule:
            ipr.rule("add", priority=TRANSPARENT_RULE_PRIORITY, **spec)
        elif now_rule and not rule:
            ipr.rule("del", priority=TRANSPARENT_RULE_PRIORITY, **spec)
        local = {"dst": "0.0.0.0/0", "type": "local", "scope": "host", "table": TRANSPARENT_TABLE, "oif": link_index(ipr, "lo")}
        if route and not now_route:
            ipr.route("add", **local)
        elif now_route and not route:
            ipr.route("del", **local)


def transparency_route_step(wanted: list[bool], description: str) -> Step:
    """The TPROXY rule and local route present or absent as wanted ([rule, route], as
    transparency_route_state gives them); undo puts back what was found."""
    saved: dict[str, list[bool]] = {}

    def do() -> None:
        with iproute() as ipr:
            saved["found"] = transparency_route_state(ipr)
        restore_transparency_route(*wanted)

    def undo() -> None:
        if "found" in saved:
            restore_transparency_route(*saved["found"])

    return Step(description, do, undo)


def _gateway6_interface(config: ApplianceConfig) -> str | None:
    """Where a link-local IPv6 gateway is: on the external interface (a global one is found by its subnet)."""
    gateway = ip_address(config.gateway6 or "::")
    external = config.external_interface()
    return external[0] if isinstance(gateway, IPv6Address) and gateway.is_link_local and external else None


def no_default_route6_step(gateway: str) -> Step:
    """The IPv6 default route an earlier config set, removed (this config has no IPv6 gateway); undo restores."""
    saved: dict[str, list] = {}

    def do() -> None:
        with iproute() as ipr:
            saved["routes"] = default_routes(ipr)
            for via, oif in saved["routes"]:
                if via == gateway:
                    ipr.route("del", gateway=via, oif=oif, **_default(via))

    def undo() -> None:
        if "routes" in saved:
            restore_default_routes(saved["routes"])

    return Step(f"remove the IPv6 default gateway {gateway}", do, undo)


def owned_addresses(config: ApplianceConfig, name: str) -> list[str]:
    """The addresses the config puts on an interface: its own, then (external) the servers' NAT addresses,
    then (single unit) the VIPs on its subnet that are not its own address. In a pair keepalived holds
    both on the master only, with the external floating address: they move with it."""
    iface = config.interfaces.get(name)
    if iface is None:
        return []
    addresses = [iface.address] + ([iface.address6] if iface.address6 else [])
    if config.ha is not None:
        return addresses
    if iface.role == "external":
        addresses += [f"{address}/32" for address in nat_addresses(config).values()]
    addresses += [host_route(vip) for vip in extra_vips(config, iface) if host_route(vip) not in addresses]
    return addresses


def plan(config: ApplianceConfig, previous: ApplianceConfig | None) -> list[Step]:
    """The live network steps: every configured interface, then the default route."""
    steps = []
    for name in config.interfaces:
        owned = owned_addresses(previous, name) if previous else []
        steps.append(interface_step(name, owned_addresses(config, name), owned))
    if config.gateway:
        steps.append(default_route_step(config.gateway))
    if config.gateway6:
        steps.append(default_route_step(config.gateway6, _gateway6_interface(config)))
    elif previous is not None and previous.gateway6:
        steps.append(no_default_route6_step(previous.gateway6))
    if uses_transparency(config):
        description = f"deliver replies to transparent HAProxy connections locally (table {TRANSPARENT_TABLE})"
        steps.append(transparency_route_step([True, True], description))
    elif previous is not None and uses_transparency(previous):
        steps.append(transparency_route_step([False, False], "remove the route of transparent HAProxy connections"))
    return steps
