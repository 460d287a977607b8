"""The rules of `access`: who may reach the unit itself (verify.py's part for the default-deny firewall).

Kept apart from verify.py because these are networks, IPv4 or IPv6, not the unit's own IPv4 addresses,
and because lbctl asks one more question of them before a change over SSH: would it cut the admin off?
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_interface, ip_network

from .addressing import parse_port_list
from .model import Access, ApplianceConfig, InputRule, management_networks
from .sshkeys import SSHKeyError, parse_key

PROTOCOLS = ("tcp", "udp")


class NetworkError(ValueError):
    """Text that is not a network as the access settings take them."""


def parse_network(text: object) -> IPv4Network | IPv6Network:
    """A network in CIDR form, IPv4 or IPv6; a lone address is a /32 or /128. Host bits are refused, so
    what is written is what is meant (10.9.0.5/24 is a typo for 10.9.0.0/24 or 10.9.0.5/32)."""
    wrong = f"{text!r} is not a network; write it like 10.9.0.0/24 or 2001:db8::/32"
    if not isinstance(text, str) or text != text.strip() or not text:
        raise NetworkError(wrong)
    try:
        interface = ip_interface(text)
    except ValueError:
        raise NetworkError(wrong) from None
    network = interface.network
    if interface.ip != network.network_address:
        host = f"{interface.ip}/{network.max_prefixlen}"
        raise NetworkError(f"{text!r} has host bits set: the network is {network}, one host is {host}")
    return network


def parse_networks(value: object) -> list[str]:
    """The management networks as every path takes them (answers file, lbctl, the access screen): a list,
    or one comma-separated line; each normalised (10.9.0.0/24, 2001:db8::/32). Empty, or "default" alone:
    this unit's own subnets (an empty list)."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    texts = [str(item).strip() for item in items if str(item).strip()]
    if texts == ["default"]:
        return []
    return [str(parse_network(text)) for text in texts]


def check(config: ApplianceConfig) -> Iterator[tuple[str, str]]:
    """(field, message) for each problem of config.access."""
    access = config.access
    if not isinstance(access, Access):
        yield "access", "expected a mapping with management_networks and input_rules"
        return
    if not isinstance(access.management_networks, list):
        yield "access.management_networks", "expected a list of networks (empty: this unit's own subnets)"
    else:
        seen: set[str] = set()
        for i, text in enumerate(access.management_networks):
            field = f"access.management_networks[{i}]"
            try:
                network = parse_network(text)
            except ValueError as exc:
                yield field, str(exc)
                continue
            if str(network) in seen:
                yield field, f"{network} is listed twice"
            seen.add(str(network))
            if network.prefixlen == 0:
                yield field, f"{network} is every address: SSH would be open to the whole network; name the management networks"
    yield from _check_keys(access.ssh_authorized_keys)
    if not isinstance(access.input_rules, list):
        yield "access.input_rules", "expected a list of rules (port, protocol, source, comment)"
        return
    for i, rule in enumerate(access.input_rules):
        yield from _check_rule(rule, f"access.input_rules[{i}]")


def _check_keys(keys: object) -> Iterator[tuple[str, str]]:
    if not isinstance(keys, list):
        yield "access.ssh_authorized_keys", "expected a list of public keys (the lines of .pub files)"
        return
    seen: set[str] = set()
    for i, key in enumerate(keys):
        try:
            normal = parse_key(key)
        except SSHKeyError as exc:
            yield f"access.ssh_authorized_keys[{i}]", str(exc)
            continue
        if normal != key:
            yield f"access.ssh_authorized_keys[{i}]", "write the key as type, data and comment separated by single spaces"
        if normal.split()[1] in seen:
            yield f"access.ssh_authorized_keys[{i}]", "this key is listed twice"
        seen.add(normal.split()[1])


def _check_rule(rule: InputRule, field: str) -> Iterator[tuple[str, str]]:
    if rule.protocol not in PROTOCOLS:
        yield f"{field}.protocol", f"{rule.protocol!r} is not tcp or udp"
    try:
        if not parse_port_list(str(rule.port) if isinstance(rule.port, int) else rule.port):
            yield f"{field}.port", "name the port or ports to open, e.g. 161 or 8000-8080"
    except (ValueError, TypeError, AttributeError) as exc:
        yield f"{field}.port", str(exc)
    if rule.source != "any":
        try:
            parse_network(rule.source)
        except ValueError as exc:
            yield f"{field}.source", str(exc)
    plain = isinstance(rule.comment, str) and all(c.isprintable() and c not in "\"'\\" for c in rule.comment)
    if not plain or len(rule.comment) > 64:
        yield f"{field}.comment", "use up to 64 printable characters, no quotes or backslashes"


def cuts_off(config: ApplianceConfig, client: str) -> bool:
    """Would this config's management networks refuse an admin connected from client (an address)?"""
    address = ip_address(client.split("%")[0])
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not any(address in ip_network(net, strict=False) for net in management_networks(config))
