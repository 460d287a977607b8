"""Day-2 edits of the config: add, change and remove virtual services and real servers.

Pure functions over an ApplianceConfig copy: they find what the admin named and change it, choosing
the defaults the reference's appliance would (NAT in two-arm, DR in one-arm), and leave every judgement
of the result to verify(). A name that is not there is an EditError naming the field.
"""

from __future__ import annotations

import copy
from dataclasses import fields, replace
from typing import Any

from . import addressing, sshkeys
from .kinds import shown
from .model import ApplianceConfig as Config
from .model import HealthCheck, InputRule, Persistence, RealServer, VirtualService

LAYER_SCHEDULERS = {4: "wlc", 7: "roundrobin"}


class EditError(ValueError):
    """What the admin named does not exist, or cannot be changed that way; (field, message) like verify()."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def default_forwarding(config: Config, layer: int) -> str:
    """The reference's choice: NAT when the real servers sit behind a second arm, DR on one arm."""
    if layer == 7:
        return "snat"
    return "nat" if config.topology == "two-arm" else "dr"


def service_index(config: Config, name: str) -> int:
    for index, service in enumerate(config.virtual_services):
        if service.name == name:
            return index
    known = ", ".join(s.name for s in config.virtual_services) or "none yet"
    raise EditError("vs", f"no virtual service named {shown(name)} (there are: {known})")


def find_service(config: Config, name: str) -> VirtualService:
    return config.virtual_services[service_index(config, name)]


def server_index(service: VirtualService, key: str) -> int:
    """A real server by name, by address (when only one has it) or by address:port."""
    for index, server in enumerate(service.real_servers):
        if key in (server.name, f"{server.address}:{server.port}", addressing.endpoint_text(server.address, server.port)):
            return index
    by_address = [i for i, s in enumerate(service.real_servers) if s.address == key]
    if len(by_address) == 1:
        return by_address[0]
    known = ", ".join(f"{s.name} ({addressing.endpoint_text(s.address, s.port)})" for s in service.real_servers) or "none"
    shown_key = shown(key)
    what = f"{shown_key} is on more than one port; use ADDRESS:PORT or the name" if by_address else f"no real server {shown_key}"
    raise EditError("rs", f"{what} in {service.name} (there are: {known})")


def find_server(service: VirtualService, key: str) -> RealServer:
    return service.real_servers[server_index(service, key)]


def split_endpoint(text: str, default_port: int) -> tuple[str, int]:
    try:
        return addressing.split_endpoint(text, default_port)
    except ValueError as exc:
        raise EditError("rs.port", str(exc)) from exc


def _set_options(target: Any, options: dict[str, Any]) -> None:
    """Set dotted options ("persistence.mode") on a dataclass, creating a nested part when first needed."""
    known = {f.name for f in fields(target)}
    for key, value in options.items():
        head, _, rest = key.partition(".")
        if head not in known:
            raise EditError(key, f"unknown setting; known ones are: {', '.join(sorted(known))}")
        if rest:
            part = getattr(target, head)
            if part is None:
                part = {"persistence": Persistence, "health_check": HealthCheck}[head]()
                setattr(target, head, part)
            _set_options(part, {rest: value})
        else:
            setattr(target, head, value)


def _without_persistence(options: dict[str, Any]) -> dict[str, Any]:
    """persistence.mode None (lbctl's `--persistence none`, an emptied form field) clears persistence whole."""
    if "persistence.mode" not in options or options["persistence.mode"] is not None:
        return options
    return {k: v for k, v in options.items() if not k.startswith("persistence.")} | {"persistence": None}


def _layer_defaults(config: Config, service: VirtualService, options: dict[str, Any]) -> None:
    """The service's layer brings its forwarding and scheduler, unless the admin named them too."""
    if "forwarding" not in options:
        service.forwarding = default_forwarding(config, service.layer)
    if "scheduler" not in options:
        service.scheduler = LAYER_SCHEDULERS.get(service.layer, service.scheduler)


def _protocol_defaults(service: VirtualService, options: dict[str, Any]) -> None:
    """A UDP service is checked over UDP, a TCP one over TCP, unless the admin named the check."""
    if "protocol" in options and "health_check.type" not in options:
        if service.protocol == "udp" and service.health_check.type == "tcp":
            service.health_check.type = "udp"
        elif service.protocol == "tcp" and service.health_check.type == "udp":
            service.health_check.type = "tcp"


def add_service(config: Config, name: str, options: dict[str, Any]) -> Config:
    """A new virtual service with the topology's forwarding and the layer's scheduler unless given."""
    new = copy.deepcopy(config)
    if any(s.name == name for s in new.virtual_services):
        raise EditError("vs", f"a virtual service named {shown(name)} already exists; use `lbctl vs set`")
    missing = [key for key in ("address", "port") if options.get(key) is None]
    if missing:
        raise EditError(missing[0], f"a new virtual service needs --{missing[0]}")
    options = _without_persistence(options)
    service = VirtualService(name=name, address=options["address"], port=options["port"])
    _set_options(service, options)
    _layer_defaults(new, service, options)
    _protocol_defaults(service, options)
    _join_group(new, service)
    new.virtual_services.append(service)
    return new


def _join_group(config: Config, service: VirtualService) -> None:
    """A new service in a firewall mark gets the mark's real servers, at its own port (001: port following
    needs the same real servers on every service of the mark)."""
    group = [s for s in config.virtual_services if service.fwmark and s.fwmark == service.fwmark and s.layer == service.layer]
    if group and not service.real_servers:
        service.real_servers = [replace(server, port=service.port) for server in group[0].real_servers]


def set_service(config: Config, name: str, options: dict[str, Any]) -> Config:
    new = copy.deepcopy(config)
    service = find_service(new, name)
    if not options:
        raise EditError("vs", f"nothing to change in {name}; give at least one option (see lbctl vs set --help)")
    options = _without_persistence(options)
    _set_options(service, options)
    if "layer" in options:
        _layer_defaults(new, service, options)
    _protocol_defaults(service, options)
    return new


def remove_service(config: Config, name: str) -> Config:
    new = copy.deepcopy(config)
    del new.virtual_services[service_index(new, name)]
    return new


def _next_server_name(config: Config) -> str:
    """RIP1, RIP2, ... as the reference labels them, unique over the whole appliance."""
    taken = {server.name for service in config.virtual_services for server in service.real_servers}
    number = 1
    while f"RIP{number}" in taken:
        number += 1
    return f"RIP{number}"


def add_server(config: Config, vs: str, endpoint: str, options: dict[str, Any]) -> Config:
    """A real server at ADDRESS[:PORT] (the VIP's port by default), online, weight 1 unless given."""
    new = copy.deepcopy(config)
    service = find_service(new, vs)
    address, port = split_endpoint(endpoint, service.port)
    options = dict(options)  # the caller's options stay as given
    name = options.pop("name", None) or _next_server_name(new)
    if any(s.name == name for s in service.real_servers):
        raise EditError("rs.name", f"{service.name} already has a real server named {shown(name)}")
    server = RealServer(name=name, address=address, port=port)
    _set_options(server, options)
    service.real_servers.append(server)
    _mirror_in_group(new, service, None, server)
    return new


def set_server(config: Config, vs: str, key: str, options: dict[str, Any]) -> Config:
    new = copy.deepcopy(config)
    service = find_service(new, vs)
    server = find_server(service, key)
    was = server.address
    options = dict(options)  # the caller's options stay as given
    if "endpoint" in options:
        server.address, server.port = split_endpoint(options.pop("endpoint"), server.port)
    elif not options:
        raise EditError("rs", f"nothing to change in {server.name}; give at least one option (see lbctl rs set --help)")
    _set_options(server, options)
    _mirror_in_group(new, service, was, server)
    return new


def remove_server(config: Config, vs: str, key: str) -> Config:
    new = copy.deepcopy(config)
    service = find_service(new, vs)
    index = server_index(service, key)
    was = service.real_servers[index].address
    del service.real_servers[index]
    _mirror_in_group(new, service, was, None)
    return new


def _mirror_in_group(config: Config, service: VirtualService, was: str | None, server: RealServer | None) -> None:
    """The services of one firewall mark share their real servers (one IPVS destination each, 001's
    port following): a server added, changed or removed in one is so in all, each at its own port."""
    if not service.fwmark:
        return
    for other in config.virtual_services:
        if other is service or other.fwmark != service.fwmark or other.layer != service.layer:
            continue
        twins = [s for s in other.real_servers if was is not None and s.address == was]
        if server is None:
            other.real_servers = [s for s in other.real_servers if s not in twins]
        elif twins:
            for twin in twins:
                twin.address = server.address
                for name in ("weight", "min_conns", "max_conns", "state", "nat_address", "nat_ports"):
                    setattr(twin, name, getattr(server, name))
        elif not any(s.address == server.address for s in other.real_servers):
            taken = {s.name for s in other.real_servers}
            name = server.name if server.name not in taken else _next_server_name(config)
            other.real_servers.append(replace(server, name=name, port=other.port))


def set_server_state(config: Config, vs: str, key: str, state: str) -> Config:
    """online, drain or offline: what the admin asks of the server, kept in the config across reboots."""
    return set_server(config, vs, key, {"state": state})


# -- access: who may reach the unit itself -------------------------------------------------------------


def set_management_networks(config: Config, networks: list[str]) -> Config:
    """The networks SSH and management are allowed from; ["default"] (or none) means this unit's subnets."""
    changed = copy.deepcopy(config)
    changed.access.management_networks = [] if networks in ([], ["default"]) else list(networks)
    return changed


def add_input_rule(config: Config, rule: InputRule) -> Config:
    changed = copy.deepcopy(config)
    changed.access.input_rules.append(rule)
    return changed


def remove_input_rule(config: Config, number: int) -> Config:
    """Remove input rule `number` as `lbctl access show` counts them (from 1)."""
    rules = config.access.input_rules
    if not 1 <= number <= len(rules):
        raise EditError("rule", f"there is no input rule {number} (lbctl access show lists {len(rules)})")
    changed = copy.deepcopy(config)
    del changed.access.input_rules[number - 1]
    return changed


def add_ssh_key(config: Config, key: str) -> Config:
    """A key (normalised by sshkeys.parse_key) that may log in as root; the same key twice is refused."""
    if any(k.split()[1] == key.split()[1] for k in config.access.ssh_authorized_keys):
        raise EditError("key", f"this key is already there ({sshkeys.fingerprint(key)})")
    changed = copy.deepcopy(config)
    changed.access.ssh_authorized_keys.append(key)
    return changed


def remove_ssh_key(config: Config, which: str) -> Config:
    """Remove the key named by its number (as `lbctl access key list` counts), fingerprint or comment. The
    last one only with --force: verify_access.guards() says so on every path."""
    keys = config.access.ssh_authorized_keys
    found = [i for i, key in enumerate(keys) if which in (str(i + 1), sshkeys.fingerprint(key), " ".join(key.split()[2:]))]
    if len(found) != 1:
        known = ", ".join(f"{i}: {sshkeys.fingerprint(k)}" for i, k in enumerate(keys, 1)) or "none"
        what = "names more than one key" if found else "is no key"
        raise EditError("key", f"{shown(which)} {what} (there are: {known})")
    changed = copy.deepcopy(config)
    del changed.access.ssh_authorized_keys[found[0]]
    return changed
