"""Parsing of the addresses, netmasks and ports people type, with messages that say what is expected.

Shared by the questions (flow.py) and verify.py so a value is judged by one rule wherever it is typed.
Each parser raises ValueError with a sentence fit to show under the field.
"""

from __future__ import annotations

import ipaddress
import re

IPv4Address = ipaddress.IPv4Address
IPv4Interface = ipaddress.IPv4Interface
IPv4Network = ipaddress.IPv4Network

_DOTTED = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}")


def parse_address(text: object) -> IPv4Address:
    """A dotted-quad IPv4 address, refusing the shorthand forms ipaddress would guess at."""
    value = str(text).strip() if text is not None else ""
    if not value:
        raise ValueError("an IPv4 address is required, for example 10.0.0.21")
    if not _DOTTED.fullmatch(value):
        raise ValueError(f"{value!r} is not an IPv4 address; write four numbers 0-255, like 10.0.0.21")
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 address; each of its four numbers must be 0-255") from None


def parse_prefix(text: object) -> int:
    """A netmask as 255.255.255.0, /24 or 24; returns the prefix length (1-30)."""
    value = str(text).strip() if text is not None else ""
    if not value:
        raise ValueError("a netmask is required, for example 255.255.255.0 or /24")
    bits = value.removeprefix("/")
    if bits.isascii() and bits.isdigit():
        prefix = int(bits)
    elif _DOTTED.fullmatch(value):
        try:
            prefix = ipaddress.IPv4Network(f"0.0.0.0/{value}").prefixlen
        except ValueError:
            raise ValueError(f"{value!r} is not a netmask: its one-bits must be contiguous, like 255.255.255.0") from None
    else:
        raise ValueError(f"{value!r} is not a netmask; write 255.255.255.0, /24 or 24")
    if not 1 <= prefix <= 30:
        raise ValueError(f"a /{prefix} network has no room for hosts here; use a prefix from /1 to /30 (e.g. /24)")
    return prefix


def parse_interface(address: object, netmask: object) -> IPv4Interface:
    """An address with its netmask, refusing the network and broadcast addresses as host addresses."""
    iface = ipaddress.IPv4Interface(f"{parse_address(address)}/{parse_prefix(netmask)}")
    host_problem = host_address_problem(iface.ip, iface.network)
    if host_problem:
        raise ValueError(host_problem)
    return iface


def parse_cidr(text: object) -> IPv4Interface:
    """An interface address as stored in appliance.yaml: 10.0.0.21/24."""
    value = str(text).strip() if text is not None else ""
    address, slash, prefix = value.partition("/")
    if not slash:
        raise ValueError(f"{value!r} needs its prefix length, like 10.0.0.21/24")
    return parse_interface(address, prefix)


def host_address_problem(address: IPv4Address, network: IPv4Network) -> str | None:
    """Say why an address cannot be a host on the network, or None when it can."""
    if address == network.network_address:
        return f"{address} is the network address of {network}; choose a host address inside it"
    if address == network.broadcast_address:
        return f"{address} is the broadcast address of {network}; choose a host address inside it"
    return None


def parse_port(text: object) -> int:
    """A TCP/UDP port, 1-65535."""
    value = str(text).strip() if text is not None else ""
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 65535:
        raise ValueError(f"{value!r} is not a port; use a number from 1 to 65535")
    return int(value)


def split_endpoint(text: str, default_port: int) -> tuple[str, int]:
    """ADDRESS[:PORT] -> (address, port), default_port when none is given. The address is not judged
    here (verify does, naming its field); the port must at least be a number."""
    address, _, port = str(text).partition(":")
    if not port:
        return address, default_port
    if not (port.isascii() and port.isdigit()):
        raise ValueError(f"{port!r} in {text!r} is not a port number")
    return address, int(port)


def parse_port_list(text: str) -> list[tuple[int, int]]:
    """The reference's extra ports: '8000-8080, 9002 80' -> [(8000, 8080), (9002, 9002), (80, 80)]."""
    ranges = []
    for item in re.split(r"[\s,]+", text.strip()):
        if not item:
            continue
        low, dash, high = item.partition("-")
        first = parse_port(low)
        last = parse_port(high) if dash else first
        if last < first:
            raise ValueError(f"port range {item!r} runs backwards; write the lower port first")
        ranges.append((first, last))
    return ranges


def service_ports(base: int, extra: str) -> list[int]:
    """The base port first, then every extra port once, ascending: 002's list '8000-8080, 9002, 80, 8050,
    9000' on base port 80 adds 8000 to 8080, 9000 and 9002 (80 and 8050 are there already)."""
    ports = {port for first, last in parse_port_list(extra) for port in range(first, last + 1)} if extra else set()
    return [base, *sorted(ports - {base})]


def port_ranges(ports: list[int]) -> list[tuple[int, int]]:
    """Ports as the fewest ranges of consecutive ports (one netfilter rule each)."""
    ranges: list[tuple[int, int]] = []
    for port in sorted(set(ports)):
        if ranges and ranges[-1][1] == port - 1:
            ranges[-1] = (ranges[-1][0], port)
        else:
            ranges.append((port, port))
    return ranges


def parse_yes_no(text: object) -> bool:
    """y/n as the reference asks it; YAML booleans too."""
    if isinstance(text, bool):
        return text
    value = str(text).strip().lower() if text is not None else ""
    if value in ("y", "yes", "true"):
        return True
    if value in ("n", "no", "false"):
        return False
    raise ValueError("answer y or n")
