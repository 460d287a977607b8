"""Who answers ARP for an address: the DR "ARP problem" seen from the load balancer.

A DR real server must accept packets for the VIP without answering ARP for it; one that answers can
take the VIP's traffic away from the load balancer. This sends what `arping -D` sends (a duplicate
address probe: sender address 0.0.0.0, which every Linux host answers unless arp_ignore says not
to) and lists the MAC addresses that reply. Needs root (a raw packet socket).
"""

from __future__ import annotations

import socket
import struct
import time
from ipaddress import IPv4Address

ETH_P_ARP = 0x0806
PACKET_OUTGOING = 4
BROADCAST = b"\xff" * 6


def _mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def probe_frame(own_mac: bytes, address: str) -> bytes:
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, own_mac, b"\0" * 4, b"\0" * 6, IPv4Address(address).packed)
    return BROADCAST + own_mac + struct.pack("!H", ETH_P_ARP) + arp


def answering_macs(interface: str, address: str, wait: float = 1.0, tries: int = 2) -> set[str]:
    """MAC addresses (other than this interface's) that answer an ARP probe for address on interface."""
    answers: set[str] = set()
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as sock:
        sock.bind((interface, ETH_P_ARP))
        own_mac = sock.getsockname()[4]
        target = IPv4Address(address).packed
        for _ in range(tries):
            sock.send(probe_frame(own_mac, address))
            deadline = time.monotonic() + wait / tries
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    frame, where = sock.recvfrom(2048)
                except TimeoutError:
                    break
                if where[2] == PACKET_OUTGOING or len(frame) < 42:
                    continue
                op, sender_mac, sender_ip = struct.unpack("!H6s4s", frame[20:32])
                if op == 2 and sender_ip == target and sender_mac != own_mac:
                    answers.add(_mac_text(sender_mac))
    return answers
