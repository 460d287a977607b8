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
- filter LBW-INPUT: what may reach the load balancer itself: loopback, replies, ICMP, SSH, the
  virtual services' ports, VRRP and IPVS connection sync from the peer; everything else arriving on
  the configured interfaces is dropped. Traffic forwarded to real servers is not affected.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Interface

from ..config.addressing import parse_port_list
from ..config.model import TRANSPARENT_MARK, ApplianceConfig, uses_transparency
from .network import nat_addresses
from .step import Step

Rule = dict  # iptc.easy's rule dictionaries
SSH_PORT = "22"
LVS_SYNC_PORT = "8848"


@dataclass(frozen=True)
class ChainRules:
    """The complete content of one chain lbwizard owns, and the built-in chain that jumps to it."""

    table: str
    chain: str
    parent: str
    rules: list[Rule]


def _service_matches(service) -> list[Rule]:
    """One match per port or port range of a service: its address, protocol and destination port."""
    ranges = [(service.port, service.port)]
    if service.extra_ports:
        ranges += parse_port_list(service.extra_ports)
    return [
        {
            "dst": f"{service.address}/32",
            "protocol": service.protocol,
            service.protocol: {"dport": str(first) if first == last else f"{first}:{last}"},
        }
        for first, last in ranges
    ]


def _service_rules(config: ApplianceConfig) -> list[Rule]:
    return [match | {"target": "ACCEPT"} for service in config.virtual_services for match in _service_matches(service)]


def _mark_rules(config: ApplianceConfig) -> list[Rule]:
    """mangle MARK rules: the packets of every port of a marked service carry its mark into IPVS; replies
    to HAProxy's transparent connections carry the TPROXY mark (first: they are never IPVS traffic)."""
    divert: list[Rule] = []
    if uses_transparency(config):
        mark = hex(TRANSPARENT_MARK)
        divert.append({"protocol": "tcp", "socket": {"transparent": ""}, "target": {"MARK": {"set-xmark": f"{mark}/{mark}"}}})
    return divert + [
        match | {"target": {"MARK": {"set-xmark": f"{hex(service.fwmark)}/0xffffffff"}}}
        for service in config.virtual_services
        if service.fwmark
        for match in _service_matches(service)
    ]


def chains(config: ApplianceConfig) -> list[ChainRules]:
    """Everything lbwizard puts into netfilter for this config."""
    external = config.external_interface()
    internal = config.internal_interface()
    nat: list[Rule] = []
    dnat: list[Rule] = []
    if config.topology == "two-arm" and external and internal:
        for server, public in nat_addresses(config).items():
            dnat.append({"dst": f"{public}/32", "in-interface": external[0], "target": {"DNAT": {"to-destination": server}}})
            nat.append({"src": f"{server}/32", "out-interface": external[0], "target": {"SNAT": {"to-source": public}}})
        subnet = str(IPv4Interface(internal[1].address).network)
        nat.append({"src": subnet, "out-interface": external[0], "target": "MASQUERADE"})
    filter_rules: list[Rule] = [
        {"in-interface": "lo", "target": "ACCEPT"},
        {"conntrack": {"ctstate": "RELATED,ESTABLISHED"}, "target": "ACCEPT"},
        {"protocol": "icmp", "target": "ACCEPT"},
        {"protocol": "tcp", "tcp": {"dport": SSH_PORT}, "target": "ACCEPT"},
    ]
    if config.ha is not None and config.ha.peer:
        # VRRP is IP protocol 112 (by number: /etc/protocols may be absent on a minimal system)
        filter_rules.append({"src": f"{config.ha.peer}/32", "protocol": "112", "target": "ACCEPT"})
        filter_rules.append(
            {"src": f"{config.ha.peer}/32", "protocol": "udp", "udp": {"dport": LVS_SYNC_PORT}, "target": "ACCEPT"}
        )
    filter_rules += _service_rules(config)
    filter_rules += [{"in-interface": name, "target": "DROP"} for name in config.interfaces]
    return [
        ChainRules("nat", "LBW-PREROUTING", "PREROUTING", dnat),
        ChainRules("nat", "LBW-POSTROUTING", "POSTROUTING", nat),
        ChainRules("mangle", "LBW-PREROUTING", "PREROUTING", _mark_rules(config)),
        ChainRules("filter", "LBW-INPUT", "INPUT", filter_rules),
    ]


# -- rules.v4: the same rules as iptables-save text ------------------------------------------------

_OPTIONS = (("src", "-s"), ("dst", "-d"), ("in-interface", "-i"), ("out-interface", "-o"), ("protocol", "-p"))


def rule_args(rule: Rule) -> str:
    """One rule as iptables arguments, in iptables-save's order."""
    parts = [f"{flag} {rule[key]}" for key, flag in _OPTIONS if key in rule]
    for key, value in rule.items():
        if isinstance(value, dict) and key != "target":
            parts.append(f"-m {key} " + " ".join(f"--{opt} {val}".strip() for opt, val in value.items()))
    target = rule["target"]
    if isinstance(target, dict):  # a target with options: {"MARK": {"set-xmark": "0x1/0xffffffff"}}
        ((name, options),) = target.items()
        parts.append(f"-j {name} " + " ".join(f"--{opt} {val}" for opt, val in options.items()))
    else:
        parts.append(f"-j {target}")
    return " ".join(parts)


def save_text(all_chains: list[ChainRules]) -> str:
    """What lbwizard applies, in iptables-save format (only its own chains and jumps)."""
    lines = ["# managed by lbwizard: the rules it applies, in its own LBW-* chains"]
    for table in dict.fromkeys(c.table for c in all_chains):
        lines.append(f"*{table}")
        mine = [c for c in all_chains if c.table == table]
        lines += [f":{c.chain} - [0:0]" for c in mine]
        lines += [f"-A {c.parent} -j {c.chain}" for c in mine]
        lines += [f"-A {c.chain} {rule_args(rule)}" for c in mine for rule in c.rules]
        lines.append("COMMIT")
    return "\n".join(lines) + "\n"


# -- applying --------------------------------------------------------------------------------------


def chain_state(table: str, chain: str, parent: str) -> tuple[list[Rule] | None, bool]:
    """A chain lbwizard owns as it is now: its rules (None: no chain; counters left out) and its jump."""
    import iptc.easy as easy

    if not easy.has_chain(table, chain):
        return None, False
    rules = [{key: value for key, value in rule.items() if key != "counters"} for rule in easy.dump_chain(table, chain)]
    return rules, bool(easy.has_rule(table, parent, {"target": chain}))


def chain_step(spec: ChainRules) -> Step:
    """Make the chain hold exactly spec.rules and be jumped to; undo restores chain and jump as found."""
    import iptc.easy as easy  # needs libxtables: imported only where rules are really applied

    saved: dict[str, object] = {}
    jump = {"target": spec.chain}

    def do() -> None:
        rules, jumped = saved["found"] = chain_state(spec.table, spec.chain, spec.parent)
        if rules is None:
            easy.add_chain(spec.table, spec.chain)
        _fill(easy, spec.table, spec.chain, spec.rules)
        if not jumped:
            easy.insert_rule(spec.table, spec.parent, jump)

    def undo() -> None:
        if "found" in saved:
            restore_chain(spec, *saved["found"])  # type: ignore[misc]

    count = len(spec.rules)
    return Step(f"load {count} firewall rule{'s' * (count != 1)} into {spec.table} {spec.chain}", do, undo)


def restore_chain(spec: ChainRules, rules: list[Rule] | None, jumped: bool) -> None:
    """Put a chain lbwizard owns back to a picture: its rules (None: no chain at all) and its jump."""
    import iptc.easy as easy

    jump = {"target": spec.chain}
    if rules is None:
        while easy.has_chain(spec.table, spec.chain) and easy.has_rule(spec.table, spec.parent, jump):
            easy.delete_rule(spec.table, spec.parent, jump)
        if easy.has_chain(spec.table, spec.chain):
            easy.flush_chain(spec.table, spec.chain)
            easy.delete_chain(spec.table, spec.chain)
        return
    if not easy.has_chain(spec.table, spec.chain):
        easy.add_chain(spec.table, spec.chain)
    _fill(easy, spec.table, spec.chain, rules)
    has_jump = easy.has_rule(spec.table, spec.parent, jump)
    if jumped and not has_jump:
        easy.insert_rule(spec.table, spec.parent, jump)
    elif has_jump and not jumped:
        easy.delete_rule(spec.table, spec.parent, jump)


def _fill(easy, table: str, chain: str, rules: list[Rule]) -> None:
    easy.flush_chain(table, chain)
    for rule in rules:
        easy.add_rule(table, chain, rule)


def plan(config: ApplianceConfig) -> list[Step]:
    return [chain_step(spec) for spec in chains(config)]
