"""002's Refresh Persist at layer 7: a client's stick entry stays alive while its connection does.

HAProxy renews a source-IP entry at each new connection of its client, not while one long-lived
connection carries on; after the timeout (4 days or more, where 002 offers the option) the entry expires
under a live connection, and the client's next connection may land on another server. IPVS needs no
help: it keeps a template while the connections it controls live.

`lbctl refresh-persist` (run every hour by lbwizard-refresh-persist.timer, 002 says each day) sets again
the entry of every client address that has a live session in the service's frontend: `set table` keeps
the entry's server and starts its timeout anew. Entries of clients without a connection age as usual,
and no entry is made for a client that has none.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..config.model import ApplianceConfig
from .haproxy import backend_name, haproxy_command, haproxy_set

_SESSION = re.compile(r"\bsrc=(?P<address>[0-9.]+):\d+ fe=(?P<frontend>\S+)")
_ENTRY = re.compile(r"\bkey=(?P<key>\S+)")


def live_clients(sessions: str, frontend: str) -> set[str]:
    """The IPv4 client addresses with a session in `frontend`, from `show sess`."""
    return {m["address"] for m in _SESSION.finditer(sessions) if m["frontend"] == frontend}


def table_keys(table: str) -> set[str]:
    """The keys of a `show table NAME` answer."""
    return {m["key"] for m in _ENTRY.finditer(table)}


def refresh(config: ApplianceConfig, sock: Path) -> list[tuple[str, str]]:
    """Renew the entries of the live clients of every layer-7 service with refresh on; (service, client) each."""
    services = [s for s in config.virtual_services if s.layer == 7 and s.persistence and s.persistence.refresh]
    if not services:
        return []
    sessions = haproxy_command(sock, "show sess")
    renewed = []
    for service in services:
        table = backend_name(service.name)
        keys = table_keys(haproxy_command(sock, f"show table {table}"))
        for client in sorted(live_clients(sessions, service.name) & keys):
            haproxy_set(sock, f"set table {table} key {client}")
            renewed.append((service.name, client))
    return renewed
