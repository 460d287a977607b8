"""What the last ACME orders said: a failed order kept by certificate name (when, for which names, why) until
one succeeds, for lbctl diagnose and the motd. /etc/lbwizard/acme/orders.json, 0600; not configuration, so
neither history nor a rollback nor the pair has it: each unit says what its own orders met."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ..config.files import atomic_write
from ..config.paths import Paths


def _path(paths: Paths):
    return paths.acme_dir / "orders.json"


def failures(paths: Paths) -> dict[str, dict]:
    try:
        data = json.loads(_path(paths).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def record_failure(paths: Paths, name: str, domains: list[str], error: str, new: bool) -> None:
    """new: the certificate is not in the store yet (its first order)."""
    data = failures(paths)
    at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    data[name] = {"at": at, "domains": list(domains), "error": error[:500], "new": new}
    atomic_write(_path(paths), json.dumps(data, indent=1) + "\n", 0o600)


def record_success(paths: Paths, name: str) -> None:
    data = failures(paths)
    if data.pop(name, None) is not None:
        atomic_write(_path(paths), json.dumps(data, indent=1) + "\n", 0o600)
