"""Ansible's collection routing tables, parsed once and kept: every hand-over's Ansible reads ansible.builtin's
routing table (config/ansible_builtin_runtime.yml, 370 KB of YAML: which old plugin names moved where)
before its first plugin is found, about 0.08 s on the host and over a second under TCG, for a table that
changes only when Ansible does.

Ansible provides for this: its collection loader calls `_meta_yml_to_dict(data, content_id)`, "may be
monkeypatched to another implementation ... to allow other implementations to cache the output". This one
keeps each table as JSON named by the SHA-256 of the YAML it came from, so another Ansible's table is
another file and a stale one is never read. The cache is the user's own (~/.cache, or XDG_CACHE_HOME):
never a directory other users can write, as what it holds decides which code a plugin name loads.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

Parse = Callable[[Any, Any], dict]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lbwizard" / "ansible-routing"


def cached(parse: Parse, where: Path | None = None) -> Parse:
    """parse (Ansible's own), with its results kept in where (default cache_dir()) by content."""

    def routing(data: bytes | str, content_id: Any) -> dict:
        raw = data.encode() if isinstance(data, str) else bytes(data)
        kept = (where or cache_dir()) / f"{hashlib.sha256(raw).hexdigest()}.json"
        try:
            table = json.loads(kept.read_bytes())
            if isinstance(table, dict):
                return table
        except (OSError, ValueError):
            pass
        table = parse(data, content_id)
        _keep(kept, table)
        return table

    return routing


def _keep(path: Path, table: dict) -> None:
    """Written whole or not at all (a run reading it meanwhile sees the old file or none); a cache that
    cannot be written only costs the next run the parse."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".routing-")
    except OSError:
        return
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(table, out)
        os.replace(temporary, path)
    except (OSError, TypeError, ValueError):
        Path(temporary).unlink(missing_ok=True)


def install() -> None:
    """Ansible's collection loader uses the cached parse from now on (before its first plugin is found)."""
    from ansible.utils.collection_loader import _collection_finder

    original = _collection_finder._meta_yml_to_dict
    if original is not None and not getattr(original, "lbwizard_cached", False):
        routing = cached(original)
        routing.lbwizard_cached = True  # type: ignore[attr-defined]
        _collection_finder._meta_yml_to_dict = routing
