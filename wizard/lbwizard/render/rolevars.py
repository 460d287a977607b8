"""The appliance config turned into the Ansible roles' variables (keepalived_*, haproxy_*).

Pure functions: every decision about what the daemons should do is made here, where it is tested in
milliseconds; the role templates only lay the values out in each daemon's syntax. Services that share
a firewall mark become one keepalived `virtual_server fwmark N`.
"""

from __future__ import annotations

from ipaddress import IPv4Interface, ip_address
from pathlib import Path

from ..config import acme_http
from ..config.addressing import bracketed, service_ports, split_endpoint
from ..config.model import (
    APPLIANCE_CERTIFICATE,
    HAPROXY_PEERS_PORT,
    IDLE_TIMEOUT_DEFAULT,
    QOS_CLASSES,
    ApplianceConfig,
    Persistence,
    VirtualService,
    extra_vips,
    host_route,
    ipvs_marks,
    nat_addresses,
    own_address,
)
from ..config.paths import Paths
from .host_services import host_service_vars

PRIORITY = {"master": 150, "backup": 100}
# keepalived lb_algo for our scheduler names (mh with fallback: source hashing that spreads evenly).
IPVS_PERSISTENCE_NETMASK_DEFAULT = "255.255.255.255"
HAPROXY_STICK_SIZE = "1m"


def _netmask(prefix_or_mask: str | None) -> str | None:
    if prefix_or_mask is None:
        return None
    text = str(prefix_or_mask).removeprefix("/")
    return str(IPv4Interface(f"0.0.0.0/{text}").netmask)


def _granularity(persistence: Persistence | None) -> str | None:
    """The client netmask of IPVS's persistence templates. SIP's engine matches a template on the masked
    client address as well as the Call-ID, so SIP masks it all away: a call is one call, whoever sends it."""
    if persistence is None:
        return None
    return "0.0.0.0" if persistence.mode == "sip" else _netmask(persistence.netmask)


def _endpoint(text: str | None, default_port: int) -> dict | None:
    """ "ADDRESS[:PORT]" as {address, port}; the service's own port when none is given."""
    if not text:
        return None
    address, port = split_endpoint(text, default_port)
    return {"address": address, "port": port}


def _check(service: VirtualService, port: int | None = None) -> dict:
    check = service.health_check
    return {
        "type": check.type,
        "path": check.path or "/",
        "expect": check.expect or 200,
        "script": check.script,
        "interval": check.interval,
        "timeout": check.timeout,
        "port": port,
    }


AGENT_WEIGHT = "/usr/local/bin/lbwizard-agent-weight"  # keepalived's side of the agent (engines/agent_weight.py)


def _agent_check(service: VirtualService, server) -> list[dict]:
    """Adaptive scheduling at layer 4: keepalived asks the server's agent (misc_dynamic sets the weight)."""
    if service.agent_port is None or service.layer != 4:
        return []
    script = f"{AGENT_WEIGHT} {server.address} {service.agent_port} {server.weight}"
    check = service.health_check
    return [{"type": "agent", "script": script, "interval": check.interval, "timeout": check.timeout}]


RESPONSE_WEIGHT = "/usr/local/bin/lbwizard-response-weight"  # engines/response_weights.py
RESPONSE_TIMES = "/run/lbwizard/response-times"


def _response_check(service: VirtualService, server, weight: int) -> list[dict]:
    """Weighted Response Time at layer 4: keepalived times each server's check through the script, which
    answers the weight (misc_dynamic); the service's servers share their times in one directory."""
    if not service.response_weights or service.layer != 4:
        return []
    check = service.health_check
    where = f"{RESPONSE_TIMES}/{service.name}"
    timing = f"{check.interval} {check.timeout}"
    script = f"{RESPONSE_WEIGHT} {where} {timing} {server.address} {server.port} {weight} {check.type} {check.path or '/'}"
    return [{"type": "agent", "script": script, "interval": check.interval, "timeout": check.timeout + 1}]


def _servers(service: VirtualService, keep_offline: bool = False) -> list[dict]:
    """The engine's view of the real servers: a drained one weighs 0, an offline one is left out.

    keep_offline: HAProxy keeps an offline server in the file as `disabled` (maintenance), so the
    runtime API can bring it back without a reload; IPVS simply has no such destination.
    """
    return [
        {
            "name": server.name,
            "address": server.address,
            "port": server.port,
            "checks": [_check(service, server.port), *_agent_check(service, server), *_response_check(service, server, weight)],
            "weight": weight,
            "min_conns": server.min_conns,
            "max_conns": server.max_conns,
            "disabled": server.state == "offline",
        }
        for server in service.real_servers
        if keep_offline or server.state != "offline"
        for weight in [0 if server.state == "drain" else server.weight]
    ]


def keepalived_virtual_servers(config: ApplianceConfig) -> list[dict]:
    """One entry per IPVS service: one per address and port, or one per firewall mark.

    A marked service (the admin's port following, or the appliance's own mark of a service with extra
    ports) has one destination per real server with port 0, which IPVS forwards to the port the client
    asked for; the server is checked on each service's port and counts as down when any check fails,
    so a failure clears the persistence records of every port of the mark (001).
    """
    result: list[dict] = []
    marked: dict[int, dict] = {}
    marks = ipvs_marks(config)
    for service in config.virtual_services:
        if service.layer != 4:
            continue
        persistence = service.persistence
        entry = {
            "name": service.name,
            "protocol": service.protocol.upper(),
            "lb_kind": service.forwarding.upper(),
            "lb_algo": service.scheduler,
            "persistence_timeout": persistence.timeout if persistence else None,
            "persistence_granularity": _granularity(persistence),
            # IPVS's SIP engine: persistence keyed on the Call-ID of SIP over UDP instead of the client
            "persistence_engine": "sip" if persistence and persistence.mode == "sip" else None,
            "check": _check(service),
            "quorum": service.quorum,
            "sorry_server": _endpoint(service.sorry_server, service.port),
            "fwmark": None,
            "address": service.address,
            "port": service.port,
            "real_servers": _servers(service),
        }
        mark = marks.get(service.name)
        if mark is None:
            result.append(entry)
            continue
        group = marked.get(mark)
        if group is None:
            group = marked[mark] = entry | {"fwmark": mark, "real_servers": []}
            result.append(group)
        by_address = {server["address"]: server for server in group["real_servers"]}
        for server in entry["real_servers"]:
            if server["address"] in by_address:  # one agent per server: the group agrees on its port
                by_address[server["address"]]["checks"] += [c for c in server["checks"] if c["type"] != "agent"]
            else:
                group["real_servers"].append(server | {"port": 0})
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
    # A dual-stack pair has an instance per family and side (keepalived does not mix families in one), all
    # in the one sync group: the IPv6 floating addresses move with the IPv4 ones. IPv6's advertise to VRRP's
    # multicast group from the link-local address (RFC 5798); VRIDs are per family, so they reuse IPv4's.
    instances = []
    sides = (
        ("VI_EXTERNAL", external, ha.floating.external, 4, 0),
        ("VI_INTERNAL", internal, ha.floating.internal, 4, 1),
        ("VI_EXTERNAL6", external, ha.floating.external6, 6, 0),
        ("VI_INTERNAL6", internal, ha.floating.internal6, 6, 1),
    )
    for name, side, floating, family, offset in sides:
        subnet = own_address(side[1], family) if side else None
        if side and floating and subnet:
            vips = [vip for vip in extra_vips(config, side[1]) if vip != floating and ip_address(vip).version == family]
            more = [host_route(vip) for vip in vips]
            if name == "VI_EXTERNAL":  # the servers' own public addresses: held by the master only
                more += [f"{public}/32" for public in nat_addresses(config).values() if f"{public}/32" not in more]
            addresses = [f"{floating}/{subnet.network.prefixlen}", *more]
            instances.append(
                {"name": name, "device": side[0], "family": family, "vrrp_id": ha.vrrp_id + offset, "addresses": addresses}
            )
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
        source = None if service.subnet_originating else bracketed(service.address)
        return {"transparent": False, "address": source, "local_clients": []}
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


def _haproxy_servers(service: VirtualService) -> list[dict]:
    """Servers as HAProxy's `server` lines take them. With extra ports a connection goes to the port the
    client asked for, shifted as the base port is (VIP:80 to server:8080 sends 9002 to 17002), written as
    HAProxy's relative port; the health check then needs the server's own base port."""
    servers = _servers(service, keep_offline=True)
    for server in servers:
        host = bracketed(server["address"])  # HAProxy reads [2001:db8::50]:80 (an IPv6 address bare is ambiguous)
        server["target"] = f"{host}:{server['port']}"
        server["check_port"] = None
        server["agent_port"] = service.agent_port
        if service.extra_ports:
            offset = server["port"] - service.port
            server["target"] = host + (f":{offset:+d}" if offset else "")
            server["check_port"] = server["port"]
    return servers


def tls_certificates(config: ApplianceConfig, service: VirtualService, root: str = "/") -> list[str]:
    """The PEM files a TLS service presents, the default first (HAProxy picks the others by SNI, from each
    certificate's own names): the store's it names, else the older PEM path, else the unit's own."""
    if service.certificates:
        store = Paths(Path(root)).certificate_store
        by_name = {c.name: c.fingerprint for c in config.certificates}
        return [str(store / f"{by_name[name]}.pem") for name in service.certificates if name in by_name]
    return [service.tls_certificate or str(Path(root) / APPLIANCE_CERTIFICATE)]


def haproxy_services(config: ApplianceConfig, root: str = "/") -> list[dict]:
    """One frontend/backend pair per layer-7 service; TLS with its certificates (under root)."""
    result = []
    for service in config.virtual_services:
        if service.layer != 7:
            continue
        persistence = service.persistence
        ports = service_ports(service.port, service.extra_ports)
        sorry = _endpoint(service.sorry_server, service.port)
        result.append(
            {
                "name": service.name,
                "address": bracketed(service.address),  # bind [2001:db8::100]:80
                "client_table": "ipv6" if ip_address(service.address).version == 6 else "ip",  # source-ip stick tables
                "ports": ports,
                "mode": "tcp" if service.server_initiating or (persistence and persistence.mode == "ssl-session-id") else "http",
                "tos": QOS_CLASSES.get(service.tos) if isinstance(service.tos, str) else service.tos,
                "idle_timeout": service.idle_timeout or IDLE_TIMEOUT_DEFAULT,
                "retry_requests": service.retry_requests,
                "acme_challenge": acme_http.answers_in_frontend(config, service),
                "tls": {"certificates": tls_certificates(config, service, root)} if service.tls else None,
                "sorry_server": sorry and sorry | {"address": bracketed(sorry["address"])},
                "balance": service.scheduler,
                "balance_param": service.scheduler_param,
                "persistence": None
                if persistence is None
                else {"mode": persistence.mode, "timeout": persistence.timeout, "name": persistence.name or "SERVERID"},
                "check": _check(service),
                "servers": _haproxy_servers(service),
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
        "keepalived_lvs_timeouts": lvs_timeouts(config),
        "haproxy_services": haproxy_services(config, root),
        "haproxy_appliance_certificate": str(Path(root) / APPLIANCE_CERTIFICATE),
        "haproxy_peers": haproxy_peers(config),
        "haproxy_acme": haproxy_acme(config),
        "haproxy_peers_port": HAPROXY_PEERS_PORT,
        **host_service_vars(config),
    }


def haproxy_acme(config: ApplianceConfig) -> dict | None:
    """This unit's ACME account thumbprint, which HAProxy answers HTTP-01 tokens with, and the addresses that
    get a port-80 listener for it (config/acme_http.py); None without an account."""
    if config.acme is None:
        return None
    return {"thumbprint": config.acme.thumbprint, "listeners": [bracketed(a) for a in acme_http.listener_addresses(config)]}


def lvs_timeouts(config: ApplianceConfig) -> dict[str, int]:
    """IPVS's idle timeouts (global in the kernel) from the layer-4 services that set one (verify makes
    them agree), by keepalived's lvs_timeouts names; the kernel's own defaults for the rest."""
    found = {}
    for service in config.virtual_services:
        if service.layer == 4 and service.idle_timeout:
            found.setdefault(service.protocol, service.idle_timeout)
    return found


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
