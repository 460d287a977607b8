"""Setup run again on a unit already set up: the answers change what the wizard asks, nothing else.

The wizard asks for the interfaces, the gateway and nameserver, the pair, and the first virtual service
with its first real server. On a configured unit its answers are laid over a copy of the saved config:
the other services, the other servers of the first one, persistence, health checks, weights, HA
settings the wizard does not ask (VRRP id, advert interval, preemption) and the other nameservers stay
byte for byte. The first service's address and its servers' ports follow the answers only where they
were what the wizard set (the unit's own or floating address, the service's own port); whatever an
admin set apart stays. If an answer makes something kept impossible, verify() says so by name, and
the wizard refuses that answer rather than dropping anything.
"""

from __future__ import annotations

import copy
from ipaddress import IPv4Interface

from ..config.model import ApplianceConfig

WIZARD_INTERFACES = ("eth0", "eth1")


def _own_addresses(config: ApplianceConfig) -> set[str]:
    """The addresses the wizard gave the first virtual service: the unit's own, or the floating VIP."""
    own = set()
    if "eth0" in config.interfaces:  # a saved config was verified: its addresses parse
        own.add(str(IPv4Interface(config.interfaces["eth0"].address).ip))
    if config.ha and config.ha.floating.external:
        own.add(config.ha.floating.external)
    return own


def lay_over(previous: ApplianceConfig, asked: ApplianceConfig) -> ApplianceConfig:
    """previous with what the wizard's answers (asked, the config they alone would make) decide."""
    config = copy.deepcopy(previous)
    config.hostname, config.topology, config.gateway = asked.hostname, asked.topology, asked.gateway
    config.gateway6 = asked.gateway6  # kept as it was by keep_ipv6 when the IPv6 step was not asked
    others = {name: iface for name, iface in previous.interfaces.items() if name not in WIZARD_INTERFACES}
    config.interfaces = {**copy.deepcopy(asked.interfaces), **copy.deepcopy(others)}
    config.nameservers = asked.nameservers + [n for n in previous.nameservers[1:] if n not in asked.nameservers]
    if asked.ha is None:
        config.ha = None
    elif previous.ha is None:
        config.ha = copy.deepcopy(asked.ha)
    else:
        config.ha.role, config.ha.peer = asked.ha.role, asked.ha.peer
        config.ha.floating = copy.deepcopy(asked.ha.floating)
        if asked.ha.pair_key:  # a secret typed again; none typed keeps the pairing there is
            config.ha.pair_key = asked.ha.pair_key
    answered = asked.virtual_services[0]
    if not config.virtual_services:
        config.virtual_services = [copy.deepcopy(answered)]
        return config
    first = config.virtual_services[0]
    if first.address in _own_addresses(previous):
        first.address = answered.address
    old_port, first.port = first.port, answered.port
    if first.forwarding != answered.forwarding:
        if first.layer != answered.layer:  # a scheduler of the other engine means nothing there
            first.scheduler, first.scheduler_param = answered.scheduler, answered.scheduler_param
        first.forwarding, first.layer = answered.forwarding, answered.layer
    for server in first.real_servers:
        if server.port == old_port:
            server.port = answered.port
    if first.real_servers:
        first.real_servers[0].address = answered.real_servers[0].address
    else:
        first.real_servers = copy.deepcopy(answered.real_servers)
    return config


def keep_ipv6(previous: ApplianceConfig, config: ApplianceConfig) -> ApplianceConfig:
    """config with previous's IPv6 settings: the wizard's IPv6 step was not asked, so they stay as they were."""
    config.gateway6 = previous.gateway6
    for name, iface in config.interfaces.items():
        if name in previous.interfaces:
            iface.address6 = previous.interfaces[name].address6
    if config.ha is not None and previous.ha is not None:
        config.ha.floating.external6 = previous.ha.floating.external6
        config.ha.floating.internal6 = previous.ha.floating.internal6 if config.topology == "two-arm" else None
    return config
