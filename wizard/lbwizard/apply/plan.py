"""The plan: the ordered steps that make a config real, live changes first, then the files that record them.

live=False (a dry run) plans only files under the root; live=True adds the network, kernel and
firewall steps, which act on the network namespace the process runs in.
"""

from __future__ import annotations

from ..config import sshkeys
from ..config.files import atomic_write
from ..config.model import ApplianceConfig
from ..config.paths import Paths
from ..engines.access import Engines, LiveEngines
from ..pair import keys as pair_keys
from ..pair import shared
from ..render import quoting, realserver
from . import certificate_steps, daemon_check, firewall, network, rollback, sysctl
from .config_files import config_steps, file_step, password_step, script_steps
from .handover import handover_step
from .pair_steps import is_pair_change, pair_steps
from .runtime import RuntimeChange
from .step import Step


def system_files(config: ApplianceConfig, paths: Paths) -> list[Step]:
    """Host name, resolver, root's SSH keys, the real servers' scripts, sysctl.d and the rules.v4 record, under
    the root. Every value goes through its file's rule (render/quoting.py); one refused makes the plan the
    refusal alone (refused_plan), so nothing is written."""
    try:
        return _system_files(config, paths)
    except quoting.UnsafeValue as refused:
        return refused_plan(refused)


def _system_files(config: ApplianceConfig, paths: Paths) -> list[Step]:
    hostname = quoting.host_name(config.hostname, "hostname")
    resolv = "# managed by lbwizard; edit appliance.yaml instead\n" + "".join(
        f"nameserver {quoting.resolver_word(server, f'nameservers[{index}]')}\n"
        for index, server in enumerate(config.nameservers)
    )
    keys = [
        quoting.authorized_key(key, f"access.ssh_authorized_keys[{n}]") for n, key in enumerate(config.access.ssh_authorized_keys)
    ]
    return [
        *script_steps(paths.realservers_dir, paths.root, realserver.scripts(config)),
        file_step(
            paths.authorized_keys,
            sshkeys.authorized_keys_text(keys) + pair_keys.authorized_text(config, paths),
            f"write root's SSH keys ({len(keys)})",
            0o600,
        ),
        file_step(paths.root / "etc/hostname", hostname + "\n", f"write the host name {hostname}"),
        file_step(paths.resolv_conf, resolv, f"write the nameservers {', '.join(config.nameservers) or '(none)'}"),
        file_step(
            paths.root / sysctl.SYSCTL_FILE, sysctl.file_text(sysctl.wanted(config)), "write the boot-time kernel settings"
        ),
        *(
            file_step(path, firewall.save_text(firewall.chains(config), ipv6=v6), f"record the firewall rules in {path}")
            for path, v6 in ((paths.rules_v4, False), (paths.rules_v6, True))
        ),
    ]


class Refusal(Step):
    """The one step of a plan refused by the second wall: it changes nothing and fails, saying which value
    its file would have read as more than a value (a value verify() let through)."""


def refused_plan(refused: quoting.UnsafeValue) -> list[Step]:
    def refuse() -> None:
        raise refused

    return [Refusal(f"refuse to write {refused}", refuse, lambda: None)]


def live_steps(config: ApplianceConfig, paths: Paths, previous: ApplianceConfig | None) -> list[Step]:
    """The network (pyroute2), the host name (on the appliance), kernel settings and the firewall."""
    steps = network.plan(config, previous)
    if paths.is_live_root:
        steps.append(network.hostname_step(config.hostname))
    if values := sysctl.wanted(config):
        steps.append(sysctl.live_step(values))
    return steps + firewall.plan(config)


def release_engines_step(paths: Paths) -> Step:
    """A config that applied lets keepalived and HAProxy start again after a boot that held them
    (their units' condition: no run/lbwizard/engines-held); undo holds them again."""
    held = {"was": False}

    def do() -> None:
        held["was"] = paths.engines_held.exists()
        paths.engines_held.unlink(missing_ok=True)

    def undo() -> None:
        if held["was"]:
            atomic_write(paths.engines_held, "held until a configuration applies\n")

    return Step("let keepalived and HAProxy run (no boot problem holds them)", do, undo)


def plan(
    config: ApplianceConfig,
    paths: Paths,
    admin_password_hash: str | None = None,
    *,
    live: bool = False,
    previous: ApplianceConfig | None = None,
    handover: bool = False,
    record: bool = True,
    runtime: RuntimeChange | None = None,
    engines: Engines | None = None,
    pair_identity: str | None = None,
    to_peer: bool = False,
    restored_files: list[Step] | None = None,
    history: list[Step] | None = None,
) -> list[Step]:
    """The ordered changes that make config real: live ones first, then the files that record them.

    handover adds the keepalived/HAProxy step: it renders only (no daemon touched) unless this is a
    live run on the real root; without it, the daemons still check the files of a config to be saved.
    record=False leaves the rollback record of an earlier apply alone.
    runtime: what the running engines take directly (day-2 changes, live runs only); its steps run
    first, so the change takes effect at once, and the hand-over then does not reload HAProxy for what
    it already took. to_peer: the setup wizard run again on a paired unit; a change of the shared part
    is made on the peer first, at the next shared version (apply/pair_steps.py). A restore
    (apply/backup_files.py) brings restored_files, written before the daemons read them, and its own
    history, which replaces numbering the next version.
    """
    steps: list[Step] = []
    peer_steps = None
    if to_peer and live and is_pair_change(previous, config):
        assert previous is not None
        config = shared.stepped(config, shared.version(previous))
        peer_steps = pair_steps(paths, previous, config)
    files = system_files(config, paths)  # before any change: a value its file refuses is the whole plan
    if any(isinstance(step, Refusal) for step in files):
        return files
    if live:
        if record:
            # a live run's engines are the live ones, unless the caller chose them already
            steps.append(rollback.record_step(config, paths, engines or LiveEngines(paths.haproxy_socket)))
        if peer_steps:
            steps.append(peer_steps[0])
        steps += runtime.steps if runtime else []  # first: in effect at once; a later failure still undoes it
        steps += live_steps(config, paths, previous)
    if admin_password_hash:
        steps.append(password_step(admin_password_hash, paths))
    if pair_identity:  # the pair key an answers file's pair_secret made
        steps.append(file_step(paths.pair_identity, pair_identity, "write the pair's SSH identity", 0o600))
    steps += restored_files or []
    steps += certificate_steps.store_steps(config, paths)  # before HAProxy reads them (the hand-over, the check)
    steps += files
    if handover:
        reload_haproxy = runtime.haproxy_reload if runtime else True
        if live and paths.is_live_root:
            steps.append(release_engines_step(paths))
        steps.append(handover_step(config, paths, manage_services=live and paths.is_live_root, reload_haproxy=reload_haproxy))
    elif daemon_check.needed(config, previous):  # nothing saved that the daemons refuse (apply/daemon_check.py)
        steps.append(daemon_check.check_step(config, paths))
    if history is not None:
        steps += history
    elif config != previous:  # re-applying the saved config (at boot) makes no new history version
        steps += config_steps(config, paths)
    if prune := certificate_steps.prune_step(config, paths):  # after the commit point: what no version names
        steps.append(prune)
    if peer_steps:
        steps.append(peer_steps[1])
    return steps
