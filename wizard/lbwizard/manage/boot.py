"""The boot apply (lbwizard-apply.service, ordered before keepalived and HAProxy): the saved config made
live again, converging on whatever the machine came up with rather than giving up on it.

- A valid config on the NICs it names: network, kernel settings and firewall as at any change (no new
  version; the last change's rollback record is kept), and the daemons' files rendered again where a
  power cut left them apart from the config (handover.json tells; rendering only, since the daemons
  start after this, with those files). A power cut at any instant of a change thus boots into exactly
  the old configuration (appliance.yaml was not saved yet) or the new one (it was).
- Anything less is a degraded boot: what can be applied is (the NICs that exist; the newest history
  version that verifies when the saved one does not), forwarding is turned off, keepalived and HAProxy
  are held (run/lbwizard/engines-held is a condition of their units, so no engine starts on a config
  that failed), and what is wrong goes to both consoles and to `lbctl status` and `diagnose`
  (run/lbwizard/boot.json). The next change that applies lets the engines go.
- When even that fails, the external interface and the firewall alone are tried, so the unit keeps
  its management address and its input filter.
"""

from __future__ import annotations

import copy
import json
import re
import socket
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

from ..apply import certificate_steps, restore_journal, sysctl
from ..apply.config_files import config_steps
from ..apply.handover import ROLES, handover_step
from ..apply.plan import live_steps, system_files
from ..apply.state import SYSTEM_FILES
from ..config import files, history
from ..config.files import atomic_write
from ..config.model import ApplianceConfig, ConfigFormatError, own_interfaces
from ..config.paths import Paths
from ..config.verify import verify
from ..engines.diagnose import Finding
from ..pair import catch_up as pair_catch_up
from ..pair import shared
from ..pair.sync import record_acknowledged
from .changes import EXIT_OK, print_failure, print_step, run_steps

EXIT_DEGRADED = 3  # some of the config could not be applied; the engines are held
CONSOLES = (Path("/dev/tty1"), Path("/dev/ttyS0"))


def existing_interfaces() -> set[str]:
    return {name for _index, name in socket.if_nameindex()}


def _config_to_boot(paths: Paths, problems: list[str]) -> ApplianceConfig | None:
    """The saved config when it loads and verifies; else the newest history version that does."""
    try:
        saved = files.load_config(paths)
        found = verify(saved) if saved is not None else []
    except ConfigFormatError as exc:
        saved, found = None, [f"{field}: {message}" for field, message in exc.problems]
    if saved is not None and not found:
        return saved
    why = "; ".join(map(str, found[:3])) or "it is missing"
    problems.append(f"the saved configuration {paths.appliance_yaml} cannot be applied ({why})")
    for number in reversed(history.versions(paths)):
        try:
            older = history.load(paths, number)
        except ConfigFormatError:
            continue
        if not verify(older):
            problems.append(f"booted version {number} of the history instead, the newest that verifies")
            return older
    return None


def on_these_nics(config: ApplianceConfig, present: set[str]) -> ApplianceConfig:
    """The config with only the interfaces this machine has (and the gateway only if one reaches it)."""
    reduced = copy.deepcopy(config)
    reduced.interfaces = {name: iface for name, iface in config.interfaces.items() if name in present}
    subnets = [own.network for iface in reduced.interfaces.values() for own in own_interfaces(iface)]
    if config.gateway and not any(IPv4Address(config.gateway) in subnet for subnet in subnets):
        reduced.gateway = None
    if config.gateway6 and not _gateway6_reached(reduced, IPv6Address(config.gateway6), subnets):
        reduced.gateway6 = None
    return reduced


def _gateway6_reached(config: ApplianceConfig, gateway: IPv6Address, subnets: list) -> bool:
    """An IPv6 gateway on a subnet the unit still has, or link-local on an external interface with IPv6."""
    external = config.external_interface()
    if gateway.is_link_local:
        return external is not None and external[1].address6 is not None
    return any(gateway in subnet for subnet in subnets)


def management_only(config: ApplianceConfig) -> ApplianceConfig:
    """The external interface, its gateway and the firewall with no service: what keeps the unit reachable."""
    external = config.external_interface()
    interfaces = {external[0]: copy.deepcopy(external[1])} if external else {}
    return on_these_nics(
        ApplianceConfig(
            hostname=config.hostname,
            topology="one-arm",
            interfaces=interfaces,
            gateway=config.gateway,
            gateway6=config.gateway6,
            nameservers=list(config.nameservers),
        ),
        set(interfaces),
    )


def _hold(paths: Paths, problems: list[str]) -> None:
    atomic_write(paths.engines_held, "held until a configuration applies\n")
    atomic_write(paths.boot_report, json.dumps({"problems": problems}, indent=1) + "\n", 0o644)
    try:
        sysctl.live_step({"net.ipv4.ip_forward": "0"}).do()  # sysctl.d turned it on; nothing is served to forward
    except OSError as exc:
        problems.append(f"forwarding could not be turned off: {exc}")
    lines = ["", "lbwizard: THIS UNIT BOOTED DEGRADED; keepalived and HAProxy are held:"]
    lines += [f"  - {problem}" for problem in problems]
    lines += ["  Fix it, then `lbwizard apply` (or any lbctl change) lets them run. `lbctl diagnose` repeats this.", ""]
    print("\n".join(lines), flush=True)
    if paths.is_live_root:
        for console in CONSOLES:
            try:
                with open(console, "w") as tty:
                    tty.write("\r\n".join(lines) + "\r\n")
            except OSError:
                continue


def _release(paths: Paths) -> None:
    paths.engines_held.unlink(missing_ok=True)
    paths.boot_report.unlink(missing_ok=True)


TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}$")  # what atomic writes (ours and lb_template's) write first


def leftovers(paths: Paths) -> list[Path]:
    """Temporary files of writes a power cut stopped before their rename: never anyone's content."""
    found: list[Path] = []
    for name in (*SYSTEM_FILES, "etc/lbwizard/appliance.yaml"):  # beside files of other owners: ours by name
        target = paths.root / name
        found += [p for p in target.parent.glob(f".{target.name}.*") if TEMPORARY.match(p.name)]
    own = [paths.root / Path(output.file).parent for output in ROLES.values() if output.own_directory]
    for directory in (paths.config_dir, *own):
        if directory.is_dir():  # directories of ours alone: any temporary file
            found += [p for p in directory.rglob(".*") if p.is_file() and TEMPORARY.match(p.name)]
    return sorted(set(found))


def boot(paths: Paths) -> int:
    """Apply the saved config at boot, as much of it as this machine allows; EXIT_DEGRADED when not all."""
    problems: list[str] = []
    for temporary in leftovers(paths):
        print(f"- remove {temporary}: a write the power cut stopped", flush=True)
        temporary.unlink()
    restore_journal.recover(paths, print_step)  # a restore cut off before it was whole: taken back whole
    for number in history.unfinished(paths):  # a change cut off before its commit point: it never happened
        print(f"- remove history version {number}: its change was cut off before it was saved", flush=True)
        history.path_of(paths, number).unlink()
        history.record_of(paths, number).unlink(missing_ok=True)
    config = _config_to_boot(paths, problems)
    if config is None:
        problems.append("no configuration that verifies was found: nothing applied but what the image holds")
        _hold(paths, problems)
        return EXIT_DEGRADED
    present = existing_interfaces()
    if missing := [name for name in config.interfaces if name not in present]:
        problems.append(f"{', '.join(missing)} named by the configuration not found on this machine (a NIC gone?)")
    booted = on_these_nics(config, present)
    steps = live_steps(booted, paths, booted)
    if not problems:  # whole: its files are what it makes; render the daemons' again if they drifted
        steps += [*system_files(config, paths), handover_step(config, paths, manage_services=False)]
    failures: list[str] = []
    result = run_steps(steps, echo=print_step, failure=lambda line: (failures.append(line), print_failure(line)))
    if result != EXIT_OK:
        problems.append(f"the boot apply failed: {' '.join(failures)}")
        run_steps(live_steps(management_only(config), paths, None), echo=print_step, failure=print_failure)
    if problems:
        _hold(paths, problems)
        return EXIT_DEGRADED
    catch_up(paths, booted)
    _release(paths)
    return EXIT_OK


def catch_up(paths: Paths, booted: ApplianceConfig) -> None:
    """A paired unit takes the peer's newer shared part before its engines start (pair/catch_up.py): the
    change as a transaction of its own, so a failure leaves the boot's config applied, and says so."""
    pulled, said = pair_catch_up.from_peer(paths, booted, print_step)
    if said:
        print_step(said)
    if pulled is None:
        return
    steps = [
        *live_steps(pulled, paths, booted),
        *system_files(pulled, paths),
        *certificate_steps.store_steps(pulled, paths),  # the peer's files are in the store by now (pair/catch_up.py)
        handover_step(pulled, paths, manage_services=False),
        *config_steps(pulled, paths),
    ]
    if run_steps(steps, echo=print_step, failure=print_failure) == EXIT_OK:
        record_acknowledged(paths, shared.version(pulled))
    else:
        print_failure("the peer's shared part could not be applied here; this unit boots what it had saved")


def report(paths: Paths) -> list[str]:
    """What the boot apply found wrong on this boot, for lbctl status and diagnose; [] when all applied."""
    try:
        return json.loads(paths.boot_report.read_text()).get("problems", [])
    except (OSError, ValueError):
        return []


def banner(paths: Paths) -> str:
    """The first lines of `lbctl status` after a degraded boot; "" after a whole one."""
    problems = report(paths)
    if not problems:
        return ""
    lines = ["THIS UNIT BOOTED DEGRADED: keepalived and HAProxy are held until a configuration applies"]
    return "\n".join([*lines, *(f"  - {problem}" for problem in problems)]) + "\n"


def findings(paths: Paths) -> list[Finding]:
    """The boot's problems as diagnose findings, each with its fix."""
    return [
        Finding(
            "problem",
            "boot",
            f"the boot apply could not apply everything, so keepalived and HAProxy are held: {problem}",
            fix="fix it (a NIC, the configuration), then `lbwizard apply`, or any lbctl change that applies",
            proof="systemctl status lbwizard-apply; journalctl -b -u lbwizard-apply",
        )
        for problem in report(paths)
    ]
