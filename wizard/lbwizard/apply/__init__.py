"""Making a config real: plan() lists the steps, run() applies them as one transaction.

Today the plan holds lbwizard's own files and the admin password; the network, sysctl, firewall and
hand-over steps join the same list (and so the same rollback) as they are built.
"""

from __future__ import annotations

from ..model import ApplianceConfig
from ..paths import Paths
from .config_files import config_steps, password_step
from .transaction import Step


def plan(config: ApplianceConfig, paths: Paths, admin_password_hash: str | None = None) -> list[Step]:
    """The ordered changes that make config live under paths.root."""
    steps = []
    if admin_password_hash:
        steps.append(password_step(admin_password_hash, paths))
    steps.extend(config_steps(config, paths))
    return steps
