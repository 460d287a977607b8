"""The rules between settings of an ApplianceConfig: the only place configuration errors come from.

Each value alone is judged by its declaration (model.py's kinds, declare.check), first; what remains here
are the rules that involve several settings: subnets and who owns an address, what a layer or a forwarding
method can do, services that share a mark. verify() never edits the config it checks and never raises on
odd input: every problem comes back at once as a Problem whose field is the config path and whose message
uses the admin's own names for things and says what would be right. Nothing is applied while any problem
remains.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, IPv6Interface, ip_address

from . import model, verify_access, verify_certificates, verify_host, verify_ipv6
from .addressing import IPv4Interface, host_address_problem, service_ports
from .declare import check
from .kinds import split_port
from .model import HAPROXY_TIMER_MAX, ApplianceConfig, HighAvailability, RealServer, VirtualService

LAYER7_WEIGHT_MAX = 256  # HAProxy's limit
IPVS_SH_BUCKETS = 256  # ip_vs_sh's table: one bucket per weight unit of each server, in turn


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config: where (a config path) and what to do about it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass
class _Subnets:
    """The addresses this unit owns, parsed once for all the rules: each side's IPv4 address, and its IPv6
    address where it has one (a family's address is only ever compared with the same family's)."""

    external: tuple[str, IPv4Interface] | None = None
    internal: tuple[str, IPv4Interface] | None = None
    external6: tuple[str, IPv6Interface] | None = None
    internal6: tuple[str, IPv6Interface] | None = None

    def all(self) -> list[tuple[str, IPv4Interface | IPv6Interface]]:
        return [s for s in (self.external, self.internal, self.external6, self.internal6) if s]

    def of_family(self, version: int) -> list[tuple[str, IPv4Interface | IPv6Interface]]:
        return [s for s in self.all() if s[1].version == version]

    def side(self, slot: str, address: IPv4Address | IPv6Address) -> tuple[str, IPv4Interface | IPv6Interface] | None:
        """A side (external or internal) in the address's family, or None."""
        return getattr(self, slot if address.version == 4 else f"{slot}6")

    def holding(self, address: IPv4Address | IPv6Address) -> tuple[str, IPv4Interface | IPv6Interface] | None:
        for name, iface in self.all():
            if address in iface.network:
                return name, iface
        return None


def verify(config: ApplianceConfig) -> list[Problem]:
    """Every problem with the config, in document order; an empty list means it may be applied.

    Each value alone first (its declaration), then the rules between values. Those rules assume every value
    is of its kind; when some are not (already reported), a rule that cannot judge what it reads is left
    out rather than guessing, and the others still speak, so the admin sees every problem at once. With
    every value of its kind, a rule that raises is a bug, and it is not hidden."""
    problems = [Problem(field, message) for field, message in check(config)]
    values_bad = bool(problems)
    for rule in _rules(config):
        try:
            found = list(rule())
        except (TypeError, ValueError, AttributeError, KeyError):
            if not values_bad:
                raise
            continue
        problems.extend(found)
    unique: dict[tuple[str, str], Problem] = {}
    for problem in problems:
        unique.setdefault((problem.field, problem.message), problem)
    return list(unique.values())


def _rules(config: ApplianceConfig) -> list[Callable[[], Iterator[Problem]]]:
    """The rules between settings, in document order (each a generator, run on its own)."""
    subnets = _Subnets()
    return [
        lambda: _check_interfaces(config, subnets),
        lambda: _check_gateway_and_dns(config, subnets),
        lambda: _check_ha(config, config.ha, subnets) if config.ha is not None else iter(()),
        lambda: (Problem(field, message) for field, message in verify_ipv6.check_unit(config)),
        lambda: _check_virtual_services(config, subnets),
        lambda: _check_duplicate_addresses(config),
        lambda: _check_fwmark_groups(config),
        lambda: _check_asked_port(config),
        lambda: _check_ipvs_timeouts(config),
        lambda: (Problem(field, message) for field, message in verify_access.check(config)),
        lambda: (Problem(field, message) for field, message in verify_host.check(config)),
        lambda: (Problem(field, message) for field, message in verify_certificates.check(config)),
        lambda: (Problem(field, message) for field, message in verify_ipv6.check_services(config)),
    ]


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
        if service.layer != 4 or not service.idle_timeout:
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
            if server.port != service.port:
                yield Problem(
                    f"virtual_services[{index}].real_servers[{rindex}].port",
                    f"virtual service {service.name!r} {why}, which takes each connection to the port the client "
                    f"asked for, so real server {server.name!r} cannot be reached on {server.port}: "
                    f"use port {service.port}, or give the service no extra ports and no mark",
                )


def _check_interfaces(config: ApplianceConfig, subnets: _Subnets) -> Iterator[Problem]:
    if not config.interfaces:
        yield Problem("interfaces", "no interface configured; eth0 (external) is required")
        return
    for name, iface in config.interfaces.items():
        field = f"interfaces.{name}"
        parsed = IPv4Interface(iface.address)
        slot = "external" if iface.role == "external" else "internal"
        if getattr(subnets, slot) is not None:
            yield Problem(
                f"{field}.role",
                f"only one {slot} interface is supported; {subnets.__dict__[slot][0]} is already {slot}",
            )
            continue
        setattr(subnets, slot, (name, parsed))
        if iface.address6 is not None:
            setattr(subnets, f"{slot}6", (name, IPv6Interface(iface.address6)))
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
        yield from _check_host_on_subnet("gateway", IPv4Address(config.gateway), subnets, "the default gateway")


def _check_host_on_subnet(field: str, address: IPv4Address, subnets: _Subnets, what: str) -> Iterator[Problem]:
    """An address this unit must reach directly: inside one of its subnets and a host address there."""
    if not subnets.of_family(address.version):
        return
    holder = subnets.holding(address)
    if holder is None:
        nets = " or ".join(f"{name}'s {iface.network}" for name, iface in subnets.of_family(address.version))
        yield Problem(field, f"{what} {address} is outside every configured subnet; it must be inside {nets}")
        return
    problem = host_address_problem(address, holder[1].network)
    if problem:
        yield Problem(field, problem)


VRRP_ID_MAX = 255  # virtual_router_id's range is 1-255 (RFC 5798)


def _check_ha(config: ApplianceConfig, ha: HighAvailability, subnets: _Subnets) -> Iterator[Problem]:
    if ha.pair_key is not None and not ha.pair_key.startswith("ssh-ed25519 "):
        yield Problem("ha.pair_key", "the pair key is an ed25519 key (lbctl pair join makes it)")
    own = {iface.ip for _, iface in subnets.all()}
    peer = IPv4Address(ha.peer) if ha.peer is not None else None
    if peer is None:
        yield Problem("ha.peer", "an HA pair needs the other unit's address")
    elif peer in own:
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
        if ha.vrrp_id >= VRRP_ID_MAX:  # the internal side's instance is vrrp_id + 1 (rolevars.keepalived_vrrp)
            yield Problem(
                "ha.vrrp_id",
                f"a two-arm pair also uses vrrp_id + 1 for its internal side, and VRRP ids end at {VRRP_ID_MAX}; "
                f"use 1-{VRRP_ID_MAX - 1}, the same on both units",
            )
    elif floating.internal is not None:
        yield Problem("ha.floating.internal", "a one-arm pair has no internal side; leave it empty or choose two-arm")
    for side, value, subnet in wanted:
        field = f"ha.floating.{side}"
        if value is None:
            reason = "the VIP" if side == "external" else "the real servers' default gateway"
            yield Problem(field, f"an HA pair needs a floating {side} address for {reason}")
            continue
        address = IPv4Address(value)
        if subnet is None:
            continue
        if address not in subnet[1].network:
            yield Problem(field, f"floating {side} address {address} must be inside {subnet[0]}'s subnet {subnet[1].network}")
        elif problem := host_address_problem(address, subnet[1].network):
            yield Problem(field, problem)


def _check_name(name: str, field: str, duplicate: str, seen: set[str]) -> Iterator[Problem]:
    """Names go into daemon configs and file names (their characters are the kind's): unique in their list."""
    if name in seen:
        yield Problem(f"{field}.name", duplicate)
    seen.add(name)


HAPROXY_OWN_PREFIX = "lb_"  # the haproxy role's own frontends and peers section; a layer-7 service is a frontend


def _check_virtual_services(config: ApplianceConfig, subnets: _Subnets) -> Iterator[Problem]:
    seen_names: set[str] = set()
    listeners: dict[tuple[str, str, int], str] = {}
    for index, service in enumerate(config.virtual_services):
        field = f"virtual_services[{index}]"
        label = f"virtual service {service.name!r}"
        yield from _check_name(service.name, field, f"{label} is defined twice; give each service its own name", seen_names)
        if service.layer == 7 and str(service.name).startswith(HAPROXY_OWN_PREFIX):
            yield Problem(
                f"{field}.name",
                f"{label}: names starting with {HAPROXY_OWN_PREFIX} are this unit's own sections in haproxy.cfg "
                "(lb_metrics, lb_acme_challenge, lb_peers); choose another name",
            )
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
    if service.quorum is not None:
        if service.layer != 4:
            yield Problem(f"{field}.quorum", f"{label}: quorum is a layer 4 (keepalived) setting; remove it at layer 7")
        elif service.quorum > (total := sum(s.weight for s in service.real_servers)):
            yield Problem(
                f"{field}.quorum",
                f"{label}: quorum {service.quorum} is more than the weight of all its real servers together ({total}); "
                "the service could never be up",
            )
    if service.tos is not None and service.layer != 7:
        yield Problem(f"{field}.tos", f"{label}: ToS marking is done by HAProxy; set layer 7 or remove it")
    if service.layer == 4 and not service.retry_requests:
        yield Problem(f"{field}.retry_requests", f"{label}: requests are retried by HAProxy, at layer 7; remove it")
    yield from _check_tls(service, field, label)
    yield from _check_server_nat(config, service, field, label)
    yield from _check_agent(service, field, label)
    yield from _check_response_weights(service, field, label)
    if service.server_initiating:
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
    if not service.server_nat:
        return
    external, internal = config.external_interface(), config.internal_interface()
    if config.topology != "two-arm" or external is None or internal is None:
        yield Problem(f"{field}.server_nat", f"{label}: the servers' outbound traffic passes this unit only in two-arm")
        return
    outside, inside = IPv4Interface(external[1].address).network, IPv4Interface(internal[1].address).network
    if ip_address(service.address).version == 6:
        yield Problem(
            f"{field}.server_nat",
            f"{label}: server NAT gives the servers' connections an IPv4 VIP as their source; IPv6 is routed, not translated",
        )
        return
    if ip_address(service.address) not in outside:
        yield Problem(
            f"{field}.server_nat",
            f"{label}: its VIP must be on the external subnet {outside}, where the servers' connections leave",
        )
    for index, server in enumerate(service.real_servers):
        if ip_address(server.address) not in inside:
            yield Problem(
                f"{field}.real_servers[{index}].address",
                f"{label} real server {server.name!r}: server NAT needs it on the internal subnet {inside}, behind this unit",
            )


def _check_source_address(service: VirtualService, field: str, label: str, subnets: _Subnets):
    """Layer 7's source address towards the real servers: the client's (transparent), this unit's or the VIP."""
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
    yield from (Problem(f, message) for f, message in verify_ipv6.check_layer7_source(service, field, label))
    if not service.transparent:
        return
    for index, server in enumerate(service.real_servers):
        address = ip_address(server.address)
        if subnets.all() and subnets.holding(address) is None:
            yield Problem(
                f"{field}.real_servers[{index}].address",
                f"{label} real server {server.name!r}: with transparency the server answers the client's own address, "
                "so its default gateway must be this unit, which needs it on one of this unit's subnets; "
                "move it there or turn transparent off",
            )


def _check_tls(service: VirtualService, field: str, label: str):
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
    vip = ip_address(service.address)
    holder = subnets.holding(vip)
    if subnets.all() and holder is None and not subnets.of_family(vip.version):
        side = subnets.external[0] if subnets.external else "eth0"
        yield Problem(f"{field}.address", verify_ipv6.no_ipv6_on(f"{label}'s address {vip}", side, "clients reach the VIP there"))
    elif subnets.all() and holder is None:
        nets = " or ".join(f"{n}'s {i.network}" for n, i in subnets.of_family(vip.version))
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
    own = {str(own.ip) for i in config.interfaces.values() for own in model.own_interfaces(i)}
    taken = {22: ("tcp", "SSH, this unit's own management", True)}
    if config.ha is not None:
        taken[model.HAPROXY_PEERS_PORT] = ("tcp", "HAProxy's peers (stick tables shared with the other unit)", False)
    for port, what in verify_host.management_ports(config).items():
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


def _check_ports(service: VirtualService, field: str, label: str):
    if not service.extra_ports:
        return [service.port]
    ports = service_ports(service.port, service.extra_ports)
    if len(ports) - 1 > model.MAX_EXTRA_PORTS:
        yield Problem(
            f"{field}.extra_ports",
            f"{len(ports) - 1} extra ports; at most {model.MAX_EXTRA_PORTS} are allowed, use fewer or another service",
        )
        return [service.port]
    return ports


def _check_method(config: ApplianceConfig, service: VirtualService, field: str, label: str, subnets: _Subnets):
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
    if service.scheduler not in schedulers:
        yield Problem(
            f"{field}.scheduler",
            f"{service.scheduler!r} is not a layer {service.layer} scheduler; choose one of {', '.join(schedulers)}",
        )
    elif service.scheduler in model.SCHEDULERS_NEEDING_PARAM:
        if service.scheduler_param is None:
            yield Problem(
                f"{field}.scheduler_param",
                f"{service.scheduler} balancing needs a header or parameter name (letters, digits, '-', '_')",
            )
    elif service.scheduler_param is not None:
        yield Problem(f"{field}.scheduler_param", f"{service.scheduler} takes no parameter; remove it")
    if service.layer == 4 and service.scheduler == "sh":
        weights = [s.weight for s in service.real_servers]
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
    if service.layer == 7 and timeout > HAPROXY_TIMER_MAX and persistence.mode != "active-cookie":
        yield Problem(
            f"{field}.timeout",
            f"{label}: HAProxy's stick tables keep an entry at most 24.8 days ({HAPROXY_TIMER_MAX} s); use a shorter "
            "timeout, or active-cookie persistence, whose cookie may live 28 days",
        )
    yield from _check_refresh(service, persistence, field, label)
    if persistence.netmask is not None and (persistence.mode not in ("source-ip",) or service.layer != 4):
        yield Problem(f"{field}.netmask", "subnet granularity applies to layer 4 source-ip persistence only; remove it")
    if persistence.mode in model.PERSISTENCE_MODES_NEEDING_NAME:
        if persistence.name is None:
            yield Problem(
                f"{field}.name",
                f"{persistence.mode} needs the cookie, header or query item name (letters, digits, '-', '_')",
            )
    elif persistence.name is not None and persistence.mode not in ("active-cookie", "active-cookie-or-source-ip", "sip"):
        yield Problem(f"{field}.name", f"{persistence.mode} takes no name; remove it")


def _check_refresh(service: VirtualService, persistence: model.Persistence, field: str, label: str):
    """Refresh Persist: 002 offers it from 4 days on; at layer 7 only where the key is the client's address."""
    if not persistence.refresh:
        return
    if persistence.timeout < model.REFRESH_PERSIST_MIN:
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
    if check.type in ("http", "https"):
        if service.protocol == "udp":
            yield Problem(f"{field}.type", f"{label} is UDP; an {check.type} check cannot reach it, use misc or none")
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
        if check.script is None:
            yield Problem(f"{field}.script", "a misc check needs an absolute script path (letters, digits, . _ / - only)")
    elif check.script is not None:
        yield Problem(f"{field}.script", f"script belongs to misc checks, not {check.type}")


def _check_real_servers(config: ApplianceConfig, service: VirtualService, field: str, label: str, vip, subnets: _Subnets):
    seen_names: set[str] = set()
    seen_endpoints: set[tuple[str, int]] = set()
    for index, server in enumerate(service.real_servers):
        rfield = f"{field}.real_servers[{index}]"
        rlabel = f"{label} real server {server.name!r}"
        duplicate = f"{rlabel} is named twice in this service; give each its own name"
        yield from _check_name(server.name, rfield, duplicate, seen_names)
        if service.forwarding in ("dr", "tun") and server.port != service.port:
            yield Problem(
                f"{rfield}.port",
                f"{rlabel}: {service.forwarding.upper()} cannot translate ports (the server answers the client directly); "
                f"use port {service.port}, the VIP's, or choose nat",
            )
        yield from _check_weights(service, server, rfield)
        address = ip_address(server.address)
        if (str(address), server.port) in seen_endpoints:
            yield Problem(f"{rfield}.address", f"{rlabel}: {address}:{server.port} is already in this service")
        seen_endpoints.add((str(address), server.port))
        yield from _check_reachability(config, service, rfield, rlabel, address, vip, subnets)
        if server.nat_address is not None:
            yield from _check_nat_address(config, server, rfield, rlabel, address, subnets)
        yield from _check_nat_ports(server, rfield, rlabel)


def _check_nat_address(config, server: RealServer, field: str, label: str, address: IPv4Address, subnets: _Subnets):
    """A real server's own public address: two-arm only, on the external subnet, one per server."""
    field = f"{field}.nat_address"
    if address.version == 6:
        yield Problem(field, f"{label}: a NAT address is an IPv4 address of its own; an IPv6 server is routed, not translated")
        return
    if config.topology != "two-arm" or not subnets.internal or address not in subnets.internal[1].network:
        yield Problem(field, f"{label}: a NAT address needs two-arm, with the server on the internal subnet behind it")
        return
    public = IPv4Address(server.nat_address)
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
    if server.nat_ports and server.nat_address is None:
        yield Problem(f"{field}.nat_ports", f"{label}: ports are forwarded from a NAT address; set nat_address too")


def _check_weights(service: VirtualService, server: RealServer, field: str):
    if service.layer == 7 and server.weight > LAYER7_WEIGHT_MAX:
        yield Problem(
            f"{field}.weight",
            f"{server.weight!r} is out of range; use 0-{LAYER7_WEIGHT_MAX} (0 takes the server out of rotation; "
            "HAProxy's weights stop at 256)",
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
    if vip is not None and service.layer == 4 and address.version != vip.version:
        yield Problem(f"{field}.address", verify_ipv6.family_mix(label, vip, address))
        return
    if service.forwarding == "nat" and config.topology == "two-arm" and subnets.internal:
        if subnets.side("internal", address) is None:
            yield Problem(
                f"{field}.address", verify_ipv6.no_ipv6_on(label, subnets.internal[0], "its replies come back through it")
            )
            return
        int_name, internal = subnets.side("internal", address)  # type: ignore[misc]
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
    """One address, one owner: interfaces, the gateway, the peer, floating IPs, VIPs and real servers never
    share (a VIP or floating address on the router's address is an ARP conflict that takes the network
    down), and the nameservers are other hosts: this unit answers no DNS."""
    owners: dict[str, tuple[str, str]] = {}

    def claim(address: str | None, field: str, what: str) -> Iterator[Problem]:
        if address is None:
            return
        key = str(ip_address(address))
        if key in owners:
            other_field, other_what = owners[key]
            yield Problem(field, f"{key} is already used by {other_what} ({other_field}); every address needs one owner")
        else:
            owners[key] = (field, what)

    for name, iface in (config.interfaces or {}).items():
        yield from claim(str(iface.address).partition("/")[0], f"interfaces.{name}.address", f"interface {name}")
        if iface.address6 is not None:
            yield from claim(str(iface.address6).partition("/")[0], f"interfaces.{name}.address6", f"interface {name}")
    yield from claim(config.gateway, "gateway", "the default gateway")
    yield from claim(config.gateway6, "gateway6", "the default gateway")
    if config.ha is not None:
        yield from claim(config.ha.peer, "ha.peer", "peer unit")
        yield from claim(config.ha.floating.external, "ha.floating.external", "floating external address")
        yield from claim(config.ha.floating.internal, "ha.floating.internal", "floating internal address")
        yield from claim(config.ha.floating.external6, "ha.floating.external6", "floating external address")
        yield from claim(config.ha.floating.internal6, "ha.floating.internal6", "floating internal address")
    vip_owners = dict(owners)
    for index, service in enumerate(config.virtual_services):
        # A VIP may sit on the unit's own address (single unit) or a floating one, and VIPs share addresses.
        key = str(ip_address(service.address))
        owner = vip_owners.get(key)
        if owner and owner[1] == "peer unit":
            yield Problem(f"virtual_services[{index}].address", f"{key} is the peer unit's address; a VIP must be this pair's")
        elif owner and owner[0] in ("gateway", "gateway6"):
            yield Problem(
                f"virtual_services[{index}].address",
                f"{key} is the default gateway (gateway); a VIP there answers ARP for the router: use an address of this unit's",
            )
        owners.setdefault(key, (f"virtual_services[{index}].address", f"virtual service {service.name!r}"))
    public_owner: dict[str, str] = {}
    for index, service in enumerate(config.virtual_services):
        for rindex, server in enumerate(service.real_servers):
            if server.nat_address is not None:
                nat_field = f"virtual_services[{index}].real_servers[{rindex}].nat_address"
                if public_owner.setdefault(str(server.nat_address), str(server.address)) == str(server.address):
                    if str(server.nat_address) in owners:
                        owner = owners[str(server.nat_address)]
                        yield Problem(nat_field, f"{server.nat_address} is already used by {owner[1]} ({owner[0]})")
                else:
                    yield Problem(nat_field, f"{server.nat_address} is already the NAT address of another server")
    for index, service in enumerate(config.virtual_services):
        for rindex, server in enumerate(service.real_servers):
            field = f"virtual_services[{index}].real_servers[{rindex}].address"
            key = str(ip_address(server.address))
            owner = owners.get(key)
            if owner and not owner[1].startswith("real server"):
                yield Problem(
                    field,
                    f"real server {server.name!r} uses {key}, which is {owner[1]} ({owner[0]}); use the server's own address",
                )
            owners.setdefault(key, (field, f"real server {server.name!r}"))
    yield from _check_sorry_servers(config, owners)
    for index, server in enumerate(config.nameservers):
        owner = owners.get(str(ip_address(server)))
        if owner and not owner[1].startswith(("real server", "the default gateway")):
            yield Problem(
                f"nameservers[{index}]",
                f"{server} is {owner[1]} ({owner[0]}), which answers no DNS; give the address of a DNS server",
            )


def _check_sorry_servers(config: ApplianceConfig, owners: dict[str, tuple[str, str]]) -> Iterator[Problem]:
    """A sorry server is a destination like a real server: on a VIP (the service itself, a loop), on this
    unit's own or floating addresses, the peer or the router it serves no one; a real server's address is
    fine (a sorry page beside the service)."""
    for index, service in enumerate(config.virtual_services):
        if service.sorry_server is None:
            continue
        host, _ = split_port(str(service.sorry_server), "a sorry server")
        key = str(ip_address(host))
        owner = owners.get(key)
        if owner and not owner[1].startswith("real server"):
            yield Problem(
                f"virtual_services[{index}].sorry_server",
                f"virtual service {service.name!r}'s sorry server uses {key}, which is {owner[1]} ({owner[0]}); "
                "use the sorry server's own address",
            )
