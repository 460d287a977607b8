"""Semantic checks of an ApplianceConfig: the only place configuration errors come from.

verify() never edits the config it checks and never raises on odd input: every problem comes back at
once as a Problem whose field is the config path and whose message uses the admin's own names for
things and says what would be right. Nothing is applied while any problem remains.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, fields, is_dataclass

from . import model, sshkeys, verify_access, verify_host
from .addressing import (
    IPv4Address,
    IPv4Interface,
    host_address_problem,
    parse_address,
    parse_cidr,
    parse_port_list,
    parse_prefix,
    service_ports,
)
from .model import ApplianceConfig, HighAvailability, RealServer, VirtualService

# Names end up inside keepalived.conf, haproxy.cfg and file names: letters, digits, _ . - only.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
HOSTNAME_PATTERN = re.compile(r"^(?=.{1,63}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$")
INTERFACE_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,14}$")
# Cookie, header and query-item names: the plain subset of HTTP token characters. '#' starts a comment
# in haproxy.cfg, quotes and '$' are parsed there too; no real header or cookie needs them.
TOKEN_PATTERN = re.compile(r"^[0-9A-Za-z_.-]{1,64}$")
# no '!' or '#' (comments in keepalived.conf and haproxy.cfg), no quotes or '$' (HAProxy's own syntax)
URL_PATH_PATTERN = re.compile(r"^/[A-Za-z0-9._~&()*+,;=:@%/?-]*$")
SCRIPT_PATTERN = re.compile(r"^/[A-Za-z0-9._/-]+( [A-Za-z0-9._/=:-]+)*$")
NAME_RULE = "use 1-32 letters, digits, '_', '.' or '-', starting with a letter or digit"
LAYER7_WEIGHT_MAX = 256  # HAProxy's limit
IPVS_SH_BUCKETS = 256  # ip_vs_sh's table: one bucket per weight unit of each server, in turn
HAPROXY_TIMER_MAX = 2147483  # seconds: HAProxy's timers are milliseconds in a signed 32-bit int


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config: where (a config path) and what to do about it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass
class _Subnets:
    """The addresses this unit owns, parsed once for all the rules."""

    external: tuple[str, IPv4Interface] | None = None
    internal: tuple[str, IPv4Interface] | None = None

    def all(self) -> list[tuple[str, IPv4Interface]]:
        return [s for s in (self.external, self.internal) if s]

    def holding(self, address: IPv4Address) -> tuple[str, IPv4Interface] | None:
        for name, iface in self.all():
            if address in iface.network:
                return name, iface
        return None


def verify(config: ApplianceConfig) -> list[Problem]:
    """Every problem with the config, in document order; an empty list means it may be applied."""
    problems: list[Problem] = []
    try:
        problems.extend(_verify(config))
    except (TypeError, AttributeError, ValueError) as exc:  # a shape the loader let through
        problems.append(Problem("config", f"cannot be checked: {exc}"))
    unique: dict[tuple[str, str], Problem] = {}
    for problem in problems:
        unique.setdefault((problem.field, problem.message), problem)
    return list(unique.values())


def _verify(config: ApplianceConfig) -> Iterator[Problem]:
    if config.version != model.SCHEMA_VERSION:
        yield Problem("version", f"must be {model.SCHEMA_VERSION}")
    if not isinstance(config.hostname, str) or not HOSTNAME_PATTERN.fullmatch(config.hostname):
        yield Problem("hostname", f"{config.hostname!r} is not a host name; use letters, digits and '-' (max 63)")
    subnets = _Subnets()
    yield from _check_interfaces(config, subnets)
    yield from _check_gateway_and_dns(config, subnets)
    if config.ha is not None:
        yield from _check_ha(config, config.ha, subnets)
    yield from _check_virtual_services(config, subnets)
    yield from _check_duplicate_addresses(config)
    yield from _check_fwmark_groups(config)
    yield from _check_asked_port(config)
    yield from _check_ipvs_timeouts(config)
    yield from (Problem(field, message) for field, message in verify_access.check(config))
    yield from (Problem(field, message) for field, message in verify_host.check(config))
    yield from _check_spaces(config, "")


def _check_spaces(value: object, field: str) -> Iterator[Problem]:
    """Text with spaces around it: the checks read it stripped, the engines' files would get it as it is."""
    if isinstance(value, str):
        if value != value.strip() and field.rpartition(".")[2] not in ("comment",):
            yield Problem(field, f"{value!r} has spaces around it; write {value.strip()!r}")
    elif is_dataclass(value):
        for item in fields(value):
            yield from _check_spaces(getattr(value, item.name), f"{field}.{item.name}".lstrip("."))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _check_spaces(item, f"{field}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _check_spaces(item, f"{field}.{key}")


def _check_fwmark_groups(config: ApplianceConfig) -> Iterator[Problem]:
    """Services sharing a mark become one IPVS service with one destination per real server, which takes
    each connection to the port the client asked for. Port following (001) needs the same real servers,
    the same persistence, and persistence on: without it the mark shares nothing between the ports."""
    groups: dict[int, list[tuple[int, VirtualService]]] = {}
    for index, service in enumerate(config.virtual_services or []):
        mark = service.fwmark
        if mark is None:
            continue
        field = f"virtual_services[{index}].fwmark"
        if not _is_int_in(mark, 1, model.ADMIN_FWMARK_MAX):
            yield Problem(
                field,
                f"{mark!r} is not a firewall mark; use 1-{model.ADMIN_FWMARK_MAX} (the marks above are the appliance's own)",
            )
            continue
        if service.layer != 4:
            yield Problem(field, f"virtual service {service.name!r}: firewall marks group layer 4 (IPVS) services only")
            continue
        groups.setdefault(mark, []).append((index, service))
    for mark, members in groups.items():
        if len(members) > 1:
            yield from _check_fwmark_group(mark, members)


def _check_fwmark_group(mark: int, members: list[tuple[int, VirtualService]]) -> Iterator[Problem]:
    first_index, first = members[0]
    for index, service in members:
        if service.persistence is None:
            yield Problem(
                f"virtual_services[{index}].persistence",
                f"virtual service {service.name!r} shares mark {mark} with "
                f"{', '.join(repr(s.name) for _, s in members if s is not service)} but has no persistence; only "
                "persistence keeps a client's connections to the ports of one mark on one real server (001, 004): "
                "set the same persistence on each service of the mark, or remove the mark",
            )
    for index, service in members[1:]:
        field = f"virtual_services[{index}].fwmark"
        shared = ("address", "forwarding", "scheduler", "persistence", "agent_port")
        differs = [name for name in shared if getattr(service, name) != getattr(first, name)]
        if differs:
            yield Problem(
                field,
                f"virtual service {service.name!r} shares mark {mark} with {first.name!r} but not its {differs[0]}; "
                "services of one mark are one IPVS service and must agree on address, forwarding, scheduler, "
                "persistence and agent port",
            )
            continue
        yield from _check_same_servers(mark, (first_index, first), (index, service))


SHARED_SERVER_SETTINGS = ("weight", "min_conns", "max_conns", "state")


def _check_same_servers(mark: int, first: tuple[int, VirtualService], other: tuple[int, VirtualService]) -> Iterator[Problem]:
    """001: port following needs the same real servers; in IPVS they are one destination each."""
    (_, one), (index, service) = first, other
    mine = {str(s.address): s for s in one.real_servers if isinstance(s, RealServer)}
    theirs = {str(s.address): s for s in service.real_servers if isinstance(s, RealServer)}
    field = f"virtual_services[{index}].real_servers"
    for address in [a for a in mine if a not in theirs] + [a for a in theirs if a not in mine]:
        has, lacks = (one, service) if address in mine else (service, one)
        yield Problem(
            field,
            f"real server {address} is in {has.name!r} but not in {lacks.name!r}, which shares mark {mark}; "
            "the services of one mark need the same real servers (001), or a client following its server "
            "from one port to the other finds nothing there: add it to both or remove it from both",
        )
    for rindex, server in enumerate(service.real_servers):
        twin = mine.get(str(server.address))
        if twin is None:
            continue
        for name in SHARED_SERVER_SETTINGS:
            if getattr(server, name) != getattr(twin, name):
                yield Problem(
                    f"{field}[{rindex}].{name}",
                    f"real server {server.address} has {name} {getattr(twin, name)!r} in {one.name!r} but "
                    f"{getattr(server, name)!r} in {service.name!r}; in mark {mark} it is one IPVS destination, "
                    "so both must say the same (lbctl changes it in every service of the mark)",
                )
                break


def _check_ipvs_timeouts(config: ApplianceConfig) -> Iterator[Problem]:
    """IPVS has one idle timeout for TCP and one for UDP, for the whole kernel: layer-4 services agree."""
    first: dict[str, VirtualService] = {}
    for index, service in enumerate(config.virtual_services or []):
        if service.layer != 4 or not _is_int_in(service.idle_timeout, 1, HAPROXY_TIMER_MAX):
            continue
        other = first.setdefault(str(service.protocol), service)
        if other.idle_timeout != service.idle_timeout:
            yield Problem(
                f"virtual_services[{index}].idle_timeout",
                f"virtual service {service.name!r} has idle timeout {service.idle_timeout} s but {other.name!r} "
                f"{other.idle_timeout} s; IPVS's idle timeout is one for all {service.protocol.upper()} services of "
                "the kernel: give them the same, or 0 (the kernel's default)",
            )


def _check_asked_port(config: ApplianceConfig) -> Iterator[Problem]:
    """A marked layer-4 service (port following, or extra ports) forwards each connection to the port the
    client asked for: IPVS destinations of a mark have port 0, so no port can be translated."""
    marks = model.ipvs_marks(config)
    for index, service in enumerate(config.virtual_services or []):
        if service.name not in marks or service.forwarding != "nat" or not isinstance(service.real_servers, list):
            continue
        why = f"shares mark {service.fwmark} (one IPVS service)" if service.fwmark else "has extra ports (one IPVS service)"
        for rindex, server in enumerate(service.real_servers):
            if _is_int_in(server.port, 1, 65535) and server.port != service.port:
                yield Problem(
                    f"virtual_services[{index}].real_servers[{rindex}].port",
                    f"virtual service {service.name!r} {why}, which takes each connection to the port the client "
                    f"asked for, so real server {server.name!r} cannot be reached on {server.port}: "
                    f"use port {service.port}, or give the service no extra ports and no mark",
                )


def _check_interfaces(config: ApplianceConfig, subnets: _Subnets) -> Iterator[Problem]:
    if config.topology not in model.TOPOLOGIES:
        yield Problem("topology", f"{config.topology!r} is not a topology; choose one-arm or two-arm")
        return
    if not isinstance(config.interfaces, dict) or not config.interfaces:
        yield Problem("interfaces", "no interface configured; eth0 (external) is required")
        return
    for name, iface in config.interfaces.items():
        field = f"interfaces.{name}"
        if not INTERFACE_NAME_PATTERN.fullmatch(name):
            yield Problem(field, f"{name!r} is not an interface name like eth0")
            continue
        if iface.role not in model.INTERFACE_ROLES:
            yield Problem(f"{field}.role", f"{iface.role!r} is not a role; choose external or internal")
            continue
        try:
            parsed = parse_cidr(iface.address)
        except ValueError as exc:
            yield Problem(f"{field}.address", str(exc))
            continue
        slot = "external" if iface.role == "external" else "internal"
        if getattr(subnets, slot) is not None:
            yield Problem(
                f"{field}.role",
                f"only one {slot} interface is supported; {subnets.__dict__[slot][0]} is already {slot}",
            )
            continue
        setattr(subnets, slot, (name, parsed))
    roles = [i.role for i in config.interfaces.values()]
    if "external" not in roles:
        yield Problem("interfaces", "no external interface; the one clients reach (eth0) needs role external")
    if config.topology == "one-arm" and "internal" in roles:
        yield Problem("topology", "one-arm uses a single interface; remove the internal interface or choose two-arm")
    if config.topology == "two-arm" and "internal" not in roles:
        yield Problem("topology", "two-arm needs an internal interface (eth1) for the real servers; add it or choose one-arm")
    if subnets.external and subnets.internal:
        (ext_name, ext), (int_name, internal) = subnets.external, subnets.internal
        if ext.network.overlaps(internal.network):
            yield Problem(
                f"interfaces.{int_name}.address",
                f"{internal.network} overlaps {ext_name}'s {ext.network}; two-arm needs two separate subnets",
            )


def _check_gateway_and_dns(config: ApplianceConfig, subnets: _Subnets) -> Iterator[Problem]:
    if config.gateway is not None:
        try:
            gateway = parse_address(config.gateway)
        except ValueError as exc:
            yield Problem("gateway", str(exc))
        else:
            yield from _check_host_on_subnet("gateway", gateway, subnets, "the default gateway")
    if not isinstance(config.nameservers, list):
        yield Problem("nameservers", "expected a list of addresses")
        return
    for index, server in enumerate(config.nameservers):
        try:
            parse_address(server)
        except ValueError as exc:
            yield Problem(f"nameservers[{index}]", str(exc))


def _check_host_on_subnet(field: str, address: IPv4Address, subnets: _Subnets, what: str) -> Iterator[Problem]:
    """An address this unit must reach directly: inside one of its subnets and a host address there."""
    if not subnets.all():
        return
    holder = subnets.holding(address)
    if holder is None:
        nets = " or ".join(f"{name}'s {iface.network}" for name, iface in subnets.all())
        yield Problem(field, f"{what} {address} is outside every configured subnet; it must be inside {nets}")
        return
    problem = host_address_problem(address, holder[1].network)
    if problem:
        yield Problem(field, problem)


def _check_ha(config: ApplianceConfig, ha: HighAvailability, subnets: _Subnets) -> Iterator[Problem]:
    if ha.role not in model.HA_ROLES:
        yield Problem("ha.role", f"{ha.role!r} is not a role; choose master or backup")
    if not _is_int_in(ha.vrrp_id, 1, 255):
        yield Problem("ha.vrrp_id", f"{ha.vrrp_id!r} is not a VRRP id; use 1-255, the same on both units")
    advert = ha.advert_interval
    if isinstance(advert, bool) or not isinstance(advert, (int, float)) or not 0.01 <= advert <= 40:
        yield Problem("ha.advert_interval", f"{advert!r} is not an advert interval; use 0.01-40 seconds (VRRPv3)")
    if ha.preempt not in (True, False):
        yield Problem("ha.preempt", f"{ha.preempt!r} is not yes or no")
    if not _is_int_in(ha.shared_version, 0, 2**31):
        yield Problem("ha.shared_version", f"{ha.shared_version!r} is not a version (a whole number, 0 or more)")
    if ha.pair_key is not None:
        try:
            if not sshkeys.parse_key(ha.pair_key).startswith("ssh-ed25519 "):
                yield Problem("ha.pair_key", "the pair key is an ed25519 key (lbctl pair join makes it)")
        except sshkeys.SSHKeyError as exc:
            yield Problem("ha.pair_key", str(exc))
    own = {iface.ip for _, iface in subnets.all()}
    if ha.peer is None:
        yield Problem("ha.peer", "an HA pair needs the other unit's address")
    else:
        try:
            peer = parse_address(ha.peer)
        except ValueError as exc:
            yield Problem("ha.peer", str(exc))
        else:
            if peer in own:
                yield Problem("ha.peer", f"{peer} is this unit's own address; give the other unit's address")
            elif subnets.external:
                ext_name, ext = subnets.external
                if peer not in ext.network:
                    yield Problem("ha.peer", f"the peer {peer} must be on {ext_name}'s subnet {ext.network}, where VRRP runs")
                elif problem := host_address_problem(peer, ext.network):
                    yield Problem("ha.peer", problem)
    floating = ha.floating
    wanted = [("external", floating.external, subnets.external)]
    if config.topology == "two-arm":
        wanted.append(("internal", floating.internal, subnets.internal))
    elif floating.internal is not None:
        yield Problem("ha.floating.internal", "a one-arm pair has no internal side; leave it empty or choose two-arm")
    for side, value, subnet in wanted:
        field = f"ha.floating.{side}"
        if value is None:
            reason = "the VIP" if side == "external" else "the real servers' default gateway"
            yield Problem(field, f"an HA pair needs a floating {side} address for {reason}")
            continue
        try:
            address = parse_address(value)
        except ValueError as exc:
            yield Problem(field, str(exc))
            continue
        if subnet is None:
            continue
        if address not in subnet[1].network:
            yield Problem(field, f"floating {side} address {address} must be inside {subnet[0]}'s subnet {subnet[1].network}")
        elif problem := host_address_problem(address, subnet[1].network):
            yield Problem(field, problem)


def _is_int_in(value: object, low: int, high: int) -> bool:
    """An integer (not a bool, which YAML's yes/no would give) between low and high inclusive."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _check_name(name: object, field: str, duplicate: str, seen: set[str]) -> Iterator[Problem]:
    """Names go into daemon configs and file names: safe characters only, and unique in their list."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        yield Problem(f"{field}.name", f"{name!r} is not a usable name; {NAME_RULE}")
    elif name in seen:
        yield Problem(f"{field}.name", duplicate)
    seen.add(str(name))


def _check_virtual_services(config: ApplianceConfig, subnets: _Subnets) -> Iterator[Problem]:
    if not isinstance(config.virtual_services, list):
        yield Problem("virtual_services", "expected a list")
        return
    seen_names: set[str] = set()
    listeners: dict[tuple[str, str, int], str] = {}
    for index, service in enumerate(config.virtual_services):
        field = f"virtual_services[{index}]"
        label = f"virtual service {service.name!r}"
        yield from _check_name(service.name, field, f"{label} is defined twice; give each service its own name", seen_names)
        vip = yield from _check_vip(config, service, field, label, subnets)
        ports = yield from _check_ports(service, field, label)
        yield from _check_unit_ports(config, service, field, label, ports)
        for port in ports:
            key = (str(vip or service.address), str(service.protocol), port)
            if vip is not None and key in listeners:
                yield Problem(
                    f"{field}.port", f"{label} uses {vip}:{port}/{service.protocol}, already used by {listeners[key]!r}"
                )
                break
            listeners[key] = str(service.name)
        yield from _check_method(config, service, field, label, subnets)
        yield from _check_persistence(service, field, label)
        yield from _check_health(service, field, label)
        yield from _check_real_servers(config, service, field, label, vip, subnets)
        yield from _check_service_extras(config, service, field, label)
        yield from _check_source_address(service, field, label, subnets)


HTTP_PERSISTENCE = tuple(m for m in model.PERSISTENCE_MODES if m not in ("source-ip", "ssl-session-id", "sip"))


def _check_service_extras(config: ApplianceConfig, service: VirtualService, field: str, label: str):
    """Sorry server, quorum, ToS and server-initiating protocols: each only where its engine has it."""
    if service.sorry_server is not None:
        address, _, port = str(service.sorry_server).partition(":")
        try:
            parse_address(address)
        except ValueError as exc:
            yield Problem(f"{field}.sorry_server", str(exc))
        if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            yield Problem(f"{field}.sorry_server", f"{port!r} is not a port; use ADDRESS or ADDRESS:PORT with 1-65535")
    if service.quorum is not None:
        if service.layer != 4:
            yield Problem(f"{field}.quorum", f"{label}: quorum is a layer 4 (keepalived) setting; remove it at layer 7")
        elif not _is_int_in(service.quorum, 1, model.WEIGHT_MAX):
            yield Problem(f"{field}.quorum", f"{service.quorum!r} is not a quorum; use a total weight of 1-{model.WEIGHT_MAX}")
        elif service.quorum > (total := sum(s.weight for s in service.real_servers if isinstance(s.weight, int))):
            yield Problem(
                f"{field}.quorum",
                f"{label}: quorum {service.quorum} is more than the weight of all its real servers together ({total}); "
                "the service could never be up",
            )
    if service.tos is not None:
        if service.layer != 7:
            yield Problem(f"{field}.tos", f"{label}: ToS marking is done by HAProxy; set layer 7 or remove it")
        elif service.tos not in model.QOS_CLASSES and not _is_int_in(service.tos, 0, 255):
            yield Problem(
                f"{field}.tos",
                f"{service.tos!r} is not a QoS class or ToS byte; use one of {', '.join(model.QOS_CLASSES)}, or 0-255 "
                "(DSCP times 4: 184 = EF)",
            )
    if not _is_int_in(service.idle_timeout, 0, HAPROXY_TIMER_MAX):
        yield Problem(
            f"{field}.idle_timeout",
            f"{service.idle_timeout!r} is not an idle timeout; use 0 (the default) to {HAPROXY_TIMER_MAX} s",
        )
    if service.retry_requests not in (True, False):
        yield Problem(f"{field}.retry_requests", f"{service.retry_requests!r} is not yes or no")
    elif service.layer == 4 and not service.retry_requests:
        yield Problem(f"{field}.retry_requests", f"{label}: requests are retried by HAProxy, at layer 7; remove it")
    yield from _check_tls(service, field, label)
    yield from _check_server_nat(config, service, field, label)
    yield from _check_agent(service, field, label)
    yield from _check_response_weights(service, field, label)
    if service.server_initiating not in (True, False):
        yield Problem(f"{field}.server_initiating", f"{service.server_initiating!r} is not yes or no")
    elif service.server_initiating:
        if service.layer != 7:
            yield Problem(f"{field}.server_initiating", f"{label}: layer 4 always forwards at once; this is a layer 7 setting")
        elif service.persistence is not None and service.persistence.mode in HTTP_PERSISTENCE:
            yield Problem(
                f"{field}.server_initiating",
                f"{label}: {service.persistence.mode} persistence reads HTTP, which a server-initiating (TCP) service "
                "never parses; use source-ip",
            )
        elif service.health_check.type in ("http", "https"):
            yield Problem(f"{field}.server_initiating", f"{label}: an HTTP health check needs HTTP; use a tcp check")


def _check_agent(service: VirtualService, field: str, label: str):
    """002's adaptive scheduling: the servers' agents set their weights, which the scheduler must use live."""
    if service.agent_port is None:
        return
    if not _is_int_in(service.agent_port, 1, 65535):
        yield Problem(f"{field}.agent_port", f"{service.agent_port!r} is not a port; use 1-65535, or none for fixed weights")
        return
    allowed = model.ADAPTIVE_SCHEDULERS.get(service.layer, ())
    if service.scheduler not in allowed:
        yield Problem(
            f"{field}.scheduler",
            f"{label}: with an agent the servers' weights change while it runs, which {service.scheduler} does not "
            f"follow; use {' or '.join(allowed)}",
        )


def _check_response_weights(service: VirtualService, field: str, label: str):
    """002's Weighted Response Time: weights from the checks' response times, so a check must run and the
    scheduler must follow live weights; an agent would set the same weights another way."""
    if service.response_weights not in (True, False):
        yield Problem(f"{field}.response_weights", f"{service.response_weights!r} is not yes or no")
        return
    if not service.response_weights:
        return
    allowed = model.ADAPTIVE_SCHEDULERS.get(service.layer, ())
    if service.agent_port is not None:
        yield Problem(
            f"{field}.response_weights",
            f"{label}: the servers' agents already set their weights (agent_port); choose one of the two",
        )
    elif service.health_check.type not in ("tcp", "http", "https"):
        yield Problem(
            f"{field}.response_weights",
            f"{label}: response times are measured on the health check; use a tcp, http or https check",
        )
    elif service.scheduler not in allowed:
        yield Problem(
            f"{field}.scheduler",
            f"{label}: with weighted response time the servers' weights change while it runs, which "
            f"{service.scheduler} does not follow; use {' or '.join(allowed)}",
        )


def _check_server_nat(config: ApplianceConfig, service: VirtualService, field: str, label: str):
    """The VIP as the servers' outbound source: their connections must pass this unit's masquerade."""
    if service.server_nat not in (True, False):
        yield Problem(f"{field}.server_nat", f"{service.server_nat!r} is not yes or no")
        return
    if not service.server_nat:
        return
    external, internal = config.external_interface(), config.internal_interface()
    if config.topology != "two-arm" or external is None or internal is None:
        yield Problem(f"{field}.server_nat", f"{label}: the servers' outbound traffic passes this unit only in two-arm")
        return
    if not all(_parses_as_interface(text) for text in (external[1].address, internal[1].address, service.address)):
        return  # reported where the address is
    outside, inside = IPv4Interface(external[1].address).network, IPv4Interface(internal[1].address).network
    if IPv4Interface(service.address).ip not in outside:
        yield Problem(
            f"{field}.server_nat",
            f"{label}: its VIP must be on the external subnet {outside}, where the servers' connections leave",
        )
    for index, server in enumerate(service.real_servers):
        if _parses_as_interface(server.address) and IPv4Interface(server.address).ip not in inside:
            yield Problem(
                f"{field}.real_servers[{index}].address",
                f"{label} real server {server.name!r}: server NAT needs it on the internal subnet {inside}, behind this unit",
            )


def _check_source_address(service: VirtualService, field: str, label: str, subnets: _Subnets):
    """Layer 7's source address towards the real servers: the client's (transparent), this unit's or the VIP."""
    for name in ("transparent", "subnet_originating"):
        if getattr(service, name) not in (True, False):
            yield Problem(f"{field}.{name}", f"{getattr(service, name)!r} is not yes or no")
            return
    if service.layer != 7:
        if service.transparent:
            yield Problem(
                f"{field}.transparent",
                f"{label}: layer 4 is transparent already (the servers see the client's address); this is a layer 7 setting",
            )
        if not service.subnet_originating:
            yield Problem(f"{field}.subnet_originating", f"{label}: the source address is chosen by HAProxy, at layer 7")
        return
    if service.transparent and not service.subnet_originating:
        yield Problem(
            f"{field}.subnet_originating",
            f"{label}: a transparent service connects from the client's own address, never from the VIP; "
            "remove subnet_originating: no, or transparent",
        )
    if not service.transparent or not isinstance(service.real_servers, list):
        return
    for index, server in enumerate(service.real_servers):
        try:
            address = parse_address(server.address)
        except ValueError:
            continue  # reported with the real server
        if subnets.all() and subnets.holding(address) is None:
            yield Problem(
                f"{field}.real_servers[{index}].address",
                f"{label} real server {server.name!r}: with transparency the server answers the client's own address, "
                "so its default gateway must be this unit, which needs it on one of this unit's subnets; "
                "move it there or turn transparent off",
            )


CERTIFICATE_PATH = re.compile(r"^/[A-Za-z0-9_./-]+$")


def _check_tls(service: VirtualService, field: str, label: str):
    if service.tls not in (True, False):
        yield Problem(f"{field}.tls", f"{service.tls!r} is not yes or no")
        return
    if service.tls_certificate is not None and (
        not isinstance(service.tls_certificate, str)
        or not CERTIFICATE_PATH.fullmatch(service.tls_certificate)
        or ".." in service.tls_certificate
    ):
        yield Problem(f"{field}.tls_certificate", f"{service.tls_certificate!r} is not an absolute path of plain characters")
    if not service.tls:
        if service.tls_certificate is not None:
            yield Problem(
                f"{field}.tls_certificate", f"{label}: a certificate without tls: yes is never used; set tls or remove it"
            )
        return
    if service.layer != 7:
        yield Problem(
            f"{field}.tls", f"{label}: TLS is terminated by HAProxy; set layer 7 (layer 4 passes TLS through untouched)"
        )
    elif service.persistence is not None and service.persistence.mode == "ssl-session-id":
        yield Problem(
            f"{field}.tls",
            f"{label}: ssl-session-id persistence reads the TLS hello that terminating TLS here consumes; "
            "use active-cookie or source-ip",
        )


def _check_vip(config: ApplianceConfig, service: VirtualService, field: str, label: str, subnets: _Subnets):
    try:
        vip = parse_address(service.address)
    except ValueError as exc:
        yield Problem(f"{field}.address", str(exc))
        return None
    holder = subnets.holding(vip)
    if subnets.all() and holder is None:
        nets = " or ".join(f"{n}'s {i.network}" for n, i in subnets.all())
        yield Problem(f"{field}.address", f"{label}'s address {vip} is on no subnet of this unit; use an address in {nets}")
    elif holder and (problem := host_address_problem(vip, holder[1].network)):
        yield Problem(f"{field}.address", problem)
    if config.ha is not None and vip in {iface.ip for _, iface in subnets.all()}:
        yield Problem(
            f"{field}.address",
            f"{label} is on {vip}, this unit's own address, which would not move to the peer; use the floating address",
        )
    return vip


def _check_unit_ports(config: ApplianceConfig, service: VirtualService, field: str, label: str, ports: list[int]):
    """Ports this unit itself listens on: a service there would take them from it (IPVS catches the
    packets before the unit's own sshd sees them; HAProxy cannot bind them), locking the admin out."""
    own = {str(IPv4Interface(i.address).ip) for i in config.interfaces.values() if _parses_as_interface(i.address)}
    taken = {22: ("tcp", "SSH, this unit's own management", True)}
    if config.ha is not None:
        taken[model.HAPROXY_PEERS_PORT] = ("tcp", "HAProxy's peers (stick tables shared with the other unit)", False)
    for port, what in verify_host.metrics_ports(config).items():
        taken.setdefault(port, ("tcp", what, False))
    for port in ports:
        if port not in taken:
            continue
        protocol, what, everywhere = taken[port]
        if service.protocol == protocol and (everywhere or service.address in own):
            where = "port" if port == service.port else "extra_ports"
            yield Problem(
                f"{field}.{where}",
                f"{label} would take {service.address}:{port}/{protocol}, which is {what}; choose another port",
            )


def _parses_as_interface(text: object) -> bool:
    try:
        IPv4Interface(str(text))
    except ValueError:
        return False
    return True


def _check_ports(service: VirtualService, field: str, label: str):
    if not _is_int_in(service.port, 1, 65535):
        yield Problem(f"{field}.port", f"{service.port!r} is not a port; use 1-65535")
        return []
    if not service.extra_ports:
        return [service.port]
    try:
        ports = service_ports(service.port, str(service.extra_ports))
    except ValueError as exc:
        yield Problem(f"{field}.extra_ports", str(exc))
        return [service.port]
    if len(ports) - 1 > model.MAX_EXTRA_PORTS:
        yield Problem(
            f"{field}.extra_ports",
            f"{len(ports) - 1} extra ports; at most {model.MAX_EXTRA_PORTS} are allowed, use fewer or another service",
        )
        return [service.port]
    return ports


def _check_method(config: ApplianceConfig, service: VirtualService, field: str, label: str, subnets: _Subnets):
    if service.protocol not in model.PROTOCOLS:
        yield Problem(f"{field}.protocol", f"{service.protocol!r} is not a protocol; choose tcp or udp")
    if service.layer not in (4, 7) or isinstance(service.layer, bool):
        yield Problem(f"{field}.layer", f"{service.layer!r} is not a layer; choose 4 (IPVS) or 7 (HAProxy)")
        return
    allowed = model.LAYER4_FORWARDING if service.layer == 4 else model.LAYER7_FORWARDING
    if service.forwarding not in allowed:
        yield Problem(
            f"{field}.forwarding",
            f"{service.forwarding!r} is not a layer {service.layer} method; choose {' or '.join(allowed)}"
            + (" (layer 7 is always snat)" if service.layer == 7 else ""),
        )
    if service.layer == 7 and service.protocol == "udp":
        yield Problem(f"{field}.protocol", f"{label}: layer 7 (HAProxy) proxies TCP only; use layer 4 for UDP")
    if service.forwarding == "nat" and config.topology == "one-arm":
        yield Problem(
            f"{field}.forwarding",
            f"{label}: NAT needs the real servers' replies to route back through the load balancer's internal side, "
            "which a one-arm unit does not have; choose dr, or snat (layer 7), or a two-arm topology",
        )
    schedulers = model.LAYER4_SCHEDULERS if service.layer == 4 else model.LAYER7_SCHEDULERS
    if service.scheduler in model.REFERENCE_SCHEDULERS:
        yield Problem(
            f"{field}.scheduler",
            f"{service.scheduler} is the reference's name; here it is {model.REFERENCE_SCHEDULERS[service.scheduler]}",
        )
    elif service.scheduler not in schedulers:
        yield Problem(
            f"{field}.scheduler",
            f"{service.scheduler!r} is not a layer {service.layer} scheduler; choose one of {', '.join(schedulers)}",
        )
    elif service.scheduler in model.SCHEDULERS_NEEDING_PARAM:
        if not isinstance(service.scheduler_param, str) or not TOKEN_PATTERN.fullmatch(service.scheduler_param):
            yield Problem(
                f"{field}.scheduler_param",
                f"{service.scheduler} balancing needs a header or parameter name (letters, digits, '-', '_')",
            )
    elif service.scheduler_param is not None:
        yield Problem(f"{field}.scheduler_param", f"{service.scheduler} takes no parameter; remove it")
    if service.layer == 4 and service.scheduler == "sh" and isinstance(service.real_servers, list):
        weights = [s.weight for s in service.real_servers if _is_int_in(s.weight, 0, model.WEIGHT_MAX)]
        if sum(weights) > IPVS_SH_BUCKETS:
            yield Problem(
                f"{field}.scheduler",
                f"{label}: sh gives each real server as many of IPVS's {IPVS_SH_BUCKETS} hash buckets as its weight, in "
                f"turn, so weights adding up to {sum(weights)} leave the last servers without any (002's slot problem); "
                f"keep the weights' sum at {IPVS_SH_BUCKETS} or less, or use mh, which hashes by weight over 65521 slots",
            )


def _check_persistence(service: VirtualService, field: str, label: str):
    persistence = service.persistence
    if persistence is None:
        return
    field = f"{field}.persistence"
    if persistence.mode not in model.PERSISTENCE_MODES:
        yield Problem(
            f"{field}.mode",
            f"{persistence.mode!r} is not a persistence mode; choose one of {', '.join(model.PERSISTENCE_MODES)}",
        )
        return
    if persistence.mode == "sip":
        if service.layer != 4 or service.protocol != "udp":
            yield Problem(
                f"{field}.mode",
                f"{label}: SIP persistence is IPVS's SIP engine, which reads SIP over UDP at layer 4; "
                "set layer 4 and protocol udp, or use source-ip",
            )
        if persistence.name is not None and str(persistence.name).lower() != model.SIP_KEY_HEADER.lower():
            yield Problem(
                f"{field}.name",
                f"{label}: IPVS's SIP engine keys on the {model.SIP_KEY_HEADER} header only, not {persistence.name!r}; "
                f"leave the name empty or write {model.SIP_KEY_HEADER}",
            )
    elif service.layer == 4 and persistence.mode not in model.LAYER4_PERSISTENCE_MODES:
        yield Problem(
            f"{field}.mode",
            f"{label}: {persistence.mode} reads HTTP or TLS data, which layer 4 (IPVS) never sees; use source-ip or set layer 7",
        )
    elif persistence.mode == "ssl-session-id" and service.protocol != "tcp":
        yield Problem(f"{field}.mode", "ssl-session-id persistence needs a TCP service")
    timeout = persistence.timeout
    if not _is_int_in(timeout, model.PERSISTENCE_TIMEOUT_MIN, model.PERSISTENCE_TIMEOUT_MAX):
        yield Problem(
            f"{field}.timeout",
            f"{timeout!r} is not a persistence timeout; use 60 s (one minute) to 2419200 s (28 days)",
        )
    elif service.layer == 7 and timeout > HAPROXY_TIMER_MAX and persistence.mode != "active-cookie":
        yield Problem(
            f"{field}.timeout",
            f"{label}: HAProxy's stick tables keep an entry at most 24.8 days ({HAPROXY_TIMER_MAX} s); use a shorter "
            "timeout, or active-cookie persistence, whose cookie may live 28 days",
        )
    yield from _check_refresh(service, persistence, field, label)
    if persistence.netmask is not None:
        if persistence.mode not in ("source-ip",) or service.layer != 4:
            yield Problem(f"{field}.netmask", "subnet granularity applies to layer 4 source-ip persistence only; remove it")
        else:
            try:
                parse_prefix(persistence.netmask)
            except ValueError as exc:
                yield Problem(f"{field}.netmask", str(exc))
    if persistence.mode in model.PERSISTENCE_MODES_NEEDING_NAME:
        if not isinstance(persistence.name, str) or not TOKEN_PATTERN.fullmatch(persistence.name):
            yield Problem(
                f"{field}.name",
                f"{persistence.mode} needs the cookie, header or query item name (letters, digits, '-', '_')",
            )
    elif persistence.name is not None and persistence.mode not in ("active-cookie", "active-cookie-or-source-ip", "sip"):
        yield Problem(f"{field}.name", f"{persistence.mode} takes no name; remove it")
    elif persistence.name is not None and persistence.mode != "sip" and not TOKEN_PATTERN.fullmatch(str(persistence.name)):
        yield Problem(f"{field}.name", "a cookie name uses letters, digits, '-' and '_' only")


def _check_refresh(service: VirtualService, persistence: model.Persistence, field: str, label: str):
    """Refresh Persist: 002 offers it from 4 days on; at layer 7 only where the key is the client's address."""
    if persistence.refresh in (False, None):
        return
    if persistence.refresh is not True:
        yield Problem(f"{field}.refresh", f"{persistence.refresh!r} is not yes or no")
    elif isinstance(persistence.timeout, int) and persistence.timeout < model.REFRESH_PERSIST_MIN:
        yield Problem(
            f"{field}.refresh",
            f"{label}: refresh persist is for timeouts of 4 days ({model.REFRESH_PERSIST_MIN} s) or more (002); "
            "a shorter timeout is renewed by every new connection anyway",
        )
    elif service.layer == 7 and persistence.mode not in model.REFRESH_PERSIST_LAYER7_MODES:
        yield Problem(
            f"{field}.refresh",
            f"{label}: at layer 7 refresh persist keeps the entries of clients with a live connection, found by "
            f"their address: use source-ip persistence, or no refresh with {persistence.mode}",
        )


def _check_health(service: VirtualService, field: str, label: str):
    check = service.health_check
    field = f"{field}.health_check"
    if check.type not in model.HEALTH_CHECK_TYPES:
        yield Problem(
            f"{field}.type",
            f"{check.type!r} is not a health check; choose one of {', '.join(model.HEALTH_CHECK_TYPES)}",
        )
        return
    if check.type in ("http", "https"):
        if service.protocol == "udp":
            yield Problem(f"{field}.type", f"{label} is UDP; an {check.type} check cannot reach it, use misc or none")
        if check.path is not None and (not isinstance(check.path, str) or not URL_PATH_PATTERN.fullmatch(check.path)):
            yield Problem(f"{field}.path", f"{check.path!r} is not a URL path; start with / and use no spaces or quotes")
        if check.expect is not None and not _is_int_in(check.expect, 100, 599):
            yield Problem(f"{field}.expect", f"{check.expect!r} is not an HTTP status; use 100-599")
    elif check.path is not None or check.expect is not None:
        yield Problem(f"{field}.path", f"path and expect belong to http/https checks, not {check.type}")
    if check.type == "tcp" and service.protocol == "udp":
        yield Problem(
            f"{field}.type",
            f"{label} is UDP; a tcp check connects over TCP, which proves nothing about it: use udp, misc or none",
        )
    elif check.type == "udp" and (service.protocol != "udp" or service.layer != 4):
        yield Problem(f"{field}.type", f"{label}: a udp check is for layer 4 UDP services; use tcp, http or https")
    if check.type == "misc" and service.layer == 7:
        yield Problem(
            f"{field}.type",
            f"{label}: a misc check runs a script from keepalived, at layer 4; HAProxy checks layer 7 services "
            "itself: use tcp, http or https",
        )
    if check.type == "misc":
        if not isinstance(check.script, str) or not SCRIPT_PATTERN.fullmatch(check.script):
            yield Problem(f"{field}.script", "a misc check needs an absolute script path (letters, digits, . _ / - only)")
    elif check.script is not None:
        yield Problem(f"{field}.script", f"script belongs to misc checks, not {check.type}")
    if not _is_int_in(check.interval, 1, 3600):
        yield Problem(f"{field}.interval", f"{check.interval!r} is not a check interval; use 1-3600 seconds")
    if not _is_int_in(check.timeout, 1, 300):
        yield Problem(f"{field}.timeout", f"{check.timeout!r} is not a check timeout; use 1-300 seconds")


def _check_real_servers(config: ApplianceConfig, service: VirtualService, field: str, label: str, vip, subnets: _Subnets):
    if not isinstance(service.real_servers, list):
        yield Problem(f"{field}.real_servers", "expected a list")
        return
    seen_names: set[str] = set()
    seen_endpoints: set[tuple[str, int]] = set()
    for index, server in enumerate(service.real_servers):
        rfield = f"{field}.real_servers[{index}]"
        rlabel = f"{label} real server {server.name!r}"
        duplicate = f"{rlabel} is named twice in this service; give each its own name"
        yield from _check_name(server.name, rfield, duplicate, seen_names)
        port_ok = _is_int_in(server.port, 1, 65535)
        if not port_ok:
            yield Problem(f"{rfield}.port", f"{server.port!r} is not a port; use 1-65535")
        elif service.forwarding in ("dr", "tun") and server.port != service.port:
            yield Problem(
                f"{rfield}.port",
                f"{rlabel}: {service.forwarding.upper()} cannot translate ports (the server answers the client directly); "
                f"use port {service.port}, the VIP's, or choose nat",
            )
        yield from _check_weights(service, server, rfield)
        if server.state not in model.REAL_SERVER_STATES:
            yield Problem(f"{rfield}.state", f"{server.state!r} is not a state; use {', '.join(model.REAL_SERVER_STATES)}")
        try:
            address = parse_address(server.address)
        except ValueError as exc:
            yield Problem(f"{rfield}.address", str(exc))
            continue
        if port_ok and (str(address), server.port) in seen_endpoints:
            yield Problem(f"{rfield}.address", f"{rlabel}: {address}:{server.port} is already in this service")
        seen_endpoints.add((str(address), server.port))
        yield from _check_reachability(config, service, rfield, rlabel, address, vip, subnets)
        if server.nat_address is not None:
            yield from _check_nat_address(config, server, rfield, rlabel, address, subnets)
        yield from _check_nat_ports(server, rfield, rlabel)


def _check_nat_address(config, server: RealServer, field: str, label: str, address: IPv4Address, subnets: _Subnets):
    """A real server's own public address: two-arm only, on the external subnet, one per server."""
    field = f"{field}.nat_address"
    if config.topology != "two-arm" or not subnets.internal or address not in subnets.internal[1].network:
        yield Problem(field, f"{label}: a NAT address needs two-arm, with the server on the internal subnet behind it")
        return
    try:
        public = parse_address(server.nat_address)
    except ValueError as exc:
        yield Problem(field, str(exc))
        return
    if subnets.external:
        name, external = subnets.external
        if public not in external.network:
            yield Problem(field, f"{label}: NAT address {public} must be on {name}'s subnet {external.network}")
        elif problem := host_address_problem(public, external.network):
            yield Problem(field, problem)
    for service in config.virtual_services:
        for other in service.real_servers:
            if other.address == server.address and other.nat_address not in (None, server.nat_address):
                yield Problem(field, f"{label}: {address} already has NAT address {other.nat_address}; one per server")
                return


def _check_nat_ports(server: RealServer, field: str, label: str):
    """The ports forwarded from a server's own public address: a port list, and only with that address."""
    if not server.nat_ports:
        return
    try:
        parse_port_list(str(server.nat_ports))
    except (ValueError, AttributeError) as exc:
        yield Problem(f"{field}.nat_ports", f"{label}: {exc}")
        return
    if server.nat_address is None:
        yield Problem(f"{field}.nat_ports", f"{label}: ports are forwarded from a NAT address; set nat_address too")


def _check_weights(service: VirtualService, server: RealServer, field: str):
    top = LAYER7_WEIGHT_MAX if service.layer == 7 else model.WEIGHT_MAX
    for name in ("weight", "min_conns", "max_conns"):
        value = getattr(server, name)
        limit = top if name == "weight" else 65535
        if not _is_int_in(value, 0, limit):
            yield Problem(
                f"{field}.{name}",
                f"{value!r} is out of range; use 0-{limit}"
                + (" (0 takes the server out of rotation)" if name == "weight" else ""),
            )
            return
    if server.max_conns and server.min_conns > server.max_conns:
        yield Problem(
            f"{field}.min_conns",
            f"min_conns {server.min_conns} is above max_conns {server.max_conns}; it must be lower",
        )


def _check_reachability(config, service, field, label, address, vip, subnets: _Subnets):
    """Can the chosen forwarding method carry traffic between the LB and this server?"""
    holder = subnets.holding(address)
    if holder and (problem := host_address_problem(address, holder[1].network)):
        yield Problem(f"{field}.address", problem)
        return
    if service.forwarding == "nat" and config.topology == "two-arm" and subnets.internal:
        int_name, internal = subnets.internal
        if address not in internal.network:
            yield Problem(
                f"{field}.address",
                f"{label}: a NAT real server must be on the internal subnet {internal.network} ({int_name}) so its replies "
                "come back through the load balancer; move it there or choose snat (layer 7)",
            )
    elif service.forwarding == "dr" and vip is not None:
        vip_subnet = subnets.holding(vip)
        if vip_subnet and address not in vip_subnet[1].network:
            yield Problem(
                f"{field}.address",
                f"{label}: DR only rewrites the MAC address, so the server must be on the VIP's subnet {vip_subnet[1].network}; "
                "move it there, or choose tun (IP-in-IP) or snat (layer 7)",
            )


def _check_duplicate_addresses(config: ApplianceConfig) -> Iterator[Problem]:
    """One address, one owner: interfaces, the peer, floating IPs, VIPs and real servers never share."""
    owners: dict[str, tuple[str, str]] = {}

    def claim(address: object, field: str, what: str) -> Iterator[Problem]:
        try:
            key = str(parse_address(address))
        except ValueError:
            return
        if key in owners:
            other_field, other_what = owners[key]
            yield Problem(field, f"{key} is already used by {other_what} ({other_field}); every address needs one owner")
        else:
            owners[key] = (field, what)

    for name, iface in (config.interfaces or {}).items():
        yield from claim(str(iface.address).partition("/")[0], f"interfaces.{name}.address", f"interface {name}")
    if config.ha is not None:
        yield from claim(config.ha.peer, "ha.peer", "peer unit")
        yield from claim(config.ha.floating.external, "ha.floating.external", "floating external address")
        yield from claim(config.ha.floating.internal, "ha.floating.internal", "floating internal address")
    vip_owners = dict(owners)
    for index, service in enumerate(config.virtual_services or []):
        # A VIP may sit on the unit's own address (single unit) or a floating one, and VIPs share addresses.
        try:
            key = str(parse_address(service.address))
        except ValueError:
            continue
        owner = vip_owners.get(key)
        if owner and owner[1] == "peer unit":
            yield Problem(f"virtual_services[{index}].address", f"{key} is the peer unit's address; a VIP must be this pair's")
        owners.setdefault(key, (f"virtual_services[{index}].address", f"virtual service {service.name!r}"))
    public_owner: dict[str, str] = {}
    for index, service in enumerate(config.virtual_services or []):
        for rindex, server in enumerate(service.real_servers or []):
            if server.nat_address is not None:
                nat_field = f"virtual_services[{index}].real_servers[{rindex}].nat_address"
                if public_owner.setdefault(str(server.nat_address), str(server.address)) == str(server.address):
                    if str(server.nat_address) in owners:
                        owner = owners[str(server.nat_address)]
                        yield Problem(nat_field, f"{server.nat_address} is already used by {owner[1]} ({owner[0]})")
                else:
                    yield Problem(nat_field, f"{server.nat_address} is already the NAT address of another server")
    for index, service in enumerate(config.virtual_services or []):
        for rindex, server in enumerate(service.real_servers or []):
            field = f"virtual_services[{index}].real_servers[{rindex}].address"
            try:
                key = str(parse_address(server.address))
            except ValueError:
                continue
            owner = owners.get(key)
            if owner and not owner[1].startswith("real server"):
                yield Problem(
                    field,
                    f"real server {server.name!r} uses {key}, which is {owner[1]} ({owner[0]}); use the server's own address",
                )
            owners.setdefault(key, (field, f"real server {server.name!r}"))
