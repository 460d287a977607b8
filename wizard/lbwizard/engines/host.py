"""This unit's own interfaces and what it can reach: the addresses it holds, links without carrier, a TCP connect.

Readers only; they act in the network namespace the process runs in.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyroute2 import IPRoute

PROBE_TIMEOUT = 2.0


@contextmanager
def _netlink() -> Iterator[IPRoute]:
    from pyroute2 import IPRoute  # here: a dry run never opens netlink, and pyroute2 is slow to import

    with IPRoute() as ipr:
        yield ipr


def local_addresses() -> set[str]:
    """IPv4 addresses and global IPv6 addresses on this unit's interfaces."""
    with _netlink() as ipr:
        four = {msg.get_attr("IFA_ADDRESS") for msg in ipr.get_addr(family=socket.AF_INET)}
        six = {msg.get_attr("IFA_ADDRESS") for msg in ipr.get_addr(family=socket.AF_INET6) if msg["scope"] == 0}
        return four | six


def links_down(names: list[str]) -> list[str]:
    """The interfaces among names that exist here but have no carrier (or are administratively down)."""
    down = []
    with _netlink() as ipr:
        for name in names:
            found = ipr.link_lookup(ifname=name)
            if found and ipr.get_links(found[0])[0].get_attr("IFLA_OPERSTATE") not in ("UP", "UNKNOWN"):
                down.append(name)
    return down


def tcp_probe(address: str, port: int, source: str | None = None, timeout: float = PROBE_TIMEOUT) -> str | None:
    """Connect and close; None when it worked, else why not ("Connection refused", "no answer in 2 s")."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        try:
            if source:
                conn.bind((source, 0))
            conn.connect((address, port))
        except TimeoutError:
            return f"no answer in {timeout:g} s"
        except OSError as exc:
            return exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
    return None
