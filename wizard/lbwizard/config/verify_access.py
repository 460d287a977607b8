"""The rules of `access`: who may reach the unit itself (verify.py's part for the default-deny firewall).

Kept apart from verify.py because these are networks, IPv4 or IPv6, not the unit's own IPv4 addresses,
and because lbctl asks one more question of them before a change over SSH: would it cut the admin off?
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from .declare import spec_of
from .kinds import KindError, Network
from .model import Access, ApplianceConfig, management_networks
from .provenance import client_session


class NetworkError(ValueError):
    """Text that is not a network as the access settings take them."""


NETWORKS = spec_of(Access, "management_networks").kind


def parse_network(text: object) -> IPv4Network | IPv6Network:
    """A network in CIDR form, IPv4 or IPv6 (the management networks' kind)."""
    try:
        return ip_network(Network().parse(text))
    except KindError as exc:
        raise NetworkError(str(exc)) from None


def parse_networks(value: object) -> list[str]:
    """The management networks as every path takes them (answers file, lbctl, the access screen): a list,
    or one line separated by commas or spaces; each normalised (10.9.0.0/24, 2001:db8::/32). Empty, or
    "default" alone: this unit's own subnets (an empty list)."""
    if value in (None, "", "default", ["default"]):
        return []
    try:
        return NETWORKS.parse(value)
    except KindError as exc:
        several = isinstance(value, list) and len(value) > 1
        where = f"item {exc.index + 1}: " if exc.index is not None and several else ""
        raise NetworkError(where + str(exc)) from None


def check(config: ApplianceConfig) -> Iterator[tuple[str, str]]:
    """(field, message) for each problem of config.access that its values' kinds cannot see alone."""
    access = config.access
    for i, text in enumerate(access.management_networks):
        network = ip_network(text)
        if network.prefixlen == 0:
            yield (
                f"access.management_networks[{i}]",
                f"{network} is every address: SSH would be open to the whole network; name the management networks",
            )
    seen: set[str] = set()
    for i, key in enumerate(access.ssh_authorized_keys):
        if key.split()[1] in seen:
            yield f"access.ssh_authorized_keys[{i}]", "this key is listed twice"
        seen.add(key.split()[1])


def cuts_off(config: ApplianceConfig, client: str) -> bool:
    """Would this config's management networks refuse an admin connected from client (an address)?"""
    address = ip_address(client.split("%")[0])
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not any(address in ip_network(net, strict=False) for net in management_networks(config))


def guards(
    previous: ApplianceConfig | None, new: ApplianceConfig, client: str | None, force: bool = False
) -> list[tuple[str, str]]:
    """What a change must not do to the admin making it, on every path that changes the unit (lbctl, the
    screens, the wizard and answers files run again, a restore, the API): cut off the session it comes
    from (client: the SSH or HTTPS peer's address; None at a console), or take away root's last SSH key.
    force: the admin said so (lbctl --force)."""
    if force:
        return []
    problems = []
    if client and cuts_off(new, client) and (previous is None or not cuts_off(previous, client)):
        networks = ", ".join(management_networks(new))
        problems.append(
            ("access.management_networks", f"{networks} would cut off {client_session()} from {client}; add it, or --force")
        )
    if previous is not None and previous.access.ssh_authorized_keys and not new.access.ssh_authorized_keys:
        problems.append(
            (
                "access.ssh_authorized_keys",
                "this change removes the last SSH key: root could then log in at the console only; add another first, or --force",
            )
        )
    return problems
