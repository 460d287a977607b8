"""What a change without the hand-over (--no-handover) still does: the daemons' files rendered and checked.

A configuration is saved only if its daemons take it: the roles render keepalived.conf, haproxy.cfg and
the unit's services' files into a scratch root, each checked by its daemon (keepalived -t, haproxy -c,
chronyd -p, rsyslogd -N1) as the hand-over does, and none is installed or reloaded. Without this check a
configuration HAProxy refuses could be saved, and every later change's hand-over, which renders the whole
saved configuration, would then fail on it.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ..config.model import APPLIANCE_CERTIFICATE, ApplianceConfig
from ..config.paths import Paths
from ..render.rolevars import role_vars
from .handover import HandoverError, handover_step
from .step import Step


def _scratch(paths: Paths) -> Path:
    """A root to render into, holding the unit's own certificate (so the check makes none of its own)."""
    scratch = Path(tempfile.mkdtemp(prefix="lbwizard-check-"))
    certificate = paths.root / APPLIANCE_CERTIFICATE
    if certificate.is_file():
        (scratch / APPLIANCE_CERTIFICATE).parent.mkdir(parents=True)
        shutil.copy(certificate, scratch / APPLIANCE_CERTIFICATE)
    return scratch


def needed(config: ApplianceConfig, previous: ApplianceConfig | None) -> bool:
    """Whether a change from previous to config gives a daemon anything new to read (its role's variables);
    when nothing changed for any of them, the daemons' verdict on the saved configuration stands."""
    return previous is None or role_vars(config) != role_vars(previous)


def check_step(config: ApplianceConfig, paths: Paths) -> Step:
    """Render the daemons' files for config into a scratch root and have each daemon check its own; the
    step fails, naming what a daemon refused, when one does. Nothing under paths is written."""
    state: dict = {}

    def start() -> None:  # when the transaction starts: Ansible loads while the earlier steps run
        state["scratch"] = _scratch(paths)
        state["render"] = handover_step(config, Paths(state["scratch"]), manage_services=False)
        state["render"].start()

    def release() -> None:
        if render := state.pop("render", None):
            render.release()
        if scratch := state.pop("scratch", None):
            shutil.rmtree(scratch, ignore_errors=True)

    def do() -> None:
        if "render" not in state:  # run outside a transaction
            start()
        try:
            state["render"].do()
        except HandoverError as exc:
            raise HandoverError(f"the daemons refuse this configuration (checked without the hand-over): {exc}") from None

    description = "check the daemons' files with their daemons (keepalived -t, haproxy -c, ...; no hand-over: none installed)"
    return Step(description, do, lambda: None, start, release)
