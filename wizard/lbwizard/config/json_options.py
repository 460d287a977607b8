"""lbctl's options given as one JSON object (the HTTPS API's request body), read by the same declarations.

options.py reads what was typed (text, by each setting's grammar); this reads JSON's typed values by each
setting's kind as a JSON document is read (Kind.check: 80 is a port, "80" is not), so the API takes what
its published schema says and nothing else. The object nests as the model does (`persistence: {mode,
timeout}`); null clears a setting declared clearable, and an optional part whole (`persistence: null`).
Problems name the model path (`persistence.timeout`), which is the body's own field.
"""

from __future__ import annotations

from typing import Any

from .declare import specs
from .kinds import KindError, key_text
from .options import Option

Problems = list[tuple[str, str]]


def read(cls: type, table: list[Option], data: object) -> tuple[dict[str, Any], Problems]:
    """The settings of an object of cls (VirtualService, RealServer) given in data, by model path."""
    options: dict[str, Any] = {}
    problems: Problems = []
    if not isinstance(data, dict):
        return options, [("body", f"expected a JSON object of settings, got {_what(data)}")]
    by_path = {option.path: option for option in table}
    _walk(cls, data, "", by_path, options, problems)
    return options, problems


def _walk(cls: type, data: dict, prefix: str, by_path: dict[str, Option], options: dict, problems: Problems) -> None:
    parts = {spec.name: spec for spec in specs(cls) if spec.shape == "one"}
    known = sorted({path.removeprefix(prefix).split(".")[0] for path in by_path if path.startswith(prefix)})
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key in parts and any(p.startswith(f"{path}.") for p in by_path):
            spec = parts[key]
            if value is None and spec.optional:
                options[path] = None  # the part whole (edit.py's _set_options takes it so)
            elif isinstance(value, dict):
                _walk(spec.target, value, f"{path}.", by_path, options, problems)
            else:
                null = " or null" if spec.optional else ""
                problems.append((path, f"expected an object of settings{null}, got {_what(value)}"))
            continue
        option = by_path.get(path)
        if option is None:
            problems.append((f"{prefix}{key_text(key)}", f"not a setting taken here; these are: {', '.join(known)}"))
        elif value is None:
            if option.clear:
                options[path] = None
            else:
                problems.append((path, "cannot be null: it has a value whenever it is set; leave it out to keep it"))
        else:
            try:
                options[path] = option.kind.check(value)
            except KindError as exc:
                problems.append((f"{path}[{exc.index}]" if exc.index is not None else path, str(exc)))


def _what(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)
