"""What the console says at login: the unit's version, its addresses, its clock, each service's state in
a line, and the problems `lbctl diagnose` finds (issue 18.6). Written by a timer to /run/lbwizard/motd and
shown by pam_motd, so a login never waits for diagnose's probes; `lbctl motd` prints it fresh.

No line holds "# " or "$ ": a script that logs in waits for the shell's prompt, and a banner must not
look like one; no line holds a control character (a name's escape sequence is shown, not sent).
"""

from __future__ import annotations

from ..config.model import ApplianceConfig
from ..config.paths import Paths
from ..engines import clock, diagnose
from ..engines.status import ServiceStatus
from ..render.quoting import display
from . import certificate_findings

VERSION_FILE = "etc/lb-appliance-version"


def version(paths: Paths) -> str:
    """The image's version and commit (/etc/lb-appliance-version), or "unknown version" off the appliance."""
    try:
        fields = dict(line.split("=", 1) for line in (paths.root / VERSION_FILE).read_text().splitlines() if "=" in line)
    except OSError:
        return "unknown version"
    return f"{fields.get('LB_APPLIANCE_VERSION', '?')} ({fields.get('LB_APPLIANCE_COMMIT', '?')})"


def service_line(status: ServiceStatus) -> str:
    """One service: where, how, and how many of its servers serve."""
    up = [s for s in status.servers if s.actual == "up"]
    others = [f"{s.name} {s.actual}" for s in status.servers if s.actual != "up"]
    here = {True: "", False: ", VIP on the peer", None: ""}[status.vip_here]
    state = f"{len(up)} of {len(status.servers)} real servers up" + (f" ({', '.join(others)})" if others else "")
    return f"  {status.name:<12} {status.endpoint:<21} layer {status.layer} {status.forwarding.upper():<4} {state}{here}"


def text(
    paths: Paths,
    config: ApplianceConfig,
    statuses: list[ServiceStatus],
    clock_now: clock.ClockState | str,
    findings: list[diagnose.Finding],
) -> str:
    addresses = ", ".join(f"{name} {iface.address} ({iface.role})" for name, iface in config.interfaces.items())
    lines = [f"Load balancer appliance {version(paths)}: {config.hostname}", f"  addresses: {addresses or 'none'}"]
    if config.ha is not None and statuses:
        lines.append(f"  HA pair: this unit is {statuses[0].unit.upper()}, peer {config.ha.peer}")
    lines.append("  " + (clock_now if isinstance(clock_now, str) else clock.as_text(clock_now, config.time.ntp_servers)))
    lines.append(f"Virtual services ({len(statuses)}):" if statuses else "No virtual service yet (lbctl vs add).")
    lines += [service_line(status) for status in statuses]
    lines += certificate_findings.status_lines(config, paths)
    problems = [f for f in findings if f.severity == "problem"]
    if problems:
        lines.append(f"PROBLEMS found by lbctl diagnose ({len(problems)}):")
        lines += [f"  {finding.subject}: {finding.what}" for finding in problems]
    else:
        lines.append("lbctl diagnose finds no problem.")
    # display(): a name's control characters shown as escapes, so none moves the cursor or makes a line of its own
    return "\n".join(display(line).replace("# ", "#\u00a0").replace("$ ", "$\u00a0") for line in lines) + "\n"
