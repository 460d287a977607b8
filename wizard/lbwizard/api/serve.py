"""`lbwizard serve [--listen ADDR:PORT] [--dry-run --root DIR]`: the API over HTTPS, on uvicorn.

By default it listens on appliance.yaml's api.port (9443) of this unit's own interface addresses (never the
floating ones, which move to the peer). A dry run works on DIR with a certificate it makes there; nothing live.
`--ready` is lbwizard-api.service's condition: the API serves only while it is on and once the first boot has
given root a password or an SSH key (before that nobody could make a token or log in, and nothing should listen).
"""

from __future__ import annotations

import re
import socket
import sys
from ipaddress import IPv4Interface

from ..config import files
from ..config.password import is_crypt_hash
from ..config.paths import Paths
from .sessions import admin_hash

DEFAULT_PORT = 9443
CONNECTIONS_AT_ONCE = 64


class ListenError(ValueError):
    pass


def parse_listen(text: str) -> tuple[str, int]:
    """ADDR:PORT, [IPv6]:PORT, or ADDR (port 9443)."""
    found = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::([0-9]{1,5}))?|([^:\[\]]+)(?::([0-9]{1,5}))?", text)
    if not found:
        raise ListenError(f"--listen: {text[:60]!r} is not ADDR:PORT or [IPV6]:PORT")
    host = found.group(1) or found.group(3)
    port = int(found.group(2) or found.group(4) or DEFAULT_PORT)
    if not 1 <= port <= 65535:
        raise ListenError(f"--listen: port {port} is not 1-65535")
    return host, port


def own_addresses(paths: Paths) -> list[tuple[str, int]]:
    config = files.load_config(paths)
    if config is None:
        raise ListenError("this unit is not set up yet (no appliance.yaml): run lbwizard first, or give --listen")
    return [(str(IPv4Interface(iface.address).ip), config.api.port) for iface in config.interfaces.values()]


READY, OFF, NOT_YET = 0, 1, 3  # --ready's exit codes: serve; off (until api changes); not yet (try at every change)


def readiness(paths: Paths) -> tuple[int, str]:
    """Whether the API should serve on this unit now (READY), is turned off (OFF), or may not serve yet
    (NOT_YET: no configuration, or root can log in neither by password nor by key), and why."""
    try:
        config = files.load_config(paths)
    except ValueError as exc:
        return NOT_YET, f"appliance.yaml cannot be read: {exc}"
    if config is None:
        return NOT_YET, "this unit is not set up yet (no appliance.yaml)"
    if not config.api.enabled:
        return OFF, "the API is off (api.enabled: false; lbctl api on)"
    hashed = admin_hash(paths)
    if not config.access.ssh_authorized_keys and not (hashed and is_crypt_hash(hashed)):
        return NOT_YET, "root has no password and no SSH key yet (the first boot sets one)"
    return READY, "ready: the API serves on this unit"


IP_FREEBIND = 15  # linux/in.h (IPV6_FREEBIND is 78): bind an address the system does not hold (yet)
IPV6_FREEBIND = 78


def _socket(host: str, port: int) -> socket.socket:
    """A listening socket's address bound, even one no interface holds now: an address the boot apply could not set
    (a NIC missing, the engines held) then answers once it is there, and the others serve meanwhile; a server that
    failed to bind it would only be restarted by systemd, again and again."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_FREEBIND, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def serve(paths: Paths, dry_run: bool, listen: str | None, ready_only: bool = False) -> int:
    if ready_only:
        code, why = readiness(paths)
        print(f"lbwizard serve: {why}", file=sys.stderr if code else sys.stdout)
        return code
    import uvicorn

    from . import certificate
    from .app import make_app
    from .deadlines import HeadDeadline
    from .served import Served

    try:
        addresses = [parse_listen(listen)] if listen else own_addresses(paths)
        sockets = [_socket(host, port) for host, port in addresses]
    except (ListenError, OSError) as exc:
        print(f"lbwizard serve: {exc}", file=sys.stderr)
        return 2
    if dry_run:
        cert, key = certificate.for_dry_run(paths, addresses[0][0])
    else:
        cert, key = certificate.unit_files(paths)
        if not cert.is_file():
            print(f"lbwizard serve: no certificate at {cert} (the first boot makes it)", file=sys.stderr)
            return 2
    config = uvicorn.Config(
        make_app(Served.start(paths, dry_run)),
        ssl_certfile=str(cert),
        ssl_keyfile=str(key) if key else None,
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # the caller is the TCP peer: no header may name another (history, the access guards)
        server_header=False,
        limit_concurrency=CONNECTIONS_AT_ONCE,  # past it, 503 at once rather than memory without bound
        http=HeadDeadline,  # a connection that never finishes its request's head does not keep its slot
        timeout_graceful_shutdown=600,  # a change in progress is answered before the server goes
        lifespan="on",  # the charts' sampler starts and stops with the server (app.py)
    )
    print(f"lbwizard serve: https://{', https://'.join(f'{h}:{p}' for h, p in addresses)}/api/v1/", flush=True)
    uvicorn.Server(config).run(sockets=sockets)
    return 0
