"""The appliance configuration: plain data, its defaults, and YAML load/save.

This is the only state the appliance has (DESIGN.md: /etc/lbwizard/appliance.yaml). Every other
part reads an ApplianceConfig; nothing here does I/O beyond reading and writing that one file, and
nothing here judges whether values make sense: that is verify.py's job, so a config that loads is not
yet a config that may be applied.
"""

from __future__ import annotations

import zlib
from dataclasses import MISSING, asdict, dataclass, field, fields
from ipaddress import IPv4Address, IPv4Interface
from typing import Any

import yaml

SCHEMA_VERSION = 1

TOPOLOGIES = ("one-arm", "two-arm")
INTERFACE_ROLES = ("external", "internal")
HA_ROLES = ("master", "backup")
PROTOCOLS = ("tcp", "udp")
LAYER4_FORWARDING = ("dr", "nat", "tun")
LAYER7_FORWARDING = ("snat",)
FORWARDING_METHODS = LAYER4_FORWARDING + LAYER7_FORWARDING
# IPVS schedulers keepalived accepts as lb_algo (the ones the appliance offers).
LAYER4_SCHEDULERS = ("rr", "wrr", "lc", "wlc", "sh", "mh", "fo", "sed", "nq")
# HAProxy balance algorithms; hdr and url_param take scheduler_param (the header or parameter name).
LAYER7_SCHEDULERS = ("roundrobin", "static-rr", "leastconn", "source", "uri", "hdr", "url_param", "first")
SCHEDULERS_NEEDING_PARAM = ("hdr", "url_param")
# 002's scheduling methods by the reference's own names, which are not engine names: how each is had here
REFERENCE_SCHEDULERS = {
    "round-robin": "rr (layer 4) or roundrobin (layer 7)",
    "weighted-round-robin": "wrr (layer 4) or roundrobin (layer 7, which weighs)",
    "least-connection": "lc (layer 4) or leastconn (layer 7)",
    "weighted-least-connection": "wlc (layer 4) or leastconn (layer 7, which weighs)",
    "adaptive": "agent_port with wrr, wlc, sed or mh (layer 4) or roundrobin or leastconn (layer 7)",
    "resource-based": "agent_port with wrr, wlc, sed or mh (layer 4) or roundrobin or leastconn (layer 7)",
    "sdn-adaptive": "nothing: it weighs servers by what an SDN controller reports of their network paths, and this "
    "unit has no SDN controller to ask; agent_port (adaptive) weighs them by their own load",
    "fixed-weighting": "fo (layer 4) or first (layer 7)",
    "weighted-response-time": "response_weights: yes with a weighted scheduler",
    "source-ip-hash": "sh or mh (layer 4) or source (layer 7)",
}
# The reference's persistence modes (002, "Persistence Options"), by our names.
PERSISTENCE_MODES = (
    "source-ip",
    "super-http",
    "super-http-and-source-ip",
    "server-cookie",
    "server-cookie-or-source-ip",
    "active-cookie",
    "active-cookie-or-source-ip",
    "hash-all-cookies",
    "hash-all-cookies-or-source-ip",
    "url-hash",
    "host-header",
    "query-item",
    "selected-header",
    "ssl-session-id",
    "sip",
)
LAYER4_PERSISTENCE_MODES = ("source-ip", "sip")
# IPVS's SIP persistence engine (ip_vs_pe_sip) keys on this header only (002's "header field name")
SIP_KEY_HEADER = "Call-ID"
# Modes whose key is a name the admin chooses: the cookie, query item or header.
PERSISTENCE_MODES_NEEDING_NAME = ("server-cookie", "server-cookie-or-source-ip", "query-item", "selected-header")
# udp: keepalived's UDP_CHECK, a datagram to the port that fails on ICMP port unreachable (layer 4 UDP only)
HEALTH_CHECK_TYPES = ("tcp", "udp", "http", "https", "misc", "none")
# What the admin asked of a real server (lbctl rs drain|offline|online): online serves; drain takes no
# new connections and lets current ones finish; offline is out of service, its connections cut.
REAL_SERVER_STATES = ("online", "drain", "offline")

# 002's Quality of Service classes, as the ToS byte HAProxy sets (its 8/4/2/1 are the 4-bit ToS field,
# one bit above the byte's lowest); pass-through sets none, so packets keep the ToS they have.
QOS_CLASSES = {
    "normal-service": 0,
    "minimize-cost": 2,
    "maximize-reliability": 4,
    "maximize-throughput": 8,
    "minimize-delay": 16,
    "pass-through": None,
}
IDLE_TIMEOUT_DEFAULT = 660  # 002: seconds an idle connection is kept at layer 7 (0 in the config: this)
# schedulers whose weights may change while they run (agent feedback): IPVS's weighted ones, HAProxy's dynamic
ADAPTIVE_SCHEDULERS = {4: ("wrr", "wlc", "sed", "mh"), 7: ("roundrobin", "leastconn")}
RESPONSE_WEIGHT_CEILING = {4: 253, 7: 256}  # keepalived's misc_dynamic weights (255 - 2); HAProxy's weights
PERSISTENCE_TIMEOUT_MIN = 60  # one minute ...
PERSISTENCE_TIMEOUT_MAX = 28 * 24 * 3600  # ... to 28 days, as the reference allows
WEIGHT_MIN, WEIGHT_MAX = 0, 65535  # IPVS's range; HAProxy's 0-256 is checked for layer 7 in verify
MAX_EXTRA_PORTS = 510
APPLIANCE_CERTIFICATE = "etc/haproxy/certs/appliance.pem"  # under the root  # the reference's limit
FWMARK_MAX = 2**30 - 1  # the bit above is the TPROXY mark of transparent layer-7 services
# Marks from here to FWMARK_MAX are the appliance's own: each layer-4 service with extra ports gets one, so
# all its ports are one IPVS service. The admin's port-following marks are below.
APPLIANCE_MARKS = 2**29
ADMIN_FWMARK_MAX = APPLIANCE_MARKS - 1
TRANSPARENT_MARK = 2**30
HAPROXY_PEERS_PORT = 10000  # where the two units' HAProxies share their stick tables (the role's haproxy_peers_port)


@dataclass
class Interface:
    """One NIC the appliance owns, with its address in CIDR form."""

    address: str
    role: str = "external"


@dataclass
class Floating:
    """The addresses that move between the two units of an HA pair."""

    external: str | None = None  # the VIP's address
    internal: str | None = None  # the real servers' default gateway (two-arm)


@dataclass
class HighAvailability:
    """This unit's part in an HA pair (keepalived VRRP)."""

    role: str = "master"
    peer: str | None = None
    vrrp_id: int = 51
    floating: Floating = field(default_factory=Floating)
    # VRRPv3 adverts every 0.2 s: a crashed master is replaced in about 0.7 s (FIELD-NOTES).
    advert_interval: float = 0.2
    # false: a returning master leaves the VIP with the unit that took over (keepalived nopreempt), one
    # failover instead of two; set the same on both units.
    preempt: bool = True
    # the pair as one system (issue 16): the pair key's public half (both units have the same, made from
    # their pair secret), and the version of the part the two units share, one up per change of the pair
    pair_key: str | None = None
    shared_version: int = 0


REFRESH_PERSIST_MIN = 4 * 86400  # 002: Refresh Persist is offered for timeouts of 4 days or more
REFRESH_PERSIST_LAYER7_MODES = ("source-ip",)  # where a live session's client address is the entry's key


@dataclass
class Persistence:
    """How one client keeps going to the same real server, and for how long."""

    mode: str = "source-ip"
    timeout: int = 300
    netmask: str | None = None  # source-ip granularity: clients in one subnet stick together
    name: str | None = None  # cookie, query item or header name, for the modes that need one
    # 002's Refresh Persist (timeouts of 4 days or more): a client's entry is kept alive while it has a
    # live connection. IPVS always does so; HAProxy's entries are refreshed hourly (lbctl refresh-persist).
    refresh: bool = False


@dataclass
class HealthCheck:
    """How the engine decides a real server is alive."""

    type: str = "tcp"
    path: str | None = None  # http/https
    expect: int | None = None  # expected HTTP status (http/https)
    script: str | None = None  # misc
    interval: int = 6  # seconds between checks
    timeout: int = 3  # seconds a check may take before it counts as failed (003: raise it for slow servers)


@dataclass
class RealServer:
    """A backend that serves a virtual service."""

    name: str
    address: str
    port: int
    weight: int = 1
    min_conns: int = 0
    max_conns: int = 0
    # Two-arm: a public address of the server's own for services that are not balanced (SMTP, say):
    # inbound traffic to it is DNATed to the server, the server's outbound traffic SNATed from it.
    nat_address: str | None = None
    # The ports of that address forwarded to the server (tcp and udp), e.g. "25, 587"; empty: none, the
    # address is then the server's outbound source only. The firewall forwards nothing else to it.
    nat_ports: str = ""
    state: str = "online"


@dataclass
class VirtualService:
    """An address and port clients connect to, and where its traffic goes."""

    name: str
    address: str
    port: int
    extra_ports: str = ""
    # Services sharing a firewall mark are one IPVS service: "port following" (reference 001) and
    # bundled ports (reference 004), e.g. 80 and 443 of one client always to the same real server.
    fwmark: int | None = None
    protocol: str = "tcp"
    layer: int = 4
    forwarding: str = "nat"
    scheduler: str = "wlc"
    scheduler_param: str | None = None
    persistence: Persistence | None = None
    health_check: HealthCheck = field(default_factory=HealthCheck)
    real_servers: list[RealServer] = field(default_factory=list)
    # Where clients go when no real server is up, "ADDRESS[:PORT]" (a maintenance page, say).
    sorry_server: str | None = None
    # Layer 4: the total weight of healthy servers below which the service counts as down (keepalived).
    quorum: int | None = None
    # Layer 7: the ToS byte of the replies to clients (QoS): a QOS_CLASSES name, or the byte itself (DSCP
    # times 4, e.g. 184 (0xb8) for EF).
    tos: int | str | None = None
    # Seconds an idle connection is kept (002: 0 = the default, 660 at layer 7; at layer 4 the kernel's,
    # and IPVS's timeouts are global: every layer-4 service of a protocol must say the same).
    idle_timeout: int = 0
    # Layer 7 (HTTP): a request a failing server did not answer (connection refused or closed without an
    # answer, a 5xx, a response timeout) is sent to another server; only idempotent methods (RFC 9110:
    # GET, HEAD, OPTIONS, TRACE, PUT, DELETE), so a POST the dying server may have carried out is never
    # repeated. HAProxy keeps a copy of each request for this (a buffer copy, about 8% of its peak rate).
    retry_requests: bool = True
    # Layer 7: plain TCP proxying that connects to the server at once, so protocols where the server
    # speaks first (SMTP, FTP, POP3 banners) work; HTTP features are then unavailable.
    server_initiating: bool = False
    # Layer 7: HAProxy terminates TLS on the VIP's ports with this PEM (certificate and key); None means
    # the unit's own self-signed one, made at first boot, until the admin installs a real one.
    tls: bool = False
    tls_certificate: str | None = None
    # Layer 7 transparency: the real servers see each client's own address (HAProxy `usesrc clientip`
    # with TPROXY on this unit), so they must route their replies back through it (their default
    # gateway). Clients on a real server's own subnet are still NATed: that server would answer them
    # directly, past the proxy (the reference's rule).
    transparent: bool = False
    # Layer 7, not transparent ("subnet originating requests"): connections to the real servers come
    # from this unit's own address on the way to them (true), or from the VIP (false: one address for
    # the servers' logs and firewalls, whichever unit of a pair is master).
    subnet_originating: bool = True
    # 002's "Use Address for Server NAT": the real servers' own outbound connections to this service's
    # port(s) leave with the VIP as their source, not this unit's address (two-arm; the masquerade's exception).
    server_nat: bool = False
    # 002's Resource Based (Adaptive) scheduling: each real server's agent on this port says how much load it
    # can take ("75%" of its weight, "drain", "down"; HAProxy's agent-check protocol), and its weight follows
    # (HAProxy agent-check; keepalived MISC_CHECK with misc_dynamic). None: fixed weights.
    agent_port: int | None = None
    # 002's Weighted Response Time: each server's weight follows how fast it answers its health check,
    # relative to the fastest (HAProxy's own check_duration, read every 15 s; at layer 4 keepalived's
    # MISC_CHECK with misc_dynamic runs lbwizard-response-weight, which times the check itself).
    response_weights: bool = False


@dataclass
class InputRule:
    """The admin's own opening in the unit's default-deny input filter (SNMP from the NMS, say)."""

    port: str  # a port list: "161" or "8000-8080, 9002"
    protocol: str = "tcp"  # tcp | udp
    source: str = "any"  # a network ("10.9.0.0/24", "2001:db8::/32") or any
    comment: str = ""


@dataclass
class Access:
    """Who may reach the unit itself; everything else arriving on any interface, IPv4 or IPv6, is dropped.

    Clients reach the virtual services' ports from anywhere; SSH (and every management service) only from
    the management networks; the admin's input rules are consulted before the final drop."""

    # empty: the subnets of this unit's own interfaces (the wizard's default)
    management_networks: list[str] = field(default_factory=list)
    input_rules: list[InputRule] = field(default_factory=list)
    # OpenSSH public keys ("ssh-ed25519 AAAA... comment") that may log in as root; root has no password
    # login over SSH, so without a key the unit is managed at its console only.
    ssh_authorized_keys: list[str] = field(default_factory=list)


@dataclass
class Clock:
    """The unit's time (chrony): the NTP servers it follows. None configured: the clock runs free, and
    lbctl status and diagnose say it is not synchronised (a unit reaches no public pool by default)."""

    ntp_servers: list[str] = field(default_factory=list)  # host names or addresses


SYSLOG_PROTOCOLS = ("udp", "tcp")
SYSLOG_PORT = 514


@dataclass
class Logging:
    """Where the unit's logs go beside its own journal, which is bounded (a flood cannot fill the disk):
    a syslog server that rsyslog forwards the whole journal to, HAProxy's and keepalived's logs included."""

    syslog_server: str | None = None  # "HOST[:PORT]" (port 514 by default); None: the logs stay on the unit
    syslog_protocol: str = "udp"  # udp | tcp (tcp queues while the server is away)


@dataclass
class Metrics:
    """Prometheus endpoints on this unit's own addresses, reachable from the management networks only. Off
    until the admin turns them on: they take two ports of the unit's own addresses, which a virtual service
    on those addresses may be using."""

    enabled: bool = False
    node_port: int = 9100  # prometheus-node-exporter: IPVS (layer 4), VRRP state, the system itself
    haproxy_port: int = 8405  # HAProxy's own exporter: layer 7


@dataclass
class ApplianceConfig:
    """Everything the appliance does, in one document."""

    hostname: str = "lbmaster"
    topology: str = "two-arm"
    interfaces: dict[str, Interface] = field(default_factory=dict)
    gateway: str | None = None
    nameservers: list[str] = field(default_factory=list)
    ha: HighAvailability | None = None
    access: Access = field(default_factory=Access)
    time: Clock = field(default_factory=Clock)
    logging: Logging = field(default_factory=Logging)
    metrics: Metrics = field(default_factory=Metrics)
    virtual_services: list[VirtualService] = field(default_factory=list)
    version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The YAML document, version first, in the order DESIGN.md shows."""
        data = asdict(self)
        ordered = {"version": data.pop("version")}
        ordered.update(data)
        return ordered

    def external_interface(self) -> tuple[str, Interface] | None:
        """The interface clients reach the appliance on."""
        for name, iface in self.interfaces.items():
            if iface.role == "external":
                return name, iface
        return None

    def interface_for(self, address: str) -> Interface | None:
        """The interface whose subnet holds an address: where this unit meets that host."""
        for iface in self.interfaces.values():
            if IPv4Address(address) in IPv4Interface(iface.address).network:
                return iface
        return None

    def internal_interface(self) -> tuple[str, Interface] | None:
        """The interface the real servers sit behind (two-arm only)."""
        for name, iface in self.interfaces.items():
            if iface.role == "internal":
                return name, iface
        return None


def management_networks(config: ApplianceConfig) -> list[str]:
    """Where SSH and the unit's other management services may be reached from: the admin's list, or
    the subnets of this unit's own interfaces."""
    if config.access.management_networks:
        return list(config.access.management_networks)
    return list(dict.fromkeys(str(IPv4Interface(i.address).network) for i in config.interfaces.values()))


def uses_transparency(config: ApplianceConfig) -> bool:
    """Does a layer-7 service connect to its servers from the clients' own addresses (TPROXY)?"""
    return any(service.layer == 7 and service.transparent is True for service in config.virtual_services)


def extra_vips(config: ApplianceConfig, interface: Interface) -> list[str]:
    """The VIPs on an interface's subnet that are not its own address: this unit must hold them (or, in
    a pair, keepalived must move them with the floating address) for clients' packets to reach it."""
    own = IPv4Interface(interface.address)
    found: list[str] = []
    for service in config.virtual_services:
        if IPv4Address(service.address) in own.network and service.address != str(own.ip) and service.address not in found:
            found.append(service.address)
    return found


def nat_addresses(config: ApplianceConfig) -> dict[str, str]:
    """Real server address -> its own public address (nat_address: the reference's SNAT and DNAT per server)."""
    return {
        server.address: server.nat_address
        for service in config.virtual_services
        for server in service.real_servers
        if server.nat_address
    }


def ipvs_marks(config: ApplianceConfig) -> dict[str, int]:
    """The firewall mark each layer-4 service enters IPVS with, by service name, where it has one.

    The admin's port-following mark, or, for a service with extra ports, one of the appliance's own: its
    ports are then one IPVS service, so a client's persistence holds on all of them and each connection
    goes to the port it asked for (002: a service with extra ports is one service). The appliance's mark
    comes from the service's address, protocol and port, so it stays the same as other services come
    and go (IPVS keeps the service and its persistence records across a reload).
    """
    marks: dict[str, int] = {}
    for service in config.virtual_services:
        if service.layer == 4 and service.fwmark:
            marks[service.name] = service.fwmark
    used = set(marks.values())
    unmarked = [s for s in config.virtual_services if s.layer == 4 and not s.fwmark and s.extra_ports]
    for service in sorted(unmarked, key=lambda s: (str(s.address), str(s.protocol), str(s.port))):
        offset = zlib.crc32(f"{service.protocol}/{service.address}:{service.port}".encode()) % APPLIANCE_MARKS
        while APPLIANCE_MARKS + offset in used:
            offset = (offset + 1) % APPLIANCE_MARKS
        marks[service.name] = APPLIANCE_MARKS + offset
        used.add(APPLIANCE_MARKS + offset)
    return marks


class ConfigFormatError(ValueError):
    """The document is not shaped like an appliance config; carries (field, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems


def _build(cls: type, data: Any, path: str, problems: list[tuple[str, str]]) -> Any:
    """Make a dataclass from a mapping, recording unknown and missing keys by their path."""
    if not isinstance(data, dict):
        problems.append((path, f"expected a mapping, got {type(data).__name__}"))
        return None
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            problems.append((f"{path}.{key}", f"unknown setting; known ones are: {', '.join(known)}"))
            continue
        kwargs[key] = _convert(cls, key, value, f"{path}.{key}", problems)
    required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    for name in required:
        if name not in kwargs:
            problems.append((f"{path}.{name}", "is required"))
            kwargs[name] = None
    return cls(**kwargs)


def _convert(cls: type, key: str, value: Any, path: str, problems: list[tuple[str, str]]) -> Any:
    """Turn nested mappings into their dataclasses; leave scalars for verify() to judge."""
    nested = _NESTED.get((cls, key))
    if nested is None or value is None:
        return value
    kind, target = nested
    if kind == "one":
        return _build(target, value, path, problems)
    if kind == "list":
        if not isinstance(value, list):
            problems.append((path, "expected a list"))
            return []
        return [_build(target, item, f"{path}[{i}]", problems) for i, item in enumerate(value)]
    if not isinstance(value, dict):
        problems.append((path, "expected a mapping of interface names"))
        return {}
    return {str(name): _build(target, item, f"{path}.{name}", problems) for name, item in value.items()}


_NESTED: dict[tuple[type, str], tuple[str, type]] = {
    (ApplianceConfig, "interfaces"): ("map", Interface),
    (ApplianceConfig, "ha"): ("one", HighAvailability),
    (ApplianceConfig, "access"): ("one", Access),
    (ApplianceConfig, "time"): ("one", Clock),
    (ApplianceConfig, "logging"): ("one", Logging),
    (ApplianceConfig, "metrics"): ("one", Metrics),
    (Access, "input_rules"): ("list", InputRule),
    (ApplianceConfig, "virtual_services"): ("list", VirtualService),
    (HighAvailability, "floating"): ("one", Floating),
    (VirtualService, "persistence"): ("one", Persistence),
    (VirtualService, "health_check"): ("one", HealthCheck),
    (VirtualService, "real_servers"): ("list", RealServer),
}


def from_dict(data: Any) -> ApplianceConfig:
    """Build a config from a parsed document; raise ConfigFormatError listing every shape problem."""
    problems: list[tuple[str, str]] = []
    if isinstance(data, dict) and data.get("version", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise ConfigFormatError([("version", f"schema version {data.get('version')!r} is not {SCHEMA_VERSION}")])
    config = _build(ApplianceConfig, data, "config", problems)
    if problems:
        raise ConfigFormatError([(p.removeprefix("config."), m) for p, m in problems])
    return config


def loads(text: str) -> ApplianceConfig:
    """Parse appliance.yaml text."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigFormatError([("config", f"not valid YAML: {exc}")]) from exc
    return from_dict(data)


def dumps(config: ApplianceConfig) -> str:
    """Serialise to YAML that loads() turns back into an equal config."""
    header = "# managed by lbwizard; edit with lbwizard or lbctl, every change is kept in history/\n"
    return header + yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=False)
