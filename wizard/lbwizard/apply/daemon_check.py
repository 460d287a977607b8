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
    if paths.certificate_store.is_dir():  # the store's files, read where they are (no private key copied)
        store = Paths(scratch).certificate_store
        store.parent.mkdir(parents=True, exist_ok=True)
        store.symlink_to(paths.certificate_store.absolute())
    return scratch


def needed(config: ApplianceConfig, previous: ApplianceConfig | None) -> bool:
    """Whether a change gives a daemon something only the daemon can judge: the contents of a file the
    configuration names (a TLS service's certificate), new or changed for its role. Every value in the files
    comes from a setting its declaration and verify() judged, and each template passes it through its
    daemon's quoting rule (the roles' second wall, proven by the daemons themselves in tests/roles), so a
    configuration without such a file needs no daemon's word, and the answers run stays as fast as it was."""
    named = _certificates(config)
    if not named:
        return False
    return previous is None or named != _certificates(previous) or role_vars(config) != role_vars(previous)


def _certificates(config: ApplianceConfig) -> list[str]:
    paths = {s.tls_certificate for s in config.virtual_services if s.tls and s.tls_certificate}
    used = {name for s in config.virtual_services if s.tls for name in s.certificates}
    named = {c.fingerprint for c in config.certificates if c.name in used}
    return sorted(paths | named)


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
