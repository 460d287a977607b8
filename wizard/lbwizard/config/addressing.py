"""The addresses, netmasks and ports people type, as the code that uses them wants them parsed.

The grammar of each kind of value is config/kinds.py's, one parser per kind; these wrappers give the
rest of the package the parsed objects (IPv4Address, a prefix length, port ranges) with the same
sentences under the field. Each raises ValueError.
"""

from __future__ import annotations

import ipaddress

from .kinds import PORT, Address, Boolean, InterfaceAddress, Prefix, host_on_network, port_ranges_of, split_port

IPv4Address = ipaddress.IPv4Address
IPv4Interface = ipaddress.IPv4Interface
IPv4Network = ipaddress.IPv4Network
host_address_problem = host_on_network


def parse_address(text: object) -> IPv4Address:
    """A host's dotted-quad IPv4 address, refusing the shorthand forms ipaddress would guess at."""
    return IPv4Address(Address().parse("" if text is None else text))


def parse_prefix(text: object) -> int:
    """A netmask as 255.255.255.0, /24 or 24; returns the prefix length (1-30)."""
    return Prefix().length("" if text is None else text)


def parse_interface(address: object, netmask: object) -> IPv4Interface:
    """An address with its netmask, refusing the network and broadcast addresses as host addresses."""
    iface = IPv4Interface(f"{parse_address(address)}/{parse_prefix(netmask)}")
    if problem := host_address_problem(iface.ip, iface.network):
        raise ValueError(problem)
    return iface


def parse_cidr(text: object) -> IPv4Interface:
    """An interface address as stored in appliance.yaml: 10.0.0.21/24."""
    return IPv4Interface(InterfaceAddress().parse(text))


def bracketed(address: str) -> str:
    """An address as it goes before a port (or alone, where a port may follow): [2001:db8::5] in IPv6."""
    return f"[{address}]" if ":" in address else address


def endpoint_text(address: str, port: int) -> str:
    """ADDRESS:PORT as people and ipvsadm write it: [2001:db8::5]:80 in IPv6."""
    return f"{bracketed(address)}:{port}"


def parse_port(text: object) -> int:
    """A TCP/UDP port, 1-65535, in decimal digits."""
    return PORT.parse(text)


def split_endpoint(text: str, default_port: int) -> tuple[str, int]:
    """ADDRESS[:PORT] -> (address, port), default_port when none is given. The address is not judged
    here (its kind does, naming its field); the port must be a port."""
    address, port = split_port(text, "ADDRESS[:PORT]")
    return address, PORT.parse(port) if port else default_port


def parse_port_list(text: str) -> list[tuple[int, int]]:
    """The reference's extra ports: '8000-8080, 9002 80' -> [(8000, 8080), (9002, 9002), (80, 80)]."""
    return port_ranges_of(text)


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
    """y/n as the reference asks it; yes/no, true/false, on/off; a boolean as it is."""
    return Boolean().parse(text)
