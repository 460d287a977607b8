"""A change in the running engines first, as transaction steps: it takes effect at once, then the
hand-over makes it durable.

IPVS takes a destination added, removed or reweighted (a drain is weight 0) through ipvsadm; HAProxy
takes a server's state and weight through its runtime API. The hand-over that follows writes the same
change into the daemons' files (so a restart keeps it): keepalived is then reloaded, which keeps IPVS
connections and makes its own idea of the destinations agree with the kernel's (one it finds already
there it logs as existing and checks as its own); HAProxy is not reloaded when only its servers'
states changed.

Every step makes a state, not a move: it looks at the engine before it acts, and acts only on what
differs. An undo runs after the hand-over's undo, whose reload may already have put the engine back
(keepalived adds the destination an `ipvsadm -d` removed, in its own time: an `ipvsadm -a` then fails
with "Destination already exists"), so an undo that finds the state it asks for has nothing to do, and
one whose command fails because the engine moved meanwhile looks again before it gives up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from ..config.addressing import endpoint_text
from ..config.model import ApplianceConfig, RealServer, VirtualService
from ..config.paths import Paths
from ..engines.access import Engines
from ..engines.errors import EngineError, NotAsked
from ..engines.haproxy import backend_name
from ..engines.ipvs import FORWARD_FLAGS, ipvs_key, ipvs_service_args
from ..render.rolevars import keepalived_virtual_servers
from . import certificate_runtime
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


# srv_admin_state bits of `show servers state` (HAProxy's enum srv_admin): its SRV_ADMF_MAINT mask (forced,
# inherited and resolution maintenance) and its drain mask. Not 0x04, "disabled" in the file: a server started
# disabled is 5, and `set server ... state ready` leaves 4, which serves.
HAPROXY_MAINT, HAPROXY_DRAIN = 0x01 | 0x02 | 0x20, 0x08 | 0x10


def _haproxy_state(settings: dict[str, str]) -> str:
    """A server's admin state from `show servers state` in the config's words: offline, drain or online."""
    admin = int(settings.get("admin_state") or 0)
    return "offline" if admin & HAPROXY_MAINT else "drain" if admin & HAPROXY_DRAIN else "online"


def _haproxy_has(engines: Engines, where: str, server: RealServer) -> bool:
    """Whether HAProxy runs server `where` in the state (and, online, the weight) server asks for.

    EngineError when the running HAProxy has no such server: there is nothing to put in a state.
    """
    found = engines.haproxy_server_settings().get(where)
    if found is None:
        raise EngineError(f"HAProxy runs no server {where}: it cannot be put back to {server.state}")
    if _haproxy_state(found) != server.state:
        return False
    return server.state != "online" or found.get("weight") == str(server.weight)


def _haproxy_step(engines: Engines, service: VirtualService, before: RealServer, after: RealServer) -> Step:
    where = f"{backend_name(service.name)}/{after.name}"

    def do() -> None:
        for command in _haproxy_commands(service.name, after):
            engines.haproxy_set(command)

    def undo() -> None:
        """Back to before's state, unless HAProxy already runs it (a reload of the file put back has), or
        runs none at all (it starts from that file)."""
        if not engines.haproxy_reachable() or _haproxy_has(engines, where, before):
            return
        for command in _haproxy_commands(service.name, before):
            if not command.startswith("shutdown"):
                engines.haproxy_set(command)

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


IPVS_ATTEMPTS = 3  # ipvsadm commands refused because the table moved meanwhile, before one counts
IPVS_SERVICE_WAIT = 15.0  # seconds for keepalived to load a service again after its reload (it is async)


def _ipvs_set(engines: Engines, entry: dict, endpoint: tuple[str, int], weight: int | None) -> None:
    """Make destination endpoint of entry's IPVS service be there with weight (None: not be there).

    Looks first and acts only on what differs; when ipvsadm refuses because the table moved meanwhile
    (keepalived put the destination back, or took it away), looks again. A service that is not in the
    table is keepalived's to load (a reload it was just sent loads it in its own time): waited for, up to
    IPVS_SERVICE_WAIT, then an EngineError says the destination could not be put back.
    """
    key, service = ipvs_key(entry), ipvs_service_args(entry)
    real, flag = endpoint_text(*endpoint), FORWARD_FLAGS[entry["lb_kind"]]
    deadline, refused = time.monotonic() + IPVS_SERVICE_WAIT, 0
    while True:
        table = engines.ipvs_services() or {}
        if key not in table:
            if weight is None:
                return
            if time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            raise EngineError(f"IPVS has no service {key}, so {real} cannot be put back into it (keepalived loads it)")
        found = next((d for d in table[key].destinations if (d.address, d.port) == endpoint), None)
        if weight is None:
            command = ["-d", *service, "-r", real] if found else None
        elif found is None:
            command = ["-a", *service, "-r", real, flag, "-w", str(weight)]
        else:
            command = ["-e", *service, "-r", real, flag, "-w", str(weight)] if found.weight != weight else None
        if command is None:
            return
        try:
            engines.ipvsadm(*command)
            return
        except EngineError:
            refused += 1
            if refused >= IPVS_ATTEMPTS:
                raise


def _ipvs_destination_steps(engines: Engines, entry: dict, endpoint: tuple[str, int], was, now, kernel) -> list[Step]:
    label = f"IPVS {ipvs_key(entry)} -> {endpoint_text(*endpoint)}"

    def step(what: str, done: int | None, undone: int | None) -> list[Step]:
        """Destination endpoint at weight done (None: removed); its undo, at weight undone (None: removed)."""
        return [
            Step(
                f"{label}: {what} (ipvsadm, no reload)",
                lambda: _ipvs_set(engines, entry, endpoint, done),
                lambda: _ipvs_set(engines, entry, endpoint, undone),
            )
        ]

    if was and now and kernel and was["weight"] != now["weight"] and kernel.weight == was["weight"]:
        return step(f"weight {was['weight']} -> {now['weight']}", now["weight"], was["weight"])
    if was and not now and kernel:
        return step("remove", None, kernel.weight)
    if now and not was and not kernel:
        return step(f"add with weight {now['weight']}", now["weight"], None)
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


def runtime_change(
    before: ApplianceConfig, after: ApplianceConfig, engines: Engines, paths: Paths | None = None
) -> RuntimeChange:
    """What the engines can take now: IPVS destinations added, removed or reweighted (ipvsadm), HAProxy
    servers drained, taken offline or brought online, and a certificate's new content (its runtime API;
    paths: where the store is, for the content a swap's undo puts back).

    Nothing where the engines were not asked (a dry run): the change then only reaches the files.
    """
    try:
        haproxy = _haproxy_steps(before, after, engines)
        swaps, swapped = certificate_runtime.swaps(before, after, engines, paths)
        states_only = _layer7_without_states(before) == _layer7_without_states(after)
        contents_taken = certificate_runtime.used_contents(before) == certificate_runtime.reverted(after, before, swapped)
        taken = states_only and contents_taken and bool(haproxy or swaps)
        return RuntimeChange(swaps + haproxy + _ipvs_steps(before, after, engines), haproxy_reload=not taken)
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
