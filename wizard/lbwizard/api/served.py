"""What one server serves: the root it works on, live or dry run, how to run lbctl, and its reads' door."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..config.paths import Paths
from ..manage.operations import Operations
from .sampler import Sampler
from .sessions import Sessions

CHANGES_AT_ONCE = 8  # lbctl processes started at once; the change lock lets one of them work at a time


def lbctl_command() -> list[str]:
    """The installed lbctl beside this interpreter (the console script: launch.py starts Ansible early),
    else the module itself."""
    script = Path(sys.executable).parent / "lbctl"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "lbwizard.manage.lbctl"]


@dataclass
class Served:
    paths: Paths
    dry_run: bool
    operations: Operations  # reads only: status, diagnose; no change is made in this process
    sessions: Sessions
    lbctl: list[str] = field(default_factory=lbctl_command)
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(CHANGES_AT_ONCE))
    sampler: Sampler | None = None  # the charts' (a dry run has none: it asks no engine)

    @classmethod
    def start(cls, paths: Paths, dry_run: bool) -> Served:
        return cls(paths, dry_run, Operations.start(paths, live=not dry_run), Sessions(paths))

    def target(self) -> list[str]:
        """lbctl's options for the same root and mode as this server."""
        options = ["--dry-run"] if self.dry_run else []
        return [*options, "--root", str(self.paths.root)] if not self.paths.is_live_root else options
