"""The appliance config turned into the Ansible roles' variables (keepalived_*, haproxy_*).

Pure functions: every decision about what the daemons should do is made here, where it is tested in
milliseconds; the role templates only lay the values out in each daemon's syntax. Services that share
a firewall mark become one keepalived `virtual_server fwmark N`.
"""

from __future__ import annotations

from ipaddress import IPv4Interface
from pathlib import Path

from ..config.addressing import parse_port_list, split_endpoint
from ..config.model import APPLIANCE_CERTIFICATE, HAPROXY_PEERS_PORT, ApplianceConfig, VirtualService, extra_vips

PRIORITY = {"master": 150, "backup": 100}
# keepalived lb_algo for our scheduler names (mh with fallback: source hashing that spreads evenly).
IPVS_PERSISTENCE_NETMASK_DEFAULT = "255.255.255.255"
HAPROXY_STICK_SIZE = "1m"


def _netmask(prefix_or_mask: str | None) -> str | None:
    if prefix_or_mask is None:
        return None
    text = str(prefix_or_mask).removeprefix("/")
    return str(IPv4Interface(f"0.0.0.0/{text}").netmask)


def _endpoint(text: str | None, default_port: int) -> dict | None:
    """ "ADDRESS[:PORT]" as {address, port}; the service's own port when none is given."""
    if not text:
        return None
    address, port = split_endpoint(text, default_port)
    return {"address": address, "port": port}


def _check(service: VirtualService) -> dict:
    check = service.health_check
    return {
        "type": check.type,
        "path": check.path or "/",
        "expect": check.expect or 200,
        "script": check.script,
        "interval": check.interval,
    }


def _servers(service: VirtualService, fwmark: bool, keep_offline: bool = False) -> list[dict]:
    """The engine's view of the real servers: a drained one weighs 0, an offline one is left out.

    keep_offline: HAProxy keeps an offline server in the file as `disabled` (maintenance), so the
    runtime API can bring it back without a reload; IPVS simply has no such destination.
    """
    return [
        {
            "name": server.name,
            "address": server.address,
            # a fwmark service forwards to the port the client asked for (port following): port 0 in IPVS
            "port": 0 if fwmark and service.forwarding != "nat" else server.port,
            "check_port": server.port,
            "weight": 0 if server.state == "drain" else server.weight,
            "min_conns": server.min_conns,
            "max_conns": server.max_conns,
            "disabled": server.state == "offline",
        }
        for server in service.real_servers
        if keep_offline or server.state != "offline"
    ]


def keepalived_virtual_servers(config: ApplianceConfig) -> list[dict]:
    """One entry per IPVS service: per address:port (and extra port), or one per firewall mark."""
    result: list[dict] = []
    marked: dict[int, dict] = {}
    for service in config.virtual_services:
        if service.layer != 4:
            continue
        persistence = service.persistence
        common = {
            "name": service.name,
            "protocol": service.protocol.upper(),
            "lb_kind": service.forwarding.upper(),
            "lb_algo": service.scheduler,
            "persistence_timeout": persistence.timeout if persistence else None,
            "persistence_granularity": _netmask(persistence.netmask) if persistence else None,
            "check": _check(service),
            "quorum": service.quorum,
            "sorry_server": _endpoint(service.sorry_server, service.port),
            "fwmark": None,
            "address": service.address,
            "port": service.port,
        }
        if service.fwmark:
            group = marked.get(service.fwmark)
            if group is None:
                group = marked[service.fwmark] = common | {"fwmark": service.fwmark, "real_servers": []}
                result.append(group)
            known = {(s["address"], s["port"]) for s in group["real_servers"]}
            group["real_servers"] += [s for s in _servers(service, True) if (s["address"], s["port"]) not in known]
            continue
        ports = [service.port]
        if service.extra_ports:
            ports += [p for first, last in parse_port_list(service.extra_ports) for p in range(first, last + 1)]
        for port in ports:
            servers = _servers(service, False)
            if port != service.port:  # extra ports go to the same port on the real server
                servers = [s | {"port": port, "check_port": s["check_port"]} for s in servers]
            result.append(common | {"address": service.address, "port": port, "real_servers": servers})
    return result


def external_address(config: ApplianceConfig) -> str | None:
    """This unit's own address on its external interface (VRRP's and the peers' source, diagnose's probes)."""
    external = config.external_interface()
    return str(IPv4Interface(external[1].address).ip) if external else None


def keepalived_vrrp(config: ApplianceConfig) -> dict | None:
    """The VRRP side of an HA pair: one instance per side, in one sync group."""
    ha = config.ha
    if ha is None:
        return None
    external = config.external_interface()
    internal = config.internal_interface()
    own = external_address(config)
    # Both instances advertise over the external side, where the peer's address is known; the internal
    # floating gateway is placed on the internal NIC, and a dead internal link is caught by tracking it.
    # The other VIPs of a side move with its floating address.
    instances = []
    sides = (("VI_EXTERNAL", external, ha.floating.external), ("VI_INTERNAL", internal, ha.floating.internal))
    for name, side, floating in sides:
        if side and floating:
            prefix = IPv4Interface(side[1].address).network.prefixlen
            more = [f"{vip}/32" for vip in extra_vips(config, side[1]) if vip != floating]
            instances.append({"name": name, "device": side[0], "addresses": [f"{floating}/{prefix}", *more]})
    return {
        "role": ha.role,
        "state": ha.role.upper(),
        "priority": PRIORITY[ha.role],
        "vrrp_id": ha.vrrp_id,
        "advert_interval": ha.advert_interval,
        "unicast_src": own,
        "peer": ha.peer,
        "interface": external[0] if external else None,
        "track_interfaces": [name for name in config.interfaces if not external or name != external[0]],
        "instances": instances,
    }


def _source(config: ApplianceConfig, service: VirtualService) -> dict:
    """The address HAProxy connects to the real servers from: the client's, the VIP, or (address None)
    this unit's own on the way to them, which the kernel picks.

    A transparent service still NATs the clients that sit on a real server's own subnet ("local
    clients"): that server would answer them directly, past the proxy. They appear to come from this
    unit's address on that subnet.
    """
    if not service.transparent:
        return {"transparent": False, "address": None if service.subnet_originating else service.address, "local_clients": []}
    local = {}
    for server in service.real_servers:
        if iface := config.interface_for(server.address):
            own = IPv4Interface(iface.address)
            local[str(own.network)] = str(own.ip)
    return {
        "transparent": True,
        "address": None,
        "local_clients": [{"subnet": subnet, "address": address} for subnet, address in local.items()],
    }


def haproxy_services(config: ApplianceConfig, root: str = "/") -> list[dict]:
    """One frontend/backend pair per layer-7 service; TLS with the given PEM or the unit's own (under root)."""
    own_certificate = str(Path(root) / APPLIANCE_CERTIFICATE)
    result = []
    for service in config.virtual_services:
        if service.layer != 7:
            continue
        persistence = service.persistence
        ports = [service.port]
        if service.extra_ports:
            ports += [p for first, last in parse_port_list(service.extra_ports) for p in range(first, last + 1)]
        result.append(
            {
                "name": service.name,
                "address": service.address,
                "ports": ports,
                "mode": "tcp" if service.server_initiating or (persistence and persistence.mode == "ssl-session-id") else "http",
                "tos": service.tos,
                "tls": {"certificate": service.tls_certificate or own_certificate} if service.tls else None,
                "sorry_server": _endpoint(service.sorry_server, service.port),
                "balance": service.scheduler,
                "balance_param": service.scheduler_param,
                "persistence": None
                if persistence is None
                else {"mode": persistence.mode, "timeout": persistence.timeout, "name": persistence.name or "SERVERID"},
                "check": _check(service),
                "servers": _servers(service, False, keep_offline=True),
                "source": _source(config, service),
            }
        )
    return result


def role_vars(config: ApplianceConfig, root: str = "/", services: bool = True, reload_haproxy: bool = True) -> dict:
    """Everything site.yml passes to the roles (ansible-playbook -e @file)."""
    return {
        "lb_root": root,
        "lb_manage_services": services,
        "lb_reload_haproxy": reload_haproxy,
        "keepalived_virtual_servers": keepalived_virtual_servers(config),
        "keepalived_vrrp": keepalived_vrrp(config),
        "keepalived_nopreempt": config.ha is not None and config.ha.preempt is False,
        "keepalived_router_id": config.hostname,
        "keepalived_interfaces": list(config.interfaces),
        "haproxy_services": haproxy_services(config, root),
        "haproxy_appliance_certificate": str(Path(root) / APPLIANCE_CERTIFICATE),
        "haproxy_peers": haproxy_peers(config),
        "haproxy_peers_port": HAPROXY_PEERS_PORT,
    }


def haproxy_peers(config: ApplianceConfig) -> dict | None:
    """Stick tables shared between the two units, named by role so both sides agree without knowing hostnames."""
    external = config.external_interface()
    if config.ha is None or external is None or not config.ha.peer:
        return None
    own = external_address(config)
    other = "backup" if config.ha.role == "master" else "master"
    return {
        "local": f"lb-{config.ha.role}",
        "members": [{"name": f"lb-{config.ha.role}", "address": own}, {"name": f"lb-{other}", "address": config.ha.peer}],
    }
