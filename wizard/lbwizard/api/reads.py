"""What the API reads, in this process and read-only: the configuration with its version (the ETag), the
history and two versions' difference. Status and diagnose are manage/operations.py's, as lbctl's are."""

from __future__ import annotations

import dataclasses
import difflib
import json
from typing import Any

from ..config import edit, history, model
from ..config.kinds import shown
from ..config.model import ApplianceConfig, ConfigFormatError
from ..config.paths import Paths
from .problems import Problem, not_found


def configuration(paths: Paths) -> tuple[ApplianceConfig, int | None]:
    """The saved configuration and its history version, read together: the version is the one whose text
    is the text read (a change in progress writes its version before it saves the configuration)."""
    try:
        text = paths.appliance_yaml.read_text()
    except FileNotFoundError:
        raise Problem(503, "not-set-up", f"{paths.appliance_yaml} does not exist; run lbwizard first") from None
    try:
        config = model.loads(text)
    except ConfigFormatError as exc:
        raise Problem(500, "config-unreadable", f"the saved configuration does not load: {exc}") from None
    numbers = history.versions(paths)
    for number in reversed(numbers[-5:]):
        try:
            if history.path_of(paths, number).read_text() == text:
                return config, number
        except (OSError, UnicodeDecodeError):
            continue
    return config, numbers[-1] if numbers else None


def service(config: ApplianceConfig, name: str) -> model.VirtualService:
    try:
        return edit.find_service(config, name)
    except edit.EditError as exc:
        raise not_found(exc.field, exc.message) from None


def server(config: ApplianceConfig, vs: str, key: str) -> model.RealServer:
    try:
        return edit.find_server(service(config, vs), key)
    except edit.EditError as exc:
        raise not_found(exc.field, exc.message) from None


def as_json(item: Any) -> Any:
    """A configuration part as lbctl --json prints it (dataclasses.asdict)."""
    return dataclasses.asdict(item)


def version(paths: Paths, number: int) -> dict[str, Any]:
    """One saved version: its configuration and who made it, when and how."""
    config = _load(paths, number)
    try:
        record = json.loads(history.record_of(paths, number).read_text())
    except (OSError, ValueError):
        record = {}
    return {"version": number, "record": record if isinstance(record, dict) else {}, "config": config.to_dict()}


def _load(paths: Paths, number: int) -> ApplianceConfig:
    if number not in history.versions(paths):
        raise not_found("version", f"{number} is not a saved version (GET /api/v1/history lists them)")
    try:
        return history.load(paths, number)
    except ConfigFormatError as exc:
        raise Problem(500, "version-unreadable", str(exc)) from None


def difference(paths: Paths, older: int, newer: int) -> dict[str, Any]:
    """What changed from one version to another: each setting by its path, and the YAML as a unified diff."""
    before, after = _load(paths, older), _load(paths, newer)
    text = difflib.unified_diff(
        model.dumps(before).splitlines(keepends=True),
        model.dumps(after).splitlines(keepends=True),
        fromfile=f"version {older}",
        tofile=f"version {newer}",
    )
    changes = list(_changes(before.to_dict(), after.to_dict(), ""))
    return {"from": older, "to": newer, "changes": changes, "diff": "".join(text)}


def setting_changes(before: dict, after: dict) -> list[dict[str, Any]]:
    """Each setting that differs between two configurations (as dicts), by its path."""
    return list(_changes(before, after, ""))


def _changes(before: Any, after: Any, path: str):
    """(path, from, to) of every setting that differs; list items with names are matched by name."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in [*before, *(k for k in after if k not in before)]:
            yield from _changes(before.get(key), after.get(key), f"{path}.{key}" if path else key)
    elif isinstance(before, list) and isinstance(after, list) and _named(before) and _named(after):
        old = {item["name"]: item for item in before}
        new = {item["name"]: item for item in after}
        for name in [*old, *(n for n in new if n not in old)]:
            yield from _changes(old.get(name), new.get(name), f"{path}[{shown(name)}]")
    elif before != after:
        yield {"path": path, "from": before, "to": after}


def _named(items: list) -> bool:
    names = [item.get("name") for item in items if isinstance(item, dict)]
    return len(names) == len(items) and len(set(names)) == len(names)
