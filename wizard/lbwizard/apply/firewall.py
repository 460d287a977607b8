"""The appliance's own netfilter rules, in chains it owns (LBW-*), through python-iptables.

python-iptables drives the legacy xtables backend only, so the appliance pins the `iptables`
alternative to iptables-legacy: the admin, keepalived and lbwizard then see one rule set. lbwizard
never flushes a chain it did not create; it only adds one jump into each built-in chain it uses.

- nat LBW-POSTROUTING: two-arm MASQUERADE of the internal subnet out of the external interface, so
  real servers reach the outside (the reference's "set up a MASQUERADE rule"); before it, SNAT of each
  real server that has its own public address (nat_address).
- nat LBW-PREROUTING: DNAT of each such public address to its real server, for services that are not
  load balanced (the reference's "individual SNAT and DNAT rules for each real server").
- mangle LBW-PREROUTING: MARK the packets of services that share a firewall mark, so IPVS treats their
  ports as one service (port following, bundled ports); and, for transparent layer-7 services, mark
  the packets of HAProxy's transparent sockets (the servers' replies to the clients' addresses) so
  the policy route of network.transparency_route_step delivers them to HAProxy (TPROXY).
- filter LBW-INPUT (IPv4 and IPv6): default deny on every interface, configured or not (a third NIC, a
  VLAN, tunl0): loopback, replies, the ICMP that networks need (echo, errors, path MTU; IPv6 neighbour
  discovery), SSH, the metrics exporters and the API from the management networks only, VRRP, IPVS
  connection sync and HAProxy's peers from the peer only, the admin's own input rules (appliance.yaml
  `access.input_rules`), the virtual services' ports; then DROP. lbwizard's jump is INPUT's first rule, so
  rules added to INPUT by hand never match: input_rules are the admin's place, versioned, rolled back and
  kept by every apply.
- filter LBW-FORWARD (IPv4 and IPv6): a two-arm unit is not an open router into the server network.
  Forwarded are replies, the replies of layer-4 NAT real servers (IPVS rewrites them after this
  filter), the internal subnet's outbound connections (the masquerade) and the configured ports of a
  real server's own public address (nat_ports); then DROP. IPv6 (a dual-stack unit) forwards the same,
  routed, not translated: replies, the replies of IPv6 layer-4 NAT servers, and the internal IPv6 subnet's
  outbound connections; there is no NAT address or masquerade in IPv6.
- IPv6 input as IPv4's: the IPv6 VIPs' ports, management from the IPv6 management networks (by default the
  unit's own IPv6 subnets), and in a dual-stack pair VRRP from the peer's link-local address to VRRP's
  multicast group (RFC 5798: hop limit 255), where the IPv6 floating addresses' instances advertise.
"""

from __future__ import annotations

import atexit
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Interface, IPv6Interface, ip_address, ip_network

from ..config import acme_http
from ..config.addressing import parse_port_list, port_ranges, service_ports, split_endpoint
from ..config.model import (
    HAPROXY_PEERS_PORT,
    TRANSPARENT_MARK,
    ApplianceConfig,
    dual_stack,
    host_route,
    ipvs_marks,
    management_networks,
    nat_addresses,
    uses_transparency,
)
from ..config.verify_host import management_ports
from ..render import quoting
from .step import Step

Rule = dict  # iptc.easy's rule dictionaries
JUMPS_REMOVED_AT_MOST = 16  # jumps to one of our chains an undo removes (one is ours; more were left by hand)
SSH_PORT = "22"
LVS_SYNC_PORT = "8848"


@dataclass(frozen=True)
class ChainRules:
    """The complete content of one chain lbwizard owns, and the built-in chain that jumps to it."""

    table: str
    chain: str
    parent: str
    rules: list[Rule]
    ipv6: bool = False

    @property
    def key(self) -> str:
        """Its name in a picture: one chain name is used in several tables and in both families."""
        return f"{'ip6 ' if self.ipv6 else ''}{self.table} {self.chain}"


def _dport(first: int, last: int) -> str:
    """A port or a range as iptables' --dport/--sport value: "80", "8000:8080"."""
    return str(first) if first == last else f"{first}:{last}"


def _service_matches(service) -> list[Rule]:
    """One match per port or port range of a service: its address, protocol and destination port."""
    ranges = port_ranges(service_ports(service.port, service.extra_ports))
    return [
        {
            "dst": host_route(service.address),
            "protocol": service.protocol,
            service.protocol: {"dport": _dport(first, last)},
        }
        for first, last in ranges
    ]


def _version(address: str) -> int:
    return ip_address(address).version


def _service_rules(config: ApplianceConfig, version: int = 4) -> list[Rule]:
    """The virtual services' ports on their VIPs of one family (and the ACME listeners')."""
    services = [service for service in config.virtual_services if _version(service.address) == version]
    rules = [match | {"target": "ACCEPT"} for service in services for match in _service_matches(service)]
    # HAProxy's ACME HTTP-01 listeners (config/acme_http.py): port 80 of TLS services' addresses
    listeners = [a for a in acme_http.listener_addresses(config) if _version(a) == version]
    challenge = [{"dst": host_route(a), "protocol": "tcp", "tcp": {"dport": "80"}} for a in listeners]
    return rules + [match | {"target": "ACCEPT"} for match in challenge]


def _mark_rules(config: ApplianceConfig) -> list[Rule]:
    """mangle MARK rules: the packets of every port of a marked service carry its mark into IPVS; replies
    to HAProxy's transparent connections carry the TPROXY mark (first: they are never IPVS traffic)."""
    divert: list[Rule] = []
    if uses_transparency(config):
        mark = hex(TRANSPARENT_MARK)
        divert.append({"protocol": "tcp", "socket": {"transparent": ""}, "target": {"MARK": {"set-xmark": f"{mark}/{mark}"}}})
    marks = ipvs_marks(config)
    return divert + [
        match | {"target": {"MARK": {"set-xmark": f"{hex(marks[service.name])}/0xffffffff"}}}
        for service in config.virtual_services
        if service.name in marks and _version(service.address) == 4  # verify: marked services are IPv4
        for match in _service_matches(service)
    ]


# ICMP a network needs; echo replies and the errors of tracked connections come in as RELATED/ESTABLISHED.
ICMP_TYPES = ("3", "8", "11", "12")  # unreachable (with fragmentation needed: path MTU), echo, time exceeded, parameter
ICMP6_TYPES = ("1", "2", "3", "4", "128")  # the same in IPv6, packet too big (path MTU) among them
NEIGHBOUR_DISCOVERY = ("135", "136")  # solicitation and advertisement, from on-link only (hop limit 255)
VRRP_PROTOCOL = "112"  # by number: /etc/protocols may be absent on a minimal system
MLD_QUERY = "130"  # multicast listener query, from a link-local router address
VRRP6_GROUP = "ff02::12/128"  # RFC 5798: IPv6 VRRP adverts go to this group, from a link-local address
ESTABLISHED: Rule = {"conntrack": {"ctstate": "RELATED,ESTABLISHED"}, "target": "ACCEPT"}


def _ports(text: str) -> list[str]:
    """A port list as iptables' --dport values ("80", "8000:8080")."""
    return [_dport(first, last) for first, last in parse_port_list(text)]


def _family(network: str) -> int:
    return 4 if network == "any" else ip_network(network, strict=False).version


def _input_rules(config: ApplianceConfig, version: int) -> list[Rule]:
    """What may reach this unit itself, in one family; everything else is dropped on every interface."""
    rules: list[Rule] = [{"in-interface": "lo", "target": "ACCEPT"}, ESTABLISHED]
    if version == 4:
        rules += [{"protocol": "icmp", "icmp": {"icmp-type": kind}, "target": "ACCEPT"} for kind in ICMP_TYPES]
    else:
        rules += [{"protocol": "icmpv6", "icmp6": {"icmpv6-type": kind}, "target": "ACCEPT"} for kind in ICMP6_TYPES]
        rules += [
            {"protocol": "icmpv6", "icmp6": {"icmpv6-type": kind}, "hl": {"hl-eq": "255"}, "target": "ACCEPT"}
            for kind in NEIGHBOUR_DISCOVERY
        ]
    ports = [SSH_PORT, *(str(port) for port in management_ports(config))]  # SSH, the exporters, the API
    rules += [
        {"src": net, "protocol": "tcp", "tcp": {"dport": port}, "target": "ACCEPT"}
        for net in management_networks(config)
        if _family(net) == version
        for port in ports
    ]
    if version == 4 and config.ha is not None and config.ha.peer:
        peer = f"{config.ha.peer}/32"
        rules += [
            {"src": peer, "protocol": VRRP_PROTOCOL, "target": "ACCEPT"},
            {"src": peer, "protocol": "udp", "udp": {"dport": LVS_SYNC_PORT}, "target": "ACCEPT"},
            {"src": peer, "protocol": "tcp", "tcp": {"dport": str(HAPROXY_PEERS_PORT)}, "target": "ACCEPT"},
        ]
        if config.ha.pair_key:  # the pair's changes come over SSH, whatever the management networks say
            rules.append({"src": peer, "protocol": "tcp", "tcp": {"dport": SSH_PORT}, "target": "ACCEPT"})
    if version == 6 and dual_stack(config):  # a router's MLD queries: without answers, a snooping switch stops
        # sending this unit the multicast NDP (solicited-node) and VRRP need
        rules.append({"src": "fe80::/10", "protocol": "icmpv6", "icmp6": {"icmpv6-type": MLD_QUERY}, "target": "ACCEPT"})
    if version == 6 and config.ha is not None and dual_stack(config):
        rules.append(
            {"src": "fe80::/10", "dst": VRRP6_GROUP, "protocol": VRRP_PROTOCOL, "hl": {"hl-eq": "255"}, "target": "ACCEPT"}
        )
    for rule in config.access.input_rules:
        if rule.source != "any" and _family(rule.source) != version:
            continue
        source = {} if rule.source == "any" else {"src": str(ip_network(rule.source, strict=False))}
        comment = {"comment": {"comment": rule.comment}} if rule.comment else {}
        rules += [
            source | {"protocol": rule.protocol, rule.protocol: {"dport": port}} | comment | {"target": "ACCEPT"}
            for port in _ports(str(rule.port))
        ]
    rules += _service_rules(config, version)
    return [*rules, {"target": "DROP"}]


def _internal_subnet(config: ApplianceConfig, version: int) -> str | None:
    """The two-arm unit's internal subnet of one family, or None."""
    internal = config.internal_interface()
    if config.topology != "two-arm" or internal is None:
        return None
    if version == 4:
        return str(IPv4Interface(internal[1].address).network)
    return str(IPv6Interface(internal[1].address6).network) if internal[1].address6 else None


def _nat_reply_rules(config: ApplianceConfig, version: int = 4) -> list[Rule]:
    """The replies of layer-4 NAT real servers (and sorry servers) on their way back to the clients: IPVS
    keeps no conntrack entry for them, and rewrites their source only after the filter has seen them.
    A two-arm unit's servers on its internal subnet need none: the masquerade's rule (IPv6: the internal
    subnet's routed one) forwards all they send."""
    subnet = _internal_subnet(config, version)
    covered = ip_network(subnet) if subnet else None
    icmp = "icmp" if version == 4 else "icmpv6"
    rules: list[Rule] = []
    for service in config.virtual_services:
        if service.layer != 4 or service.forwarding != "nat":
            continue
        ports = [(s.address, s.port) for s in service.real_servers]
        if service.sorry_server:
            ports.append(split_endpoint(service.sorry_server, service.port))  # the one ADDRESS[:PORT] parser
        extra = _ports(service.extra_ports) if service.extra_ports else []
        for address, port in dict.fromkeys(ports):
            if _version(address) != version or (covered is not None and ip_address(address) in covered):
                continue
            source = {"src": host_route(address), "protocol": service.protocol}
            sports = dict.fromkeys([str(port), *extra])
            rules += [source | {service.protocol: {"sport": sport}, "target": "ACCEPT"} for sport in sports]
            rules.append({"src": host_route(address), "protocol": icmp, "target": "ACCEPT"})  # its errors (path MTU)
    return list({str(rule): rule for rule in rules}.values())


def _forward_rules(config: ApplianceConfig, version: int = 4) -> list[Rule]:
    """What this unit routes, in one family: nothing but what a service, the internal subnet's outbound
    connections (IPv4: masqueraded; IPv6: routed) or a NAT address (IPv4) needs."""
    rules: list[Rule] = [ESTABLISHED, *_nat_reply_rules(config, version)]
    external, internal = config.external_interface(), config.internal_interface()
    subnet = _internal_subnet(config, version)
    if external and internal and subnet:
        rules.append({"in-interface": internal[0], "src": subnet, "out-interface": external[0], "target": "ACCEPT"})
        if version == 4:
            for server, ports in _nat_ports(config).items():
                rules += _inbound(server, external[0], ports, {"conntrack": {"ctstate": "DNAT"}, "target": "ACCEPT"})
    return [*rules, {"target": "DROP"}]


def _inbound(address: str, interface: str, ports: list[str], then: Rule) -> list[Rule]:
    """One rule per port (or range) and protocol, tcp and udp, for packets from outside to address."""
    return [
        {"dst": f"{address}/32", "in-interface": interface, "protocol": protocol, protocol: {"dport": port}} | then
        for port in ports
        for protocol in ("tcp", "udp")
    ]


def _nat_ports(config: ApplianceConfig) -> dict[str, list[str]]:
    """Real server address -> the ports forwarded to it from its own public address (every service's)."""
    found: dict[str, list[str]] = {}
    for service in config.virtual_services:
        for server in service.real_servers:
            if server.nat_address and server.nat_ports:
                ports = found.setdefault(server.address, [])
                ports += [p for p in _ports(server.nat_ports) if p not in ports]
    return found


def _server_nat_rules(config: ApplianceConfig, interface: str) -> list[Rule]:
    """002's "Use Address for Server NAT": a service's real servers' own connections to its port(s) leave
    with the VIP as source (before the masquerade, and before a server's own public address)."""
    rules: list[Rule] = []
    for service in config.virtual_services:
        if not service.server_nat:
            continue
        for server in dict.fromkeys(s.address for s in service.real_servers):
            rules += [
                {"src": f"{server}/32", "out-interface": interface, "protocol": service.protocol}
                | {service.protocol: {"dport": _dport(first, last)}}
                | {"target": {"SNAT": {"to-source": service.address}}}
                for first, last in port_ranges(service_ports(service.port, service.extra_ports))
            ]
    return rules


def chains(config: ApplianceConfig) -> list[ChainRules]:
    """Everything lbwizard puts into netfilter for this config."""
    external = config.external_interface()
    internal = config.internal_interface()
    nat: list[Rule] = []
    dnat: list[Rule] = []
    if config.topology == "two-arm" and external and internal:
        forwarded = _nat_ports(config)
        nat += _server_nat_rules(config, external[0])
        for server, public in nat_addresses(config).items():
            dnat += _inbound(public, external[0], forwarded.get(server, []), {"target": {"DNAT": {"to-destination": server}}})
            nat.append({"src": f"{server}/32", "out-interface": external[0], "target": {"SNAT": {"to-source": public}}})
        subnet = str(IPv4Interface(internal[1].address).network)
        nat.append({"src": subnet, "out-interface": external[0], "target": "MASQUERADE"})
    forward6 = _forward_rules(config, 6) if dual_stack(config) else [{"target": "DROP"}]  # IPv4 only: nothing routed
    return [
        ChainRules("nat", "LBW-PREROUTING", "PREROUTING", dnat),
        ChainRules("nat", "LBW-POSTROUTING", "POSTROUTING", nat),
        ChainRules("mangle", "LBW-PREROUTING", "PREROUTING", _mark_rules(config)),
        ChainRules("filter", "LBW-INPUT", "INPUT", _input_rules(config, 4)),
        ChainRules("filter", "LBW-FORWARD", "FORWARD", _forward_rules(config)),
        ChainRules("filter", "LBW-INPUT", "INPUT", _input_rules(config, 6), ipv6=True),
        ChainRules("filter", "LBW-FORWARD", "FORWARD", forward6, ipv6=True),
    ]


# -- rules.v4 and rules.v6: the same rules as iptables-save text ------------------------------------------------

_OPTIONS = (("src", "-s"), ("dst", "-d"), ("in-interface", "-i"), ("out-interface", "-o"), ("protocol", "-p"))


def rule_args(rule: Rule) -> str:
    """One rule as iptables arguments, in iptables-save's order."""
    parts = [f"{flag} {rule[key]}" for key, flag in _OPTIONS if key in rule]
    for key, value in sorted(rule.items()):  # matches in the order _make gives them to the kernel
        if isinstance(value, dict) and key != "target":
            parts.append(f"-m {key} " + " ".join(f"--{opt} {_argument(key, val)}".strip() for opt, val in value.items()))
    target = rule["target"]
    if isinstance(target, dict):  # a target with options: {"MARK": {"set-xmark": "0x1/0xffffffff"}}
        ((name, options),) = target.items()
        parts.append(f"-j {name} " + " ".join(f"--{opt} {val}" for opt, val in options.items()))
    else:
        parts.append(f"-j {target}")
    return " ".join(parts)


def _argument(match: str, value: object) -> str:
    """A match's option value as iptables-restore reads it back: the admin's comment quoted and escaped as
    iptables-save writes it (render/quoting.py; a newline in it is refused), the appliance's own values as
    they are (quoted when they hold a space)."""
    if match == "comment":
        return quoting.iptables_comment(value, "access.input_rules[].comment")
    text = str(value)
    return f'"{text}"' if " " in text else text


def save_text(all_chains: list[ChainRules], ipv6: bool = False) -> str:
    """What lbwizard applies in one family, in iptables-save format (only its own chains and jumps)."""
    lines = ["# managed by lbwizard: the rules it applies, in its own LBW-* chains"]
    all_chains = [c for c in all_chains if c.ipv6 == ipv6]
    for table in dict.fromkeys(c.table for c in all_chains):
        lines.append(f"*{table}")
        mine = [c for c in all_chains if c.table == table]
        lines += [f":{c.chain} - [0:0]" for c in mine]
        lines += [f"-A {c.parent} -j {c.chain}" for c in mine]
        lines += [f"-A {c.chain} {rule_args(rule)}" for c in mine for rule in c.rules]
        lines.append("COMMIT")
    return "\n".join(lines) + "\n"


# -- applying --------------------------------------------------------------------------------------

_closing_registered = False


def _easy():
    """python-iptables' easy API, with its cached table handles closed before the interpreter finalizes.

    Each easy call commits at once; the cache keeps autocommit handles whose __del__ commits and frees them
    during finalization, where a run was seen spinning in libc with the GIL held after its last step (issue
    13's hang). The lbwizard and lbctl commands skip finalization altogether (manage/process_end.py); for
    a caller in the same process (the TUI under test) they are closed by atexit, with nothing left to
    commit, so they are never touched there.
    """
    global _closing_registered
    import iptc.easy as easy

    if not _closing_registered:
        atexit.register(_close_tables)
        _closing_registered = True
    return easy


def _close_tables() -> None:
    import iptc

    for kind in (iptc.Table, iptc.Table6):
        for table in list(kind._cache.values()):
            table.autocommit = False  # every change was committed when it was made
            table.close()
        kind._cache.clear()


def chain_state(table: str, chain: str, parent: str, ipv6: bool = False) -> tuple[list[Rule] | None, bool]:
    """A chain lbwizard owns as it is now: its rules (None: no chain; counters left out) and its jump."""
    easy = _easy()

    if not easy.has_chain(table, chain, ipv6=ipv6):
        return None, False
    dumped = easy.dump_chain(table, chain, ipv6=ipv6)
    rules = [{key: value for key, value in rule.items() if key != "counters"} for rule in dumped]
    return rules, bool(easy.has_rule(table, parent, {"target": chain}, ipv6=ipv6))


@contextmanager
def _one_commit(table: str, ipv6: bool) -> Iterator[object]:
    """A table of python-iptables' to change as a whole: every change made to it inside is committed to the
    kernel at once, when the block ends (iptables-restore's semantics), or not at all when it raises.

    The easy API commits after every call (autocommit), so a flush and the adds after it left the chain
    incomplete in between: for that moment packets met a filter that neither the old nor the new rules
    make. With autocommit off, the changes go to one libiptc handle, and one commit replaces the table.
    """
    import iptc

    handle = (iptc.Table6 if ipv6 else iptc.Table)(table)  # python-iptables keeps one object per table
    handle.autocommit = False
    handle.refresh()  # the kernel's table as it is now, nothing pending
    try:
        yield handle
        handle.commit()
    finally:
        handle.refresh()  # a fresh handle: after a commit, or dropping a batch that failed half way
        handle.autocommit = True  # as the easy API (chain_state, pictures) expects it


def _jump(handle, spec: ChainRules):
    """The rule in spec.parent that jumps to spec.chain. python-iptables reads a target as a chain only
    when a table has that chain, so this is encoded once the chain exists (in the handle, pending or not)."""
    assert handle.is_chain(spec.chain)
    return _easy().encode_iptc_rule({"target": spec.chain}, spec.ipv6)


def _make(handle, spec: ChainRules, rules: list[Rule] | None, jumped: bool) -> None:
    """Inside _one_commit: the chain holding exactly rules (None: no chain, and no jump to it), jumped to
    from its built-in chain or not. Each rule's matches in name order: the kernel keeps them in the order
    given, and a picture that went through JSON (sorted keys) must fill the chain exactly as the apply did."""
    import iptc

    parent = iptc.Chain(handle, spec.parent)
    if rules is None:
        if not handle.is_chain(spec.chain):
            return
        jump = _jump(handle, spec)
        for _ in range(JUMPS_REMOVED_AT_MOST):  # bounded: a delete that does not take must not spin for ever
            if jump not in parent.rules:
                break
            parent.delete_rule(jump)
        else:
            raise RuntimeError(f"the jump from {spec.table} {spec.parent} to {spec.chain} could not be removed")
        handle.flush_entries(spec.chain)
        handle.delete_chain(spec.chain)
        return
    chain = iptc.Chain(handle, spec.chain) if handle.is_chain(spec.chain) else handle.create_chain(spec.chain)
    chain.flush()
    for rule in rules:
        chain.append_rule(_easy().encode_iptc_rule(dict(sorted(rule.items())), spec.ipv6))
    jump = _jump(handle, spec)
    has_jump = jump in parent.rules
    if jumped and not has_jump:
        parent.insert_rule(jump)
    elif has_jump and not jumped:
        parent.delete_rule(jump)


def table_step(specs: list[ChainRules]) -> Step:
    """Make each chain of one table (one family) hold exactly its rules and be jumped to, in one commit;
    undo restores every chain and jump as found, in one commit too."""
    table, ipv6 = specs[0].table, specs[0].ipv6
    assert all((spec.table, spec.ipv6) == (table, ipv6) for spec in specs), "one table, one family"
    saved: dict[str, list] = {}

    def do() -> None:
        saved["found"] = [chain_state(spec.table, spec.chain, spec.parent, spec.ipv6) for spec in specs]
        with _one_commit(table, ipv6) as handle:
            for spec in specs:
                _make(handle, spec, spec.rules, jumped=True)

    def undo() -> None:
        if "found" in saved:
            with _one_commit(table, ipv6) as handle:
                for spec, (rules, jumped) in zip(specs, saved["found"], strict=True):
                    _make(handle, spec, rules, jumped)

    count = sum(len(spec.rules) for spec in specs)
    family = "IPv6" if ipv6 else "IPv4"
    names = ", ".join(spec.chain for spec in specs)
    return Step(f"load {count} {family} firewall rule{'s' * (count != 1)} into {table} {names} (one commit)", do, undo)


def restore_chain(spec: ChainRules, rules: list[Rule] | None, jumped: bool) -> None:
    """Put a chain lbwizard owns back to a picture, in one commit: its rules (None: no chain at all) and its jump."""
    with _one_commit(spec.table, spec.ipv6) as handle:
        _make(handle, spec, rules, jumped)


def plan(config: ApplianceConfig) -> list[Step]:
    """One step per table and family, each its own single commit (nat, mangle, filter, then IPv6's filter)."""
    tables: dict[tuple[bool, str], list[ChainRules]] = {}
    for spec in chains(config):
        tables.setdefault((spec.ipv6, spec.table), []).append(spec)
    return [table_step(specs) for specs in tables.values()]
