"""`lbwizard rollback`: put back the state recorded before the last apply, as one more transaction.

The record (rollback.json) holds the picture taken before that apply changed anything: the live
network state, every file it could write (text and mode: the real-server scripts keep their execute
bit; the daemons' files are among them) and what the engines held. Restoring is itself a
transaction: the network, the firewall, the files; then the engines are brought back to the files,
through their runtime (ipvsadm, HAProxy's API) for what those take and, on the appliance, a reload of
each daemon whose file changed. If a restore step fails, the steps already done are undone (the
engines reloaded on the files put back) and the record is kept for another try.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..config import model
from ..config.files import atomic_write
from ..config.model import ApplianceConfig, ConfigFormatError
from ..config.paths import Paths
from ..engines.access import Engines
from . import firewall, network, restore_journal, sysctl
from .config_files import file_step, version_steps
from .handover import ROLES, reload_daemons
from .runtime import runtime_change
from .state import capture, tracked_files
from .step import Step

RECORD_VERSION = 2


def record_text(picture: dict) -> str:
    return json.dumps({"version": RECORD_VERSION, "picture": picture}, indent=1, sort_keys=True) + "\n"


def record_step(config: ApplianceConfig, paths: Paths, engines: Engines) -> Step:
    """First step of a live apply: picture the state as it is before any change, for `lbwizard rollback`."""
    inner: dict[str, Step] = {}

    def do() -> None:
        text = record_text(capture(config, paths, engines))
        inner["step"] = file_step(paths.rollback_record, text, "record", 0o600)
        inner["step"].do()

    def undo() -> None:
        if "step" in inner:
            inner["step"].undo()

    return Step("record the state before this apply (for lbwizard rollback)", do, undo)


def load(paths: Paths) -> dict | None:
    """The record, its files in this version's shape (a first-version record kept text only)."""
    if not paths.rollback_record.exists():
        return None
    record = json.loads(paths.rollback_record.read_text())
    if record.get("version", 1) == 1:
        record["picture"]["files"] = {
            name: None if text is None else {"text": text, "mode": 0o755 if name.endswith(".sh") else 0o644}
            for name, text in record.pop("files").items()
        }
    return record


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
    spec = firewall.ChainRules(wanted["table"], name, wanted["parent"], [], wanted.get("ipv6", False))
    saved: dict = {}

    def do() -> None:
        saved["now"] = firewall.chain_state(spec.table, name, spec.parent, spec.ipv6)
        firewall.restore_chain(spec, wanted["rules"], wanted["jumped"])

    def undo() -> None:
        if "now" in saved:
            firewall.restore_chain(spec, *saved["now"])

    return Step(f"restore firewall chain {spec.key}", do, undo)


def _file_restore_step(path: Path, wanted: dict | None) -> Step:
    if wanted is not None:
        return file_step(path, wanted["text"], f"restore {path}", wanted["mode"])
    saved: dict = {}

    def do() -> None:
        if path.exists():
            saved["old"] = (path.read_text(), path.stat().st_mode & 0o7777)
            path.unlink()

    def undo() -> None:
        if "old" in saved:
            atomic_write(path, *saved["old"])

    return Step(f"remove {path}", do, undo)


def _config(text: str | None) -> ApplianceConfig | None:
    try:
        return model.loads(text) if text else None
    except ConfigFormatError:
        return None


def _engine_steps(files: dict, paths: Paths, engines: Engines) -> tuple[list[Step], list[Step]]:
    """What brings the running engines back with their files: (steps before the files are restored,
    steps after). Runtime changes (ipvsadm, HAProxy's API) for what the engines take at once; on the
    appliance, a reload of each daemon whose file changes, forward after the files and, should a later
    step fail, backward once the files are put back again."""
    saved_yaml = paths.appliance_yaml.relative_to(paths.root)
    current, recorded = _config(_text(paths.appliance_yaml)), _config((files.get(str(saved_yaml)) or {}).get("text"))
    before: list[Step] = []
    after: list[Step] = []
    if current and recorded:
        after += runtime_change(current, recorded, engines).steps
    if paths.is_live_root:
        recorded_text = lambda name: (files.get(name) or {}).get("text")
        changing = [role for role, output in ROLES.items() if recorded_text(output.file) != _text(paths.root / output.file)]
        if changing:
            names = " and ".join(changing)
            before.append(Step(f"(on the way back: reload {names})", lambda: None, lambda: reload_daemons(changing)))
            after.append(Step(f"reload {names} with the files put back", lambda: reload_daemons(changing), lambda: None))
    return before, after


def _text(path: Path) -> str | None:
    return path.read_text() if path.is_file() else None


def _history_steps(files: dict, paths: Paths) -> list[Step]:
    """The configuration put back, kept as the newest history version with who put it back, before
    appliance.yaml is restored (as a change keeps its own). Without it the version of the change rolled back
    stayed newest, unlike the saved config, and the next boot removed it as one a power cut had stopped."""
    wanted = (files.get(str(paths.appliance_yaml.relative_to(paths.root))) or {}).get("text")
    if wanted is None or wanted == _text(paths.appliance_yaml):
        return []
    return version_steps(paths, wanted, "the configuration put back")


def plan(record: dict, paths: Paths, engines: Engines) -> list[Step]:
    """The steps that put back the recorded state: the network, the firewall, the files, the engines."""
    picture = record["picture"]
    files = picture["files"]
    steps = [_interface_step(name, wanted) for name, wanted in picture["interfaces"].items()]
    steps.append(_routes_step(picture["default_routes"]))
    if "transparency_route" in picture:  # records written before transparency existed have none
        wanted = picture["transparency_route"]
        steps.append(network.transparency_route_step(wanted, "restore the route of transparent HAProxy connections"))
    if picture["sysctls"]:
        steps.append(sysctl.live_step(picture["sysctls"]))
    steps += [_chain_step(wanted) for wanted in picture["chains"].values()]
    engines_before, engines_after = _engine_steps(files, paths, engines)
    steps += engines_before
    steps += _history_steps(files, paths)
    recorded = {paths.root / name for name in files}
    for path in tracked_files(paths):  # files the apply created that did not exist before
        if path not in recorded:
            steps.append(_file_restore_step(path, None))
    steps += [_file_restore_step(paths.root / name, wanted) for name, wanted in files.items()]
    steps += restore_journal.rollback_steps(record, paths)  # a restore's certificates, host keys, password
    return steps + engines_after
