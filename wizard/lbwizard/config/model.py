"""The appliance configuration: plain data, one declaration per setting, and YAML load/save.

This is the only state the appliance has (DESIGN.md: /etc/lbwizard/appliance.yaml). Every other
part reads an ApplianceConfig. Each field declares its kind, default, help and lbctl flag (declare.py),
so a config that loads has every value of its kind, as written; whether the values make sense together
is verify.py's job, so a config that loads is not yet a config that may be applied.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass
from ipaddress import IPv4Interface, IPv6Interface, ip_address
from typing import Any

import yaml

from . import document
from .declare import build, check, setting
from .document import CONFIG_LIMIT
from .kinds import (
    PORT,
    Address,
    Address6,
    Boolean,
    Choice,
    Decimal,
    Either,
    Endpoint,
    Host,
    Integer,
    InterfaceAddress,
    InterfaceAddress6,
    IPAddress,
    KindError,
    Listed,
    Network,
    PortList,
    Prefix,
    Text,
    choice_of,
    shown,
)
from .sshkeys import PublicKey

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
HAPROXY_TIMER_MAX = 2147483  # seconds: HAProxy's timers are milliseconds in a signed 32-bit int
HAPROXY_PEERS_PORT = 10000  # where the two units' HAProxies share their stick tables (the role's haproxy_peers_port)


# -- the kinds of this document's values (config/kinds.py has the general ones) ---------------------------

# keepalived.conf reads these words as an include of a file (its quoting rule refuses them anywhere): the host
# name is its router_id, an interface name a pair's track_interface, a service's or server's name a comment
KEEPALIVED_INCLUDES = r"(?!include[rmwba]?$)"
NAME_RULE = "use 1-32 letters, digits, '_', '.' or '-', starting with a letter or digit (not keepalived's include words)"
# Names end up inside keepalived.conf, haproxy.cfg and file names: letters, digits, _ . - only.
NAME = Text(
    what="a usable name",
    pattern=KEEPALIVED_INCLUDES + r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}",
    rule=NAME_RULE,
    max_length=32,
    metavar="NAME",
)
HOSTNAME = Text(
    what="a host name",
    pattern=KEEPALIVED_INCLUDES + r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?",
    rule="use letters, digits and '-' (max 63), not keepalived's include words",
    max_length=63,
    metavar="NAME",
)
# not lo (the loopback: a subnet's address there routes to the unit itself), all or default (sysctl's names)
INTERFACE_NAME = Text(
    what="an interface name like eth0",
    pattern=KEEPALIVED_INCLUDES + r"(?!(lo|all|default)$)[A-Za-z][A-Za-z0-9_.-]{0,14}",
    rule="letters and digits, e.g. eth0 (a NIC: not lo, all, default or keepalived's include words)",
    max_length=15,
)
# Cookie, header and query-item names: the plain subset of HTTP token characters. '#' starts a comment
# in haproxy.cfg, quotes and '$' are parsed there too; no real header or cookie needs them.
TOKEN = Text(
    what="a cookie, header or query item name",
    pattern=r"[0-9A-Za-z_.-]{1,64}",
    rule="use letters, digits, '-' and '_'",
    max_length=64,
)
# no '!' or '#' (comments in keepalived.conf and haproxy.cfg), no quotes or '$' (HAProxy's own syntax), no
# '(', ')' or ',' (haproxy.cfg's quoting rule refuses them: taken here, a layer-7 check failed at the hand-over)
URL_PATH = Text(
    what="a URL path",
    pattern=r"/[A-Za-z0-9._~&*+;=:@%/?-]*",
    rule="start with / and use no spaces, quotes, parentheses or commas",
    max_length=255,  # a layer-4 check's path is a keepalived.conf word: at most 255 bytes
    metavar="PATH",
)
SCRIPT = Text(
    what="a check program",
    pattern=r"/[A-Za-z0-9._/-]+( [A-Za-z0-9._/=:-]+)*",
    rule="a misc check needs an absolute script path (letters, digits, . _ / - only)",
    max_length=255,  # keepalived.conf's quoting rule: a line is read 1023 bytes at a time, a word is at most 255
    metavar="PROGRAM",
)
CERTIFICATE = Text(
    what="a certificate path",
    pattern=r"/(?!.*(^|/)\.\.?(/|$))[A-Za-z0-9_./-]+",
    rule="write an absolute path of plain characters, with no . or .. parts",
    max_length=1024,
    metavar="FILE",
)
COMMENT = Text(
    what="a comment", pattern=r"[^\"'\\]*", rule="use up to 64 printable characters, no quotes or backslashes", max_length=64
)
ADDRESS = Address()
ADDRESS6 = Address6()
IP_ADDRESS = IPAddress()  # either family: VIPs, real servers, nameservers
GATEWAY6 = Address6(what="an IPv6 gateway", link_local=True)
FINGERPRINT = Text(
    what="a certificate fingerprint",
    pattern=r"[0-9a-f]{64}",
    rule="the SHA-256 of its file in the store: 64 lowercase hex digits (lbctl cert list)",
    max_length=64,
    metavar="SHA256",
)
DOMAIN = Text(
    what="a domain name",
    # the last label not all digits (RFC 3696 2): 10.0.0.21 is an address, which no CA issues for as a DNS name
    pattern=r"(?=.{1,253}$)(?!.*\.[0-9]+$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+",
    rule="a DNS name with a dot, like www.example.com (HTTP-01 proves no wildcard; an IP address is no name)",
    max_length=253,
    metavar="DOMAIN",
)
ACME_DIRECTORY = Text(
    what="an ACME directory URL",
    pattern=r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/-]*)?",
    rule="an https:// URL of plain characters, like https://acme-v02.api.letsencrypt.org/directory",
    max_length=512,
    metavar="URL",
)
EMAIL = Text(
    what="an e-mail address",
    pattern=r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+",
    rule="like admin@example.com",
    max_length=254,
    metavar="EMAIL",
)
LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"


@dataclass(frozen=True)
class CertificateNames(Listed):
    """The store certificates a TLS service presents, by name; "none" (lbctl, a form) is no name at all."""

    def parse_text(self, text: str) -> list[Any]:
        return [] if text.lower() == "none" else super().parse_text(text)


CERTIFICATE_NAMES = CertificateNames(what="the certificates", item=NAME, max_items=64, metavar="NAME[,NAME...]")


@dataclass(frozen=True)
class Scheduler(Choice):
    """A scheduler of either engine; the reference's own names (002) are answered with what gives each here."""

    def parse_text(self, text: str) -> Any:
        if text in REFERENCE_SCHEDULERS:
            raise KindError(f"{text} is the reference's name; here it is {REFERENCE_SCHEDULERS[text]}")
        return super().parse_text(text)

    def check(self, value: object) -> Any:
        if isinstance(value, str) and value in REFERENCE_SCHEDULERS:
            return self.parse_text(value)
        return super().check(value)


SCHEDULER = Scheduler(
    what="a scheduler",
    choices=tuple(dict.fromkeys(LAYER4_SCHEDULERS + LAYER7_SCHEDULERS)),
    verb="choose",
    metavar="SCHEDULER",
)
TOS_RULE = f"use one of {', '.join(QOS_CLASSES)}, or 0-255 (DSCP times 4: 184 = EF)"
TOS = Either(
    what="a QoS class or ToS byte",
    kinds=(choice_of(QOS_CLASSES, "a QoS class"), Integer(what="a QoS class or ToS byte", low=0, high=255, rule=TOS_RULE)),
    rule=TOS_RULE,
    metavar="CLASS|BYTE",
)
SOURCE = Either(
    what="a source",
    kinds=(choice_of(("any",), "any"), Network()),
    rule="write a network like 10.9.0.0/24 or 2001:db8::/32, or any",
    metavar="NETWORK|any",
)


@dataclass
class Interface:
    """One NIC the appliance owns, with its address in CIDR form."""

    address: str = setting(kind=InterfaceAddress(), help="its address and prefix, e.g. 10.0.0.21/24")
    role: str = setting("external", kind=choice_of(INTERFACE_ROLES, "a role"), help="external (clients) or internal (servers)")
    address6: str | None = setting(
        None, kind=InterfaceAddress6(), help="its IPv6 address and prefix, e.g. 2001:db8::21/64 (null: IPv4 only)"
    )


@dataclass
class Floating:
    """The addresses that move between the two units of an HA pair."""

    external: str | None = setting(None, kind=ADDRESS, help="the VIP's address")
    internal: str | None = setting(None, kind=ADDRESS, help="the real servers' default gateway (two-arm)")
    external6: str | None = setting(None, kind=ADDRESS6, help="the IPv6 VIP's address (a dual-stack pair)")
    internal6: str | None = setting(None, kind=ADDRESS6, help="the real servers' IPv6 default gateway (two-arm, dual stack)")


@dataclass
class HighAvailability:
    """This unit's part in an HA pair (keepalived VRRP)."""

    role: str = setting("master", kind=choice_of(HA_ROLES, "a role"), help="master or backup")
    peer: str | None = setting(None, kind=ADDRESS, help="the other unit's address (its eth0)")
    vrrp_id: int = setting(
        51, kind=Integer(what="a VRRP id", low=1, high=255, rule="use 1-255, the same on both units"), help="VRRP router id"
    )
    floating: Floating = setting(factory=Floating, help="the addresses that move with the master")
    advert_interval: float = setting(
        0.2,
        kind=Decimal(what="an advert interval", low=0.01, high=40, unit="seconds (VRRPv3)"),
        help="seconds between VRRP adverts: 0.2 replaces a crashed master in about 0.7 s",
    )
    preempt: bool = setting(
        True,
        kind=Boolean(),
        help="false: a returning master leaves the VIP with the unit that took over (keepalived nopreempt); "
        "set the same on both units",
    )
    pair_key: str | None = setting(
        None, kind=PublicKey(what="the pair key"), help="the pair key's public half (lbctl pair join makes it)"
    )
    shared_version: int = setting(
        0,
        kind=Integer(what="a version", low=0, high=2**31, rule="a whole number, 0 or more"),
        help="the version of the part the two units share, one up per change of the pair",
    )


REFRESH_PERSIST_MIN = 4 * 86400  # 002: Refresh Persist is offered for timeouts of 4 days or more
REFRESH_PERSIST_LAYER7_MODES = ("source-ip",)  # where a live session's client address is the entry's key


@dataclass
class Persistence:
    """How one client keeps going to the same real server, and for how long."""

    mode: str = setting(
        "source-ip",
        kind=choice_of(PERSISTENCE_MODES, "a persistence mode"),
        help="source-ip, active-cookie, ... (or none)",
        flag="--persistence",
        clear=True,
    )
    timeout: int = setting(
        300,
        kind=Integer(
            what="a persistence timeout",
            low=PERSISTENCE_TIMEOUT_MIN,
            high=PERSISTENCE_TIMEOUT_MAX,
            rule="use 60 s (one minute) to 2419200 s (28 days)",
        ),
        help="seconds",
        flag="--persistence-timeout",
    )
    netmask: int | str | None = setting(
        None,
        kind=Prefix(what="a netmask", high=32),
        help="source-ip granularity: clients in one subnet stick together, e.g. 24",
        flag="--persistence-netmask",
        clear=True,
    )
    name: str | None = setting(None, kind=TOKEN, help="cookie, query item or header name", flag="--persistence-name", clear=True)
    refresh: bool = setting(
        False,
        kind=Boolean(),
        help="yes: clients with a live connection keep it (4 days+; 002's Refresh Persist)",
        flag="--persistence-refresh",
    )


@dataclass
class HealthCheck:
    """How the engine decides a real server is alive."""

    type: str = setting(
        "tcp", kind=choice_of(HEALTH_CHECK_TYPES, "a health check"), help=" | ".join(HEALTH_CHECK_TYPES), flag="--check"
    )
    path: str | None = setting(None, kind=URL_PATH, help="http(s) check path", flag="--check-path", clear=True)
    expect: int | None = setting(
        None,
        kind=Integer(what="an HTTP status", low=100, high=599),
        help="http(s) status expected",
        flag="--check-expect",
        clear=True,
    )
    script: str | None = setting(None, kind=SCRIPT, help="misc check program", flag="--check-script", clear=True)
    interval: int = setting(
        6,
        kind=Integer(what="a check interval", low=1, high=3600, rule="use 1-3600 seconds"),
        help="seconds between checks",
        flag="--check-interval",
    )
    timeout: int = setting(
        3,
        kind=Integer(what="a check timeout", low=1, high=300, rule="use 1-300 seconds"),
        help="seconds a check may take before it fails (003: raise it for slow servers)",
        flag="--check-timeout",
    )


WEIGHT = Integer(
    what="a weight",
    low=WEIGHT_MIN,
    high=WEIGHT_MAX,
    rule=f"use 0-{WEIGHT_MAX} (0 takes the server out of rotation)",
)
CONNECTIONS = Integer(what="a connection count", low=0, high=65535)


@dataclass
class RealServer:
    """A backend that serves a virtual service."""

    name: str = setting(kind=NAME, help="its label (default RIP<n>)", flag="--name")
    address: str = setting(kind=IP_ADDRESS, help="the server's address (IPv4 or IPv6)")
    port: int = setting(kind=PORT, help="the server's port (the VIP's by default)")
    weight: int = setting(1, kind=WEIGHT, help="relative share of new connections (0: none)", flag="--weight")
    min_conns: int = setting(
        0, kind=CONNECTIONS, help="connections below which an overloaded server is used again", flag="--min-conns"
    )
    max_conns: int = setting(0, kind=CONNECTIONS, help="connection limit (0: none)", flag="--max-conns")
    nat_address: str | None = setting(
        None,
        kind=ADDRESS,
        help="two-arm: the server's own public address: inbound traffic to it is DNATed to the server, its "
        "outbound traffic SNATed from it (or none)",
        flag="--nat-address",
        clear=True,
    )
    nat_ports: str = setting(
        "",
        kind=PortList(what="a port list"),
        help='ports of that address forwarded to the server, e.g. "25, 587" ("": none, the address is then the '
        "server's outbound source only)",
        flag="--nat-ports",
    )
    state: str = setting(
        "online",
        kind=choice_of(REAL_SERVER_STATES, "a state", verb="use"),
        help="online serves; drain takes no new connections and lets current ones finish; offline is out of "
        "service, its connections cut (lbctl rs drain|offline|online)",
    )


@dataclass
class VirtualService:
    """An address and port clients connect to, and where its traffic goes."""

    name: str = setting(kind=NAME, help="its name, e.g. WEB")
    address: str = setting(
        kind=IP_ADDRESS, help="the VIP, IPv4 or IPv6 (the floating external address in an HA pair)", flag="--address"
    )
    port: int = setting(kind=PORT, help="the port clients connect to", flag="--port")
    extra_ports: str = setting(
        "", kind=PortList(what="a port list"), help='more ports, e.g. "8000-8080, 9002" (002)', flag="--extra-ports"
    )
    fwmark: int | None = setting(
        None,
        kind=Integer(
            what="a firewall mark",
            low=1,
            high=ADMIN_FWMARK_MAX,
            rule=f"use 1-{ADMIN_FWMARK_MAX} (the marks above are the appliance's own)",
        ),
        help="services sharing a mark are one IPVS service: port following (001, 004) (or none)",
        flag="--fwmark",
        clear=True,
    )
    protocol: str = setting("tcp", kind=choice_of(PROTOCOLS, "a protocol"), help="tcp | udp", flag="--protocol")
    layer: int = setting(
        4,
        kind=Choice(what="a layer", choices=(4, 7), rule="choose 4 (IPVS) or 7 (HAProxy)", metavar="4|7"),
        help="4 (IPVS) | 7 (HAProxy)",
        flag="--layer",
    )
    forwarding: str = setting(
        "nat",
        kind=choice_of(FORWARDING_METHODS, "a forwarding method"),
        help="dr | nat | tun (layer 4), snat (layer 7)",
        flag="--forwarding",
    )
    scheduler: str = setting(
        "wlc", kind=SCHEDULER, help="rr, wrr, wlc, mh, ... (layer 4); roundrobin, leastconn, ... (layer 7)", flag="--scheduler"
    )
    scheduler_param: str | None = setting(
        None, kind=TOKEN, help="the header or URL parameter of hdr / url_param", flag="--scheduler-param", clear=True
    )
    persistence: Persistence | None = setting(None, help="how one client keeps going to the same real server")
    health_check: HealthCheck = setting(factory=HealthCheck, help="how the engine decides a real server is alive")
    real_servers: list[RealServer] = setting(factory=list, help="the backends")
    sorry_server: str | None = setting(
        None,
        kind=Endpoint(what="a sorry server", host=IP_ADDRESS),
        help="ADDRESS[:PORT] that serves while no real server is up (or none)",
        flag="--sorry-server",
        clear=True,
    )
    quorum: int | None = setting(
        None,
        kind=Integer(what="a quorum", low=1, high=WEIGHT_MAX, rule=f"use a total weight of 1-{WEIGHT_MAX}"),
        help="layer 4: healthy weight below which the service is down (or none)",
        flag="--quorum",
        clear=True,
    )
    tos: int | str | None = setting(
        None, kind=TOS, help="layer 7: QoS class (minimize-delay, ...) or ToS byte, 184 = EF (or none)", flag="--tos", clear=True
    )
    idle_timeout: int = setting(
        0,
        kind=Integer(what="an idle timeout", low=0, high=HAPROXY_TIMER_MAX, rule=f"use 0 (the default) to {HAPROXY_TIMER_MAX} s"),
        help="seconds an idle connection is kept (0: the default, 660 at layer 7; layer 4: for all)",
        flag="--idle-timeout",
    )
    retry_requests: bool = setting(
        True,
        kind=Boolean(),
        help="layer 7: no to answer 502 when a server fails a request, not retry (only idempotent methods are retried)",
        flag="--retry-requests",
    )
    server_initiating: bool = setting(
        False, kind=Boolean(), help="layer 7: yes for protocols where the server speaks first", flag="--server-initiating"
    )
    tls: bool = setting(
        False, kind=Boolean(), help="layer 7: yes to terminate TLS here (HTTPS to clients, HTTP to the servers)", flag="--tls"
    )
    tls_certificate: str | None = setting(
        None,
        kind=CERTIFICATE,
        help="a PEM file under /etc/haproxy/certs/ (the older way; the store's --certificates is the newer)",
        flag="--tls-certificate",
        clear=True,
    )
    certificates: list[str] = setting(
        factory=list,
        kind=CERTIFICATE_NAMES,
        help="store certificates by name (lbctl cert list): the first is the default, HAProxy picks the others by "
        "the name a client asks for (SNI); none: the unit's own",
        flag="--certificates",
    )
    transparent: bool = setting(
        False,
        kind=Boolean(),
        help="layer 7: yes for servers to see clients' own addresses (their gateway: this unit)",
        flag="--transparent",
    )
    subnet_originating: bool = setting(
        True, kind=Boolean(), help="layer 7: no to connect to the servers from the VIP", flag="--subnet-originating"
    )
    server_nat: bool = setting(
        False, kind=Boolean(), help="yes: the servers' own connections to this port leave from the VIP", flag="--server-nat"
    )
    agent_port: int | None = setting(
        None,
        kind=Integer(what="a port", low=1, high=65535, rule="use 1-65535, or none for fixed weights"),
        help="adaptive: the servers' agents on this port set their weights (or none)",
        flag="--agent-port",
        clear=True,
    )
    response_weights: bool = setting(
        False, kind=Boolean(), help="yes: weights follow the checks' response times (002)", flag="--response-weights"
    )


@dataclass
class InputRule:
    """The admin's own opening in the unit's default-deny input filter (SNMP from the NMS, say)."""

    port: str = setting(kind=PortList(what="a port list", required=True), help='a port or a list, e.g. 161 or "8000-8080, 9002"')
    protocol: str = setting("tcp", kind=choice_of(PROTOCOLS, "a protocol"), help="tcp | udp")
    source: str = setting("any", kind=SOURCE, help="a network, or any")
    comment: str = setting("", kind=COMMENT, help="why, shown by iptables -L")


@dataclass
class Access:
    """Who may reach the unit itself; everything else arriving on any interface, IPv4 or IPv6, is dropped.

    Clients reach the virtual services' ports from anywhere; SSH (and every management service) only from
    the management networks; the admin's input rules are consulted before the final drop."""

    management_networks: list[str] = setting(
        factory=list,
        kind=Listed(what="the management networks", item=Network(), max_items=64),
        help="where SSH and management may come from; empty: the subnets of this unit's own interfaces",
    )
    input_rules: list[InputRule] = setting(factory=list, help="the admin's openings in the input filter")
    ssh_authorized_keys: list[str] = setting(
        factory=list,
        kind=Listed(what="the SSH keys", item=PublicKey(), max_items=256, separators=r"\n"),
        help="OpenSSH public keys that may log in as root (root has no password login over SSH)",
    )


@dataclass
class Clock:
    """The unit's time (chrony): the NTP servers it follows. None configured: the clock runs free, and
    lbctl status and diagnose say it is not synchronised (a unit reaches no public pool by default)."""

    ntp_servers: list[str] = setting(
        factory=list,
        kind=Listed(what="the NTP servers", item=Host(what="an NTP server"), max_items=8),
        help="host names or addresses (at most 8; three or four are plenty)",
    )


SYSLOG_PROTOCOLS = ("udp", "tcp")
SYSLOG_PORT = 514


@dataclass
class Logging:
    """Where the unit's logs go beside its own journal, which is bounded (a flood cannot fill the disk):
    a syslog server that rsyslog forwards the whole journal to, HAProxy's and keepalived's logs included."""

    syslog_server: str | None = setting(
        None,
        kind=Endpoint(what="a syslog server", host=Host(what="a syslog server"), metavar="HOST[:PORT]"),
        help="HOST[:PORT] (port 514 by default); none: the logs stay on the unit",
    )
    syslog_protocol: str = setting(
        "udp", kind=choice_of(SYSLOG_PROTOCOLS, "a syslog transport"), help="udp | tcp (tcp queues while the server is away)"
    )


@dataclass
class Metrics:
    """Prometheus endpoints on this unit's own addresses, reachable from the management networks only. Off
    until the admin turns them on: they take two ports of the unit's own addresses, which a virtual service
    on those addresses may be using."""

    enabled: bool = setting(False, kind=Boolean(), help="serve the metrics")
    node_port: int = setting(9100, kind=PORT, help="prometheus-node-exporter: IPVS (layer 4), VRRP state, the system")
    haproxy_port: int = setting(8405, kind=PORT, help="HAProxy's own exporter: layer 7")


API_PORT = 9443  # the reference's web interface port (003)


@dataclass
class Api:
    """The HTTPS API and web console (lbwizard-api.service) on this unit's own addresses (never the floating
    ones), reachable from the management networks only. On once the first boot has set root's password or an
    SSH key; its port is a setting because a virtual service on the unit's own address may need it."""

    enabled: bool = setting(True, kind=Boolean(), help="serve the HTTPS API and the web console")
    port: int = setting(API_PORT, kind=PORT, help="its TCP port on this unit's own addresses")


@dataclass
class CertificateAcme:
    """How a certificate is issued and renewed by ACME (RFC 8555): HTTP-01, answered by this unit's HAProxy on
    port 80 of its layer-7 TLS services' addresses; renewed at two thirds of its life."""

    domains: list[str] = setting(
        factory=list,
        kind=Listed(what="the domains", item=DOMAIN, max_items=100),
        help="the names it is for (each must resolve to a VIP of this unit)",
    )
    directory: str = setting(LETS_ENCRYPT, kind=ACME_DIRECTORY, help="the CA's ACME directory URL")
    email: str | None = setting(None, kind=EMAIL, help="where the CA may write about the account (or none)")


@dataclass
class Certificate:
    """A certificate of the unit's store: its PEM (certificate, chain, key) is the file named by its SHA-256 in
    /etc/lbwizard/certificates/, never written here (lbctl cert add)."""

    name: str = setting(kind=NAME, help="what TLS services call it")
    fingerprint: str = setting(kind=FINGERPRINT, help="the SHA-256 of its file in the store")
    acme: CertificateAcme | None = setting(None, help="issued and renewed by ACME (null: uploaded)")


ACME_THUMBPRINT = Text(
    what="an ACME account thumbprint",
    pattern=r"[A-Za-z0-9_-]{43}",
    rule="the base64url SHA-256 thumbprint of this unit's ACME account key (43 characters; lbctl cert acme sets it)",
    max_length=43,
)


@dataclass
class AcmeAccount:
    """This unit's ACME account (its key stays in /etc/lbwizard/acme/, 0600): while it is set, HAProxy answers
    the CA's HTTP-01 challenges for it on port 80 of the layer-7 TLS services' addresses (each token with this
    thumbprint, RFC 8555 8.3: nothing is written per order). Each unit of a pair has its own."""

    thumbprint: str = setting(kind=ACME_THUMBPRINT, help="its key's JWK thumbprint (RFC 7638), base64url")


@dataclass
class ApplianceConfig:
    """Everything the appliance does, in one document."""

    hostname: str = setting("lbmaster", kind=HOSTNAME, help="this unit's host name")
    topology: str = setting("two-arm", kind=choice_of(TOPOLOGIES, "a topology"), help="one-arm | two-arm")
    interfaces: dict[str, Interface] = setting(factory=dict, key_kind=INTERFACE_NAME, help="the NICs this unit owns")
    gateway: str | None = setting(None, kind=ADDRESS, help="the default gateway")
    gateway6: str | None = setting(
        None,
        kind=GATEWAY6,
        help="the IPv6 default gateway: on an interface's IPv6 subnet, or link-local (fe80::, on the external interface)",
    )
    nameservers: list[str] = setting(
        factory=list, kind=Listed(what="the nameservers", item=IP_ADDRESS, max_items=3), help="DNS servers (at most 3)"
    )
    ha: HighAvailability | None = setting(None, help="this unit's part in an HA pair; null: a single unit")
    access: Access = setting(factory=Access, help="who may reach the unit itself")
    time: Clock = setting(factory=Clock, help="the NTP servers")
    logging: Logging = setting(factory=Logging, help="where the logs go")
    metrics: Metrics = setting(factory=Metrics, help="Prometheus endpoints")
    api: Api = setting(factory=Api, help="the HTTPS API and web console (lbwizard serve)")
    virtual_services: list[VirtualService] = setting(factory=list, help="what clients connect to")
    certificates: list[Certificate] = setting(factory=list, help="the certificate store: TLS services name these")
    acme: AcmeAccount | None = setting(None, help="this unit's ACME account; null: none (lbctl cert acme makes it)")
    version: int = setting(
        SCHEMA_VERSION, kind=Integer(what="a schema version", low=1, high=1, rule="must be 1"), help="schema version"
    )

    def to_dict(self) -> dict[str, Any]:
        """The YAML document, version first, in the order DESIGN.md shows."""
        data = asdict(self)
        ordered = {"version": data.pop("version")}
        ordered.update(data)
        return _without_unset_ipv6(ordered)

    def external_interface(self) -> tuple[str, Interface] | None:
        """The interface clients reach the appliance on."""
        for name, iface in self.interfaces.items():
            if iface.role == "external":
                return name, iface
        return None

    def interface_for(self, address: str) -> Interface | None:
        """The interface whose subnet (of the address's family) holds an address: where this unit meets that host."""
        host = ip_address(address)
        for iface in self.interfaces.values():
            if any(host in own.network for own in own_interfaces(iface)):
                return iface
        return None

    def internal_interface(self) -> tuple[str, Interface] | None:
        """The interface the real servers sit behind (two-arm only)."""
        for name, iface in self.interfaces.items():
            if iface.role == "internal":
                return name, iface
        return None


def _without_unset_ipv6(data: dict) -> dict:
    """The document without IPv6 settings that are null (an IPv4-only unit's file is as it always was)."""
    if data.get("gateway6") is None:
        data.pop("gateway6", None)
    for iface in (data.get("interfaces") or {}).values():
        if isinstance(iface, dict) and iface.get("address6") is None:
            iface.pop("address6", None)
    floating = (data.get("ha") or {}).get("floating")
    if isinstance(floating, dict):
        for key in ("external6", "internal6"):
            if floating.get(key) is None:
                floating.pop(key, None)
    return data


def own_interfaces(iface: Interface) -> list[IPv4Interface | IPv6Interface]:
    """An interface's own addresses with their subnets: IPv4, then IPv6 where it has one."""
    found: list[IPv4Interface | IPv6Interface] = [IPv4Interface(iface.address)]
    if iface.address6:
        found.append(IPv6Interface(iface.address6))
    return found


def own_address(iface: Interface, version: int) -> IPv4Interface | IPv6Interface | None:
    """An interface's own address of one family (4 or 6), or None."""
    return next((own for own in own_interfaces(iface) if own.version == version), None)


def host_route(address: str) -> str:
    """An address as a host route: /32 in IPv4, /128 in IPv6."""
    return f"{address}/{ip_address(address).max_prefixlen}"


def dual_stack(config: ApplianceConfig) -> bool:
    """Does this unit have IPv6 (an interface's IPv6 address)? A config is dual stack or IPv4 only."""
    return any(iface.address6 for iface in config.interfaces.values())


def management_networks(config: ApplianceConfig) -> list[str]:
    """Where SSH and the unit's other management services may be reached from: the admin's list, or
    the subnets of this unit's own interfaces (IPv4 and IPv6)."""
    if config.access.management_networks:
        return list(config.access.management_networks)
    return list(dict.fromkeys(str(own.network) for i in config.interfaces.values() for own in own_interfaces(i)))


def uses_transparency(config: ApplianceConfig) -> bool:
    """Does a layer-7 service connect to its servers from the clients' own addresses (TPROXY)?"""
    return any(service.layer == 7 and service.transparent is True for service in config.virtual_services)


def extra_vips(config: ApplianceConfig, interface: Interface) -> list[str]:
    """The VIPs on an interface's subnets (either family) that are not its own address: this unit must hold
    them (or, in a pair, keepalived must move them with the floating address) for clients' packets to reach it."""
    found: list[str] = []
    for own in own_interfaces(interface):
        for service in config.virtual_services:
            vip = ip_address(service.address)
            if vip in own.network and vip != own.ip and service.address not in found:
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


def from_dict(data: Any) -> ApplianceConfig:
    """Build a config from a parsed document (text scalars as the strict loader keeps them, or JSON's
    types); raise ConfigFormatError listing every problem of shape, type and bounds, each by its field."""
    if isinstance(data, dict) and data.get("version", SCHEMA_VERSION) not in (SCHEMA_VERSION, str(SCHEMA_VERSION)):
        raise ConfigFormatError([("version", f"schema version {shown(data.get('version'))} is not {SCHEMA_VERSION}")])
    problems: list[tuple[str, str]] = []
    config = build(ApplianceConfig, data, "", problems)
    if problems:
        raise ConfigFormatError(problems)
    return config


def loads(text: str, where: str = "config", limit: int = CONFIG_LIMIT) -> ApplianceConfig:
    """Parse appliance.yaml text strictly (document.py): bounded, no aliases or duplicate keys, values as written."""
    try:
        data = document.load_text(text, limit, where)
    except document.DocumentError as exc:
        raise ConfigFormatError([(exc.field, exc.message)]) from None
    return from_dict(data)


def validated(config: ApplianceConfig) -> ApplianceConfig:
    """A config edited or built in code, checked value by value against its declarations (ConfigFormatError)."""
    problems = check(config)
    if problems:
        raise ConfigFormatError(problems)
    return config


def dumps(config: ApplianceConfig) -> str:
    """Serialise to YAML that loads() turns back into an equal config."""
    header = "# managed by lbwizard; edit with lbwizard or lbctl, every change is kept in history/\n"
    return header + yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=False)
