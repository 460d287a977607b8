"""The dual-stack rules: what IPv6 settings need of each other, and what the engines cannot do across families.

A config is IPv4 only, or dual stack: interfaces keep their IPv4 address and may have an IPv6 one
(interfaces.NAME.address6), with an IPv6 default gateway and, in a pair, IPv6 floating addresses. Virtual
services and real servers are of either family. Each rule here names what this unit lacks for an address
(an IPv6 address on the interface that reaches it, a route), or what an engine cannot do: IPVS forwards a
packet in the family it came in (a layer-4 service and its servers are one family); HAProxy proxies across
families, but a transparent connection keeps the client's address and a VIP as the source stays the VIP's.
Kept apart from verify.py, which calls it, because these rules only speak when an IPv6 address is present.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address, IPv6Interface, ip_address

from .addressing import split_endpoint
from .kinds import host_on_network
from .model import ApplianceConfig, VirtualService, own_address

Found = Iterator[tuple[str, str]]


def family_mix(label: str, vip: IPv4Address | IPv6Address, server: IPv4Address | IPv6Address) -> str:
    """Why a layer-4 service cannot have a server of the other family, and what can."""
    return (
        f"{label}: its VIP {vip} is IPv{vip.version} and the server {server} IPv{server.version}; IPVS forwards a packet "
        f"in the family it came in (it rewrites addresses or MACs, it never translates IPv{vip.version} to "
        f"IPv{server.version}): give it a server of the VIP's family, or use layer 7 (snat), which proxies across families"
    )


def no_ipv6_on(what: str, interface: str, why: str) -> str:
    """An IPv6 address where this unit has no IPv6 address: the interface that must reach it needs one."""
    return (
        f"{what} is IPv6, and {interface} has no IPv6 address ({why}); give {interface} one "
        f"(interfaces.{interface}.address6, answers key {interface}_address6) or use an IPv4 address"
    )


def _six(config: ApplianceConfig) -> list[tuple[str, IPv6Interface]]:
    """(interface name, its IPv6 address) of each interface that has one."""
    return [(name, IPv6Interface(iface.address6)) for name, iface in config.interfaces.items() if iface.address6]


def _side(config: ApplianceConfig, role: str) -> tuple[str, IPv6Interface | None] | None:
    """(name, its IPv6 address or None) of the interface with that role, or None when there is no such interface."""
    for name, iface in config.interfaces.items():
        if iface.role == role:
            own = own_address(iface, 6)
            return name, own  # type: ignore[return-value]
    return None


def routed6(config: ApplianceConfig, address: IPv6Address) -> bool:
    """Can this unit reach an IPv6 host: on one of its IPv6 subnets, or through its IPv6 gateway?"""
    return config.gateway6 is not None or any(address in own.network for _, own in _six(config))


def check_unit(config: ApplianceConfig) -> Found:
    """The unit's own IPv6: the gateway, and in a pair the floating addresses."""
    six = _six(config)
    if len(six) == 2 and six[0][1].network.overlaps(six[1][1].network):
        (first, one), (second, other) = six
        yield (
            f"interfaces.{second}.address6",
            f"{other.network} overlaps {first}'s {one.network}; two-arm needs two separate IPv6 subnets",
        )
    yield from _check_gateway6(config)
    if config.ha is not None:
        yield from _check_floating6(config)


def _check_gateway6(config: ApplianceConfig) -> Found:
    if config.gateway6 is None:
        return
    gateway = IPv6Address(config.gateway6)
    external = _side(config, "external")
    if gateway.is_link_local:
        if external is not None and external[1] is None:
            yield "gateway6", no_ipv6_on(f"the IPv6 gateway {gateway}", external[0], "a link-local gateway is reached there")
        return
    six = _six(config)
    if not six:
        name = external[0] if external else "eth0"
        yield "gateway6", no_ipv6_on(f"the IPv6 gateway {gateway}", name, "the gateway must be on one of its subnets")
        return
    holder = next((own for _, own in six if gateway in own.network), None)
    if holder is None:
        nets = " or ".join(f"{name}'s {own.network}" for name, own in six)
        yield (
            "gateway6",
            f"the IPv6 gateway {gateway} is outside every IPv6 subnet of this unit; it must be inside {nets}, "
            "or a link-local address (fe80::...) reached on the external interface",
        )
    elif problem := host_on_network(gateway, holder.network):
        yield "gateway6", problem


def _check_floating6(config: ApplianceConfig) -> Found:
    """Each side with an IPv6 address has an IPv6 floating address, on that subnet, as IPv4 has its own."""
    ha = config.ha
    assert ha is not None
    wanted = [("external", ha.floating.external6, "the IPv6 VIP")]
    if config.topology == "two-arm":
        wanted.append(("internal", ha.floating.internal6, "the real servers' IPv6 default gateway"))
    elif ha.floating.internal6 is not None:
        yield "ha.floating.internal6", "a one-arm pair has no internal side; leave it empty or choose two-arm"
    for role, value, what in wanted:
        field = f"ha.floating.{role}6"
        side = _side(config, role)
        if side is None:
            continue
        name, own = side
        if own is None:
            if value is not None:
                yield field, no_ipv6_on(f"the floating {role} address {value}", name, "it floats there")
            continue
        if value is None:
            yield field, f"{name} has an IPv6 address, so the pair needs a floating {role} IPv6 address for {what}"
            continue
        address = IPv6Address(value)
        if address not in own.network:
            yield field, f"floating {role} address {address} must be inside {name}'s IPv6 subnet {own.network}"
        elif problem := host_on_network(address, own.network):
            yield field, problem


def check_services(config: ApplianceConfig) -> Found:
    """What IPv6 services and servers need, and what the engines cannot do with them."""
    for index, service in enumerate(config.virtual_services):
        yield from _check_service(config, service, f"virtual_services[{index}]", f"virtual service {service.name!r}")
    for index, server in enumerate(config.nameservers):
        address = ip_address(server)
        if address.version == 6 and not routed6(config, address):  # type: ignore[arg-type]
            yield f"nameservers[{index}]", _unrouted(config, f"the nameserver {address}")


def _unrouted(config: ApplianceConfig, what: str) -> str:
    external = _side(config, "external")
    if not _six(config):
        return no_ipv6_on(what, external[0] if external else "eth0", "this unit reaches IPv6 hosts through it")
    return f"{what} is on none of this unit's IPv6 subnets and there is no IPv6 gateway (gateway6) to route to it; add one"


def _check_service(config: ApplianceConfig, service: VirtualService, field: str, label: str) -> Found:
    vip = ip_address(service.address)
    if vip.version == 6 and service.layer == 4:
        yield from _check_layer4_ipv6(service, field, label)
    for index, server in enumerate(service.real_servers):
        address = ip_address(server.address)
        if address.version != 6 or (service.layer == 4 and vip.version != 6):
            continue  # an IPv4 server, or a layer-4 family mix (verify.py says why)
        routed_by_method = service.layer == 7 or service.forwarding == "tun"
        if routed_by_method and not routed6(config, address):  # type: ignore[arg-type]
            yield f"{field}.real_servers[{index}].address", _unrouted(config, f"{label} real server {server.name!r} at {address}")
    if service.sorry_server and service.layer == 4:
        sorry = ip_address(split_endpoint(service.sorry_server, service.port)[0])
        if sorry.version != vip.version:
            yield (
                f"{field}.sorry_server",
                f"{label}: the sorry server {sorry} is IPv{sorry.version} and the VIP IPv{vip.version}; IPVS forwards in "
                "the VIP's family: give a sorry server of that family",
            )


def _check_layer4_ipv6(service: VirtualService, field: str, label: str) -> Found:
    """An IPv6 layer-4 service: what keepalived and IPVS do only in IPv4 here."""
    persistence = service.persistence
    if persistence is not None and persistence.netmask is not None:
        yield (
            f"{field}.persistence.netmask",
            f"{label}: subnet granularity is a netmask of IPv4 clients; an IPv6 service keeps each client's own address",
        )
    if persistence is not None and persistence.mode == "sip":
        yield (
            f"{field}.persistence.mode",
            f"{label}: IPVS's SIP engine reads SIP over IPv4 only (ip_vs_pe_sip); use source-ip, or an IPv4 VIP",
        )
    if service.fwmark is not None or service.extra_ports:
        where = "fwmark" if service.fwmark is not None else "extra_ports"
        yield (
            f"{field}.{where}",
            f"{label}: a marked IPVS service (port following, extra ports) is IPv4 here: the marks are set by IPv4 rules; "
            "give the IPv6 VIP one port per service, or use layer 7",
        )


def check_layer7_source(service: VirtualService, field: str, label: str) -> Found:
    """Layer 7's source address towards the servers across families (verify.py's _check_source_address)."""
    vip = ip_address(service.address)
    other = [s for s in service.real_servers if ip_address(s.address).version != vip.version]
    if service.transparent and (vip.version == 6 or other):
        yield (
            f"{field}.transparent",
            f"{label}: a transparent connection leaves from the client's own address, which is IPv{vip.version} like the "
            "VIP; it reaches no server of the other family, and transparency is IPv4 here (its TPROXY rules and route): "
            "turn transparent off for this service",
        )
    elif not service.subnet_originating and other:
        yield (
            f"{field}.subnet_originating",
            f"{label}: with subnet_originating: no HAProxy connects from the VIP {vip}, an IPv{vip.version} address, and "
            f"real server {other[0].name!r} is IPv{ip_address(other[0].address).version}: set subnet_originating: yes "
            "(this unit's own address of the server's family), or use servers of the VIP's family",
        )
