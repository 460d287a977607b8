"""A change in the running engines first, as transaction steps: it takes effect at once, then the
hand-over makes it durable.

IPVS takes a destination added, removed or reweighted (a drain is weight 0) through ipvsadm; HAProxy
takes a server's state and weight through its runtime API. The hand-over that follows writes the same
change into the daemons' files (so a restart keeps it): keepalived is then reloaded, which keeps IPVS
connections and makes its own idea of the destinations agree with the kernel's (one it finds already
there it logs as existing and checks as its own); HAProxy is not reloaded when only its servers'
states changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..config.model import ApplianceConfig, RealServer, VirtualService
from ..engines.access import Engines
from ..engines.errors import NotAsked
from ..engines.haproxy import backend_name
from ..engines.ipvs import FORWARD_FLAGS, ipvs_key, ipvs_service_args
from ..render.rolevars import keepalived_virtual_servers
from .step import Step

HAPROXY_STATE = {"online": "ready", "drain": "drain", "offline": "maint"}


def _haproxy_commands(service: str, server: RealServer) -> list[str]:
    """The runtime commands that put one server in its requested state."""
    where = f"{backend_name(service)}/{server.name}"
    commands = [f"set server {where} state {HAPROXY_STATE[server.state]}"]
    if server.state == "online":  # a reload while drained left weight 0 from the file: give the weight back
        commands.insert(0, f"set weight {where} {server.weight}")
    if server.state == "offline":  # out of service means out: cut its sessions too
        commands.append(f"shutdown sessions server {where}")
    return commands


def _haproxy_step(engines: Engines, service: VirtualService, before: RealServer, after: RealServer) -> Step:
    def do() -> None:
        for command in _haproxy_commands(service.name, after):
            engines.haproxy_set(command)

    def undo() -> None:
        for command in _haproxy_commands(service.name, before):
            if not command.startswith("shutdown"):
                engines.haproxy_set(command)

    where = f"{backend_name(service.name)}/{after.name}"
    return Step(f"HAProxy runtime: {where} {before.state} -> {after.state} (no reload)", do, undo)


def _ipvs_steps(before: ApplianceConfig, after: ApplianceConfig, engines: Engines) -> list[Step]:
    """ipvsadm edits that turn the kernel's table from before's destinations into after's.

    Only services the kernel already has are touched (keepalived loads the rest), and a weight the
    health checker has set to 0 is left for keepalived to restore when the server is healthy again.
    """
    table = engines.ipvs_services()
    if not table:
        return []
    old = {ipvs_key(e): e for e in keepalived_virtual_servers(before)}
    steps = []
    for entry in keepalived_virtual_servers(after):
        key = ipvs_key(entry)
        if key not in table or key not in old:
            continue
        kernel = {(d.address, d.port): d for d in table[key].destinations}
        was = {(s["address"], s["port"]): s for s in old[key]["real_servers"]}
        now = {(s["address"], s["port"]): s for s in entry["real_servers"]}
        for endpoint in sorted(set(was) | set(now)):
            steps += _ipvs_destination_steps(engines, entry, endpoint, was.get(endpoint), now.get(endpoint), kernel.get(endpoint))
    return steps


def _ipvs_destination_steps(engines: Engines, entry: dict, endpoint: tuple[str, int], was, now, kernel) -> list[Step]:
    service = ipvs_service_args(entry)
    real = ["-r", f"{endpoint[0]}:{endpoint[1]}", FORWARD_FLAGS[entry["lb_kind"]]]
    label = f"IPVS {ipvs_key(entry)} -> {endpoint[0]}:{endpoint[1]}"
    if was and now and kernel and was["weight"] != now["weight"] and kernel.weight == was["weight"]:
        return [
            Step(
                f"{label}: weight {was['weight']} -> {now['weight']} (ipvsadm, no reload)",
                lambda: engines.ipvsadm("-e", *service, *real, "-w", str(now["weight"])),
                lambda: engines.ipvsadm("-e", *service, *real, "-w", str(was["weight"])),
            )
        ]
    if was and not now and kernel:
        return [
            Step(
                f"{label}: remove (ipvsadm, no reload)",
                lambda: engines.ipvsadm("-d", *service, "-r", real[1]),
                lambda: engines.ipvsadm("-a", *service, *real, "-w", str(kernel.weight)),
            )
        ]
    if now and not was and not kernel:
        return [
            Step(
                f"{label}: add with weight {now['weight']} (ipvsadm, no reload)",
                lambda: engines.ipvsadm("-a", *service, *real, "-w", str(now["weight"])),
                lambda: engines.ipvsadm("-d", *service, "-r", real[1]),
            )
        ]
    return []


@dataclass
class RuntimeChange:
    """The part of a change the running engines take at once, as steps that run before the rest.

    haproxy_reload: False when HAProxy already runs the whole change (its servers' states, through the
    runtime API): the hand-over then only records it in haproxy.cfg.
    """

    steps: list[Step] = field(default_factory=list)
    haproxy_reload: bool = True


def _layer7_without_states(config: ApplianceConfig) -> list[VirtualService]:
    return [
        replace(service, real_servers=[replace(server, state="online") for server in service.real_servers])
        for service in config.virtual_services
        if service.layer == 7
    ]


def runtime_change(before: ApplianceConfig, after: ApplianceConfig, engines: Engines) -> RuntimeChange:
    """What the engines can take now: IPVS destinations added, removed or reweighted (ipvsadm), HAProxy
    servers drained, taken offline or brought online (its runtime API).

    Nothing where the engines were not asked (a dry run): the change then only reaches the files.
    """
    try:
        haproxy = _haproxy_steps(before, after, engines)
        states_only = _layer7_without_states(before) == _layer7_without_states(after)
        return RuntimeChange(haproxy + _ipvs_steps(before, after, engines), haproxy_reload=not (states_only and haproxy))
    except NotAsked:
        return RuntimeChange()


def _haproxy_steps(before: ApplianceConfig, after: ApplianceConfig, engines: Engines) -> list[Step]:
    steps: list[Step] = []
    reachable = engines.haproxy_reachable()
    for service in after.virtual_services:
        if service.layer != 7 or not reachable:
            continue
        old = {s.name: s for vs in before.virtual_services if vs.name == service.name for s in vs.real_servers}
        for server in service.real_servers:
            if server.name in old and old[server.name].state != server.state:
                steps.append(_haproxy_step(engines, service, old[server.name], server))
    return steps
