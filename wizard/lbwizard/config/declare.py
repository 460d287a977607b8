"""One declaration per option: a dataclass field that carries its kind, default, help and lbctl flag.

From these declarations come the strict loading of appliance.yaml (every problem at once, by field), the
check of a config built in code, the JSON Schema `lbwizard schema` prints, lbctl's options and the
management forms' fields (config/options.py). verify() keeps only the rules between several settings.

    port: int = setting(kind=PORT, help="the port clients connect to", flag="--port")

A field's shape comes from its annotation: a nested dataclass (optional or not), a list of them, a
mapping of names to them (interfaces), or a scalar whose kind parses it.
"""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any

from .kinds import Kind, KindError, Listed, key_text


def setting(
    default: Any = MISSING,
    *,
    kind: Kind | None = None,
    help: str = "",
    flag: str | None = None,
    factory: Any = MISSING,
    key_kind: Kind | None = None,
    clear: bool = False,
) -> Any:
    """A declared field. kind: how a scalar is parsed (None for a nested dataclass); flag: its lbctl option;
    key_kind: how a mapping's keys are judged; clear: "none" clears it (an optional part, a sorry server)."""
    metadata = {"kind": kind, "help": help, "flag": flag, "key_kind": key_kind, "clear": clear}
    if factory is not MISSING:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Spec:
    """A field as the walkers see it: its shape (one, list, map, scalar), whether None is allowed, and its
    target class (for the nested shapes)."""

    name: str
    shape: str  # "one" | "list" | "map" | "scalar"
    target: type | None
    optional: bool
    kind: Kind | None
    key_kind: Kind | None
    help: str
    flag: str | None
    clear: bool
    required: bool
    default: Any


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        return (args[0] if len(args) == 1 else annotation), optional
    return annotation, False


@functools.cache
def specs(cls: type) -> tuple[Spec, ...]:
    """The declared fields of a dataclass, in order."""
    hints = typing.get_type_hints(cls)
    found = []
    for item in fields(cls):
        annotation, optional = _unwrap(hints[item.name])
        origin = typing.get_origin(annotation)
        target: type | None = None
        if is_dataclass(annotation):
            shape, target = "one", annotation
        elif origin is list and is_dataclass(typing.get_args(annotation)[0]):
            shape, target = "list", typing.get_args(annotation)[0]
        elif origin is dict and is_dataclass(typing.get_args(annotation)[1]):
            shape, target = "map", typing.get_args(annotation)[1]
        else:
            shape = "scalar"
            if item.metadata.get("kind") is None:
                raise TypeError(f"{cls.__name__}.{item.name} declares no kind")
        required = item.default is MISSING and item.default_factory is MISSING
        default = item.default if item.default is not MISSING else (None if required else item.default_factory())
        found.append(
            Spec(
                item.name,
                shape,
                target,
                optional,
                item.metadata.get("kind"),
                item.metadata.get("key_kind"),
                item.metadata.get("help", ""),
                item.metadata.get("flag"),
                bool(item.metadata.get("clear")),
                required,
                default,
            )
        )
    return tuple(found)


def spec_of(cls: type, name: str) -> Spec:
    return next(s for s in specs(cls) if s.name == name)


Problems = list[tuple[str, str]]


def _join(path: str, name: str) -> str:
    """A field path; a key that is not a plain word is quoted (escaped, cut), so no key can forge a line."""
    name = key_text(name)
    return f"{path}.{name}" if path else name


# -- from a document (YAML as written, or JSON) -----------------------------------------------------------


def build(cls: type, data: Any, path: str, problems: Problems) -> Any:
    """An instance of cls from a parsed document, every value parsed by its kind; each problem recorded by
    its path (unknown keys, missing required ones, values not of their kind). Returns None when data is
    not a mapping."""
    if not isinstance(data, dict):
        problems.append((path or "config", f"expected a mapping of settings, got {_what(data)}"))
        return None
    declared = {s.name: s for s in specs(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        spec = declared.get(key) if isinstance(key, str) else None
        if spec is None:
            problems.append((_join(path, str(key)), f"unknown setting; known ones are: {', '.join(declared)}"))
            continue
        values[key] = _build_value(spec, value, _join(path, key), problems)
    for spec in declared.values():
        if spec.name not in values and spec.required:
            problems.append((_join(path, spec.name), "is required"))
            values[spec.name] = None
    return cls(**values)


def _what(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", type(None): "nothing"}.get(type(value), type(value).__name__)


def _build_value(spec: Spec, value: Any, path: str, problems: Problems) -> Any:
    if value is None:
        if spec.optional:
            return None
        if spec.shape == "scalar" or spec.required:
            problems.append((path, "is required; it cannot be empty"))
            return None
        return spec.default  # an empty nested part or list: its default
    if spec.shape == "one":
        return build(spec.target, value, path, problems)
    if spec.shape == "list":
        if not isinstance(value, list):
            problems.append((path, f"expected a list, got {_what(value)}"))
            return []
        return [build(spec.target, item, f"{path}[{index}]", problems) for index, item in enumerate(value)]
    if spec.shape == "map":
        if not isinstance(value, dict):
            problems.append((path, f"expected a mapping of names, got {_what(value)}"))
            return {}
        built = {}
        for name, item in value.items():
            if spec.key_kind is not None:
                try:
                    spec.key_kind.parse(name)
                except KindError as exc:
                    problems.append((_join(path, str(name)), str(exc)))
                    continue
            built[name] = build(spec.target, item, _join(path, str(name)), problems)
        return built
    assert spec.kind is not None
    return _scalar(spec.kind, value, path, problems, spec.kind.parse)


def _scalar(kind: Kind, value: Any, path: str, problems: Problems, parse: Any) -> Any:
    """A scalar (or a list of scalars: each item's problem by its index) parsed or checked by its kind."""
    if isinstance(kind, Listed) and isinstance(value, list):
        items, errors = kind.each(value)
        problems.extend((f"{path}[{e.index}]" if e.index is not None else path, str(e)) for e in errors)
        return items if not errors else value
    try:
        return parse(value)
    except KindError as exc:
        problems.append((f"{path}[{exc.index}]" if exc.index is not None else path, str(exc)))
        return value


# -- a config built in code -------------------------------------------------------------------------------


def check(instance: Any, path: str = "") -> Problems:
    """Every value of an instance of its declared kind and type (a config edited in code, before verify)."""
    problems: Problems = []
    _check(instance, path, problems)
    return problems


def _check(instance: Any, path: str, problems: Problems) -> None:
    for spec in specs(type(instance)):
        value = getattr(instance, spec.name)
        where = _join(path, spec.name)
        if value is None:
            if not spec.optional:
                problems.append((where, "is required; it cannot be empty"))
            continue
        if spec.shape == "one":
            _check_part(spec.target, value, where, problems)
        elif spec.shape == "list":
            if not isinstance(value, list):
                problems.append((where, "expected a list"))
                continue
            for index, item in enumerate(value):
                _check_part(spec.target, item, f"{where}[{index}]", problems)
        elif spec.shape == "map":
            if not isinstance(value, dict):
                problems.append((where, "expected a mapping of names"))
                continue
            for name, item in value.items():
                if spec.key_kind is not None:
                    try:
                        spec.key_kind.check(name)
                    except KindError as exc:
                        problems.append((_join(where, str(name)), str(exc)))
                        continue
                _check_part(spec.target, item, _join(where, str(name)), problems)
        else:
            assert spec.kind is not None
            _scalar(spec.kind, value, where, problems, spec.kind.check)


def _check_part(target: type | None, value: Any, where: str, problems: Problems) -> None:
    if not isinstance(value, target):  # type: ignore[arg-type]
        problems.append((where, f"expected a mapping of settings, got {_what(value)}"))
    else:
        _check(value, where, problems)


# -- JSON Schema ------------------------------------------------------------------------------------------


def json_schema(cls: type, title: str, description: str = "") -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a document whose root is cls: every nested class under $defs."""
    definitions: dict[str, Any] = {}
    root = _object_schema(cls, definitions)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        **({"description": description} if description else {}),
        **root,
        "$defs": dict(sorted(definitions.items())),
    }


def _object_schema(cls: type, definitions: dict[str, Any]) -> dict[str, Any]:
    properties = {}
    for spec in specs(cls):
        properties[spec.name] = _field_schema(spec, definitions)
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if cls.__doc__:
        schema["description"] = " ".join(cls.__doc__.split())
    required = [s.name for s in specs(cls) if s.required]
    if required:
        schema["required"] = required
    return schema


def _reference(target: type, definitions: dict[str, Any]) -> dict[str, Any]:
    if target.__name__ not in definitions:
        definitions[target.__name__] = {}  # placed first: a class met again while building refers to it
        definitions[target.__name__] = _object_schema(target, definitions)
    return {"$ref": f"#/$defs/{target.__name__}"}


def _field_schema(spec: Spec, definitions: dict[str, Any]) -> dict[str, Any]:
    if spec.shape == "one":
        schema = _reference(spec.target, definitions)  # type: ignore[arg-type]
    elif spec.shape == "list":
        schema = {"type": "array", "items": _reference(spec.target, definitions)}  # type: ignore[arg-type]
    elif spec.shape == "map":
        schema = {"type": "object", "additionalProperties": _reference(spec.target, definitions)}  # type: ignore[arg-type]
        if spec.key_kind is not None:
            schema["propertyNames"] = spec.key_kind.json_schema()
    else:
        schema = spec.kind.json_schema()  # type: ignore[union-attr]
    if spec.optional:
        schema = {"anyOf": [schema, {"type": "null"}]}
    if spec.help:
        schema["description"] = spec.help
    if not spec.required and _plain_json(spec.default):
        schema["default"] = spec.default
    return schema


def _plain_json(value: Any) -> bool:
    if isinstance(value, str | int | float | bool) or value is None:
        return True
    if isinstance(value, list):
        return all(_plain_json(v) for v in value)
    return False
