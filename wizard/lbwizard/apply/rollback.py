"""`lbwizard rollback`: put back the state recorded before the last apply, as one more transaction.

The record (rollback.json) holds the live picture and the files' contents taken before that apply
changed anything. Restoring is itself a transaction: if a restore step fails, the steps already done
are undone and the record is kept for another try.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..config.files import atomic_write
from ..config.model import ApplianceConfig
from ..config.paths import Paths
from . import firewall, network, sysctl
from .config_files import file_step
from .state import capture, capture_files, tracked_files
from .step import Step


def record_text(picture: dict, files: dict[str, str | None]) -> str:
    return json.dumps({"version": 1, "picture": picture, "files": files}, indent=1, sort_keys=True) + "\n"


def record_step(config: ApplianceConfig, paths: Paths) -> Step:
    """First step of a live apply: picture the state as it is before any change, for `lbwizard rollback`."""
    inner: dict[str, Step] = {}

    def do() -> None:
        text = record_text(capture(config), capture_files(paths))
        inner["step"] = file_step(paths.rollback_record, text, "record", 0o600)
        inner["step"].do()

    def undo() -> None:
        if "step" in inner:
            inner["step"].undo()

    return Step("record the state before this apply (for lbwizard rollback)", do, undo)


def load(paths: Paths) -> dict | None:
    if not paths.rollback_record.exists():
        return None
    return json.loads(paths.rollback_record.read_text())


def _interface_step(name: str, wanted: dict) -> Step:
    saved: dict = {}

    def do() -> None:
        with network.iproute() as ipr:
            saved["now"] = network.interface_state(ipr, network.link_index(ipr, name))
        network.restore_interface(name, wanted["up"], wanted["addresses"])

    def undo() -> None:
        if "now" in saved:
            network.restore_interface(name, saved["now"]["up"], saved["now"]["addresses"])

    return Step(f"restore {name}: {', '.join(wanted['addresses']) or 'no address'}", do, undo)


def _routes_step(routes: list) -> Step:
    saved: dict = {}

    def do() -> None:
        with network.iproute() as ipr:
            saved["now"] = network.default_routes(ipr)
        network.restore_default_routes(routes)

    def undo() -> None:
        if "now" in saved:
            network.restore_default_routes(saved["now"])

    return Step("restore the default routes", do, undo)


def _chain_step(wanted: dict) -> Step:
    name = wanted["chain"]
    spec = firewall.ChainRules(wanted["table"], name, wanted["parent"], [])
    saved: dict = {}

    def do() -> None:
        saved["now"] = firewall.chain_state(spec.table, name, spec.parent)
        firewall.restore_chain(spec, wanted["rules"], wanted["jumped"])

    def undo() -> None:
        if "now" in saved:
            firewall.restore_chain(spec, *saved["now"])

    return Step(f"restore firewall chain {spec.table} {name}", do, undo)


def _file_restore_step(path: Path, content: str | None) -> Step:
    if content is not None:
        return file_step(path, content, f"restore {path}")
    saved: dict = {}

    def do() -> None:
        if path.exists():
            saved["old"] = (path.read_text(), path.stat().st_mode & 0o7777)
            path.unlink()

    def undo() -> None:
        if "old" in saved:
            atomic_write(path, *saved["old"])

    return Step(f"remove {path}", do, undo)


def plan(record: dict, paths: Paths) -> list[Step]:
    """The steps that put back the recorded state."""
    picture, files = record["picture"], record["files"]
    steps = [_interface_step(name, wanted) for name, wanted in picture["interfaces"].items()]
    steps.append(_routes_step(picture["default_routes"]))
    if "transparency_route" in picture:  # records written before transparency existed have none
        wanted = picture["transparency_route"]
        steps.append(network.transparency_route_step(wanted, "restore the route of transparent HAProxy connections"))
    if picture["sysctls"]:
        steps.append(sysctl.live_step(picture["sysctls"]))
    steps += [_chain_step(wanted) for wanted in picture["chains"].values()]
    recorded = {paths.root / name for name in files}
    for path in tracked_files(paths):  # files the apply created that did not exist before
        if path not in recorded:
            steps.append(_file_restore_step(path, None))
    steps += [_file_restore_step(paths.root / name, content) for name, content in files.items()]
    return steps
