"""Both units of a pair in one view (lbctl status, --json, the status screen; diagnose's findings are
manage/pair_findings.py's): for each unit its role, VRRP state, config version, shared version and the
floating addresses it holds; whether the two have the same shared part; and a split brain, when both
hold a floating address.

The peer's half is what the peer itself says (the "state" request over the pair's channel: read only, no
lock). The VRRP state is keepalived's own, as its event reader keeps it (one file per instance, written
at each transition, in keepalived's order): MASTER, BACKUP, FAULT (a tracked interface is down, or no
peer is configured), STOP. Instances in different states show as PARTIAL. Until keepalived has said
anything since it started, it is read from the floating addresses, which keepalived moves as one sync
group: the unit holding them is MASTER, the other BACKUP.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..config import history, model
from ..config.model import ApplianceConfig, ConfigFormatError
from ..config.paths import Paths
from ..render.rolevars import external_address, keepalived_vrrp
from . import channel, shared, sync


def floating_addresses(vrrp: dict | None) -> list[str]:
    """Every address keepalived moves between the units (VIPs, floating gateway, NAT addresses), of
    rolevars.keepalived_vrrp's instances."""
    if not vrrp:
        return []
    return [address.split("/")[0] for instance in vrrp["instances"] for address in instance["addresses"]]


def vrrp_state(held: list[str], floating: list[str]) -> str:
    """The state the floating addresses suggest (a FAULT looks like a BACKUP): the fallback of keepalived_state."""
    if not floating:
        return "unknown"
    if len(held) == len(floating):
        return "MASTER"
    return "PARTIAL" if held else "BACKUP"


def keepalived_state(paths: Paths, vrrp: dict | None) -> str | None:
    """The state keepalived says the VRRP instances (rolevars.keepalived_vrrp's) are in; None when it has
    not said so since it started."""
    if not vrrp:
        return None
    try:
        started = paths.keepalived_pid.stat().st_mtime
    except OSError:
        started = 0.0  # not running as the unit's service (a namespace test runs it by hand)
    states = set()
    for instance in vrrp["instances"]:
        try:
            file = paths.vrrp_state_dir / instance["name"]
            if file.stat().st_mtime < started:
                return None  # from an earlier run of keepalived
            states.add(file.read_text().strip())
        except OSError:
            return None
    return states.pop() if len(states) == 1 else "PARTIAL"


@dataclass
class UnitView:
    hostname: str
    address: str | None
    here: bool
    reachable: bool = True
    role: str = ""  # as configured: master | backup
    vrrp: str = "unknown"  # MASTER | BACKUP | FAULT | STOP | PARTIAL | unknown
    config_version: int | None = None  # the unit's newest history version
    shared_version: int | None = None
    holds: list[str] = field(default_factory=list)
    error: str = ""


def own_state(config: ApplianceConfig, paths: Paths, addresses: set[str] | None) -> dict:
    """What this unit says of itself when its peer asks (and what it shows as its own row)."""
    vrrp = keepalived_vrrp(config)
    floating = floating_addresses(vrrp)
    held = [a for a in floating if addresses is not None and a in addresses]
    return {
        "hostname": config.hostname,
        "role": config.ha.role if config.ha else "single",
        "vrrp": keepalived_state(paths, vrrp) or (vrrp_state(held, floating) if addresses is not None else "unknown"),
        "config_version": history.newest(paths),
        "shared_version": shared.version(config),
        "holds": held,
        "config": model.dumps(config),
    }


def _unit(state: dict, address: str | None, here: bool) -> UnitView:
    return UnitView(
        str(state.get("hostname", "?")),
        address,
        here,
        True,
        str(state.get("role", "")),
        str(state.get("vrrp", "unknown")),
        state.get("config_version"),
        state.get("shared_version"),
        [str(a) for a in state.get("holds", [])],
    )


@dataclass
class PairView:
    units: list[UnitView]
    in_sync: bool | None  # None: the peer could not be asked
    peer_behind: int | None  # versions the peer has not taken, as this unit last heard
    split_brain: list[str]  # floating addresses both units hold

    def as_json(self) -> dict:
        return asdict(self)


def ask_peer(paths: Paths, config: ApplianceConfig, certificates: bool = False) -> tuple[dict | None, str]:
    """The peer's own state, or (None, why not); with certificates, the store's files its config names too."""
    assert config.ha is not None and config.ha.peer
    asked = {"action": "state", **({"certificates": True} if certificates else {})}
    answer = channel.call(paths, config.ha.peer, asked, lambda _line: None, channel.QUESTION_SECONDS)
    if not answer.ok:
        return None, answer.error or "it did not say"
    return answer.data, ""


def config_of(state: dict) -> ApplianceConfig | None:
    """The whole config a peer's state carries, or None when it cannot be read."""
    try:
        return model.loads(str(state.get("config", "")))
    except (ConfigFormatError, ValueError):
        return None


def collect(paths: Paths, config: ApplianceConfig, addresses: set[str] | None, live: bool = True) -> PairView | None:
    """Both units, as each says now; None for a unit that is not paired. A dry run (live False) asks no peer."""
    if not shared.paired(config):
        return None
    assert config.ha is not None
    mine = own_state(config, paths, addresses)
    here = _unit(mine, external_address(config), True)
    state, why = ask_peer(paths, config) if live else (None, "not asked (dry run)")
    behind = sync.peer_behind(config, paths)
    if state is None:
        peer = UnitView("peer", config.ha.peer, False, reachable=False, error=why)
        return PairView([here, peer], None, behind, [])
    peer = _unit(state, config.ha.peer, False)
    peer_config = config_of(state)
    in_sync = peer_config is not None and not shared.differs(config, peer_config)
    if in_sync:
        behind = 0
    elif peer.shared_version is not None:
        behind = max(0, shared.version(config) - peer.shared_version)
    both = [a for a in here.holds if a in peer.holds]
    return PairView([here, peer], in_sync, behind, both)


def as_text(view: PairView | None) -> str:
    """The pair's block at the top of lbctl status; "" for a unit that is not paired."""
    if view is None:
        return ""
    if view.in_sync:
        where = "IN SYNC"
    elif view.in_sync is None:
        where = "peer not reachable" + (f", PEER BEHIND by {view.peer_behind} versions" if view.peer_behind else "")
    elif view.peer_behind:
        where = f"NOT IN SYNC: PEER BEHIND by {view.peer_behind} versions"
    else:
        where = "NOT IN SYNC: the units' shared parts differ (lbctl pair sync on the unit that is right)"
    lines = [f"pair: shared version {view.units[0].shared_version}, {where}"]
    if view.split_brain:
        lines.append(f"  SPLIT BRAIN: both units hold {', '.join(view.split_brain)} (lbctl diagnose)")
    lines.append(f"  {'unit':<18} {'address':<16} {'role':<7} {'VRRP':<8} {'config':>6} {'shared':>6}  holds")
    for unit in view.units:
        name = f"{unit.hostname} (here)" if unit.here else unit.hostname
        if not unit.reachable:
            lines.append(f"  {name:<18} {unit.address or '-':<16} not reachable: {unit.error}")
            continue
        config_version = "-" if unit.config_version is None else f"v{unit.config_version}"
        lines.append(
            f"  {name:<18} {unit.address or '-':<16} {unit.role:<7} {unit.vrrp:<8} {config_version:>6} "
            f"{unit.shared_version if unit.shared_version is not None else '-':>6}  {', '.join(unit.holds) or '-'}"
        )
    return "\n".join(lines) + "\n"
