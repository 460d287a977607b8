"""What lbctl diagnose says of the pair (pair/view.py's view of both units): a split brain explained, a
unit keepalived holds in FAULT, a peer that cannot be asked, a pair not in sync."""

from __future__ import annotations

from ..engines.diagnose import Finding
from ..pair.view import PairView


def findings(view: PairView | None) -> list[Finding]:
    """What lbctl diagnose says of the pair: a split brain explained, a peer away or not in sync."""
    if view is None:
        return []
    here, peer = view.units
    result = []
    if view.split_brain:
        both = ", ".join(view.split_brain)
        result.append(
            Finding(
                "problem",
                "pair",
                f"SPLIT BRAIN: {here.hostname} and {peer.hostname} both hold {both}. Each unit stops hearing the "
                "other's VRRP adverts (IP protocol 112, sent unicast between the units' own addresses), so each "
                "believes the other dead and is master; clients and servers reach whichever answered ARP last",
                fix=f"restore the path between {here.address} and {peer.address} (cable, switch, a filter dropping "
                "protocol 112); once the adverts pass again the higher priority unit keeps the addresses, the other "
                "drops them, and the master announces them again (gratuitous ARP) so every ARP cache follows",
                proof=f"ip -4 -br addr (on both units); tcpdump -ni any 'ip proto 112 and host {peer.address}'",
                evidence=f"{here.hostname} holds {', '.join(here.holds)}; {peer.hostname} holds {', '.join(peer.holds)}",
            )
        )
    for unit in (unit for unit in view.units if unit.vrrp == "FAULT"):
        other = peer if unit is here else here
        result.append(
            Finding(
                "problem",
                "pair",
                f"keepalived holds {unit.hostname} in FAULT: an interface it tracks is down, so it neither takes "
                f"nor keeps the floating addresses, and the pair has no unit to fail over to while it lasts "
                f"({other.hostname} is {other.vrrp})",
                fix=f"bring {unit.hostname}'s interfaces back up (cable, switch port, `ip link`); keepalived leaves "
                "FAULT on its own once they are",
                proof=f"ip -br link (on {unit.hostname}); journalctl -u keepalived | grep -i fault",
            )
        )
    if not peer.reachable:
        result.append(
            Finding(
                "problem",
                "pair",
                f"the peer {peer.address} cannot be asked ({peer.error}); changes made here reach it when it is back"
                + (f" (it is behind by {view.peer_behind} versions)" if view.peer_behind else ""),
                fix="check that the peer is up and that this unit reaches its SSH port; then `lbctl pair sync`",
                proof=f"lbctl pair status; ssh -v root@{peer.address}",
            )
        )
    elif not view.in_sync:
        result.append(
            Finding(
                "problem",
                "pair",
                f"the shared configuration differs: {here.hostname} is at shared version {here.shared_version}, "
                f"{peer.hostname} at {peer.shared_version}",
                fix="run `lbctl pair sync` on the unit whose configuration is the one to keep",
                proof="lbctl status (on both units)",
            )
        )
    elif not view.split_brain and "FAULT" not in (here.vrrp, peer.vrrp):
        result.append(Finding("ok", "pair", f"both units have shared version {here.shared_version}; {here.vrrp} here"))
    return result
