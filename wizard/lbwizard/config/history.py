"""The config's applied versions (etc/lbwizard/history/NNNN.yaml): listing them and reading one back.

History only grows: a rollback applies an old version as the newest one, so it can be rolled back too.
"""

from __future__ import annotations

import datetime

from . import model
from .model import ApplianceConfig
from .paths import Paths


def versions(paths: Paths) -> list[int]:
    return sorted(int(p.stem) for p in paths.history_dir.glob("[0-9][0-9][0-9][0-9].yaml"))


def newest(paths: Paths) -> int | None:
    numbers = versions(paths)
    return numbers[-1] if numbers else None


def load(paths: Paths, number: int) -> ApplianceConfig:
    return model.loads((paths.history_dir / f"{number:04d}.yaml").read_text())


def rows(paths: Paths) -> list[dict]:
    """Each version: number, when it was saved, its size, and whether it is what runs now (the newest copy)."""
    current = paths.appliance_yaml.read_text() if paths.appliance_yaml.exists() else None
    result = []
    for number in versions(paths):
        path = paths.history_dir / f"{number:04d}.yaml"
        text = path.read_text()
        config = model.loads(text)
        result.append(
            {
                "version": number,
                "saved": datetime.datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M:%S"),
                "services": len(config.virtual_services),
                "real_servers": sum(len(s.real_servers) for s in config.virtual_services),
                "current": text == current,
            }
        )
    for row in [r for r in result if r["current"]][:-1]:  # a rollback saves an old text again
        row["current"] = False
    return result


def row_text(row: dict) -> str:
    return f"{row['version']:04d}  {row['saved']}  {row['services']} service(s), {row['real_servers']} real server(s)" + (
        "  <- current" if row["current"] else ""
    )


def rollback_target(paths: Paths, wanted: int | None) -> tuple[int | None, str | None]:
    """The version a rollback goes to (default: the one before the newest), or why there is none."""
    numbers = versions(paths)
    if wanted is None:
        wanted = numbers[-2] if len(numbers) > 1 else None
    if wanted is None or wanted not in numbers:
        return None, f"{wanted!r} is not a saved version; lbctl history lists them ({numbers})"
    return wanted, None
