"""Reading YAML the admin or a backup wrote, strictly and within bounds.

PyYAML is YAML 1.1: `0443` is 291, `1:20` is 80, `no` is False, a duplicate key silently takes the last
value, and nested aliases expand without bound (FIELD-NOTES). Here a document is read so that it means what
was written: every scalar stays the text it is (only `null`, `~` and an empty value are null), and each
setting's kind parses that text by its own grammar; aliases, anchors, tags, merge keys and duplicate keys
are refused, and so is anything over a size, nesting and node bound, or not UTF-8. Every refusal is a
DocumentError naming where it is, never a traceback.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

MAX_DEPTH = 16  # appliance.yaml nests 5 deep (virtual_services[].real_servers[].name)
MAX_NODES = 2_000_000  # scalars, lists and mappings together
CONFIG_LIMIT = 16 * 1024 * 1024  # appliance.yaml of 1,000 services of 10 servers is about 3 MB
ANSWERS_LIMIT = 1024 * 1024
NULL_TAG, STR_TAG = "tag:yaml.org,2002:null", "tag:yaml.org,2002:str"
SEQ_TAG, MAP_TAG = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"


class DocumentError(ValueError):
    """A document that cannot be read as written; where says which (answers, config, backup: ...)."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.field = where
        self.message = message


class _TextResolver(BaseResolver):
    """Plain scalars are text; only YAML's null spellings are null."""


_TextResolver.add_implicit_resolver(NULL_TAG, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])


class _StrictComposer(Composer):
    """The composer, refusing aliases, anchors and explicit tags, and bounding depth and size."""

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        event = self.peek_event()
        mark = event.start_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        if isinstance(event, AliasEvent):
            raise yaml.YAMLError(f"{where}: an alias (*{event.anchor}) is not allowed; write the value out")
        if getattr(event, "anchor", None) is not None:
            raise yaml.YAMLError(f"{where}: an anchor (&{event.anchor}) is not allowed; write the value out")
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in ("!", "?"):
            raise yaml.YAMLError(f"{where}: a tag ({tag}) is not allowed; write plain values")
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise yaml.YAMLError(f"{where}: more than {MAX_NODES} values")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.YAMLError(f"{where}: nested more than {MAX_DEPTH} deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _TextConstructor(SafeConstructor):
    """Mappings with text keys, each once; scalars as the text written."""

    def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
        if not isinstance(node, yaml.MappingNode):
            raise yaml.YAMLError(f"line {node.start_mark.line + 1}: expected a mapping")
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            where = f"line {key_node.start_mark.line + 1}, column {key_node.start_mark.column + 1}"
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != STR_TAG:
                raise yaml.YAMLError(f"{where}: a key must be plain text")
            key = key_node.value
            if key in result:
                raise yaml.YAMLError(f"{where}: {key!r} is given twice; keep one")
            result[key] = self.construct_object(value_node, deep=True)
        return result


_TextConstructor.add_constructor(STR_TAG, SafeConstructor.construct_yaml_str)
_TextConstructor.add_constructor(NULL_TAG, SafeConstructor.construct_yaml_null)
_TextConstructor.add_constructor(SEQ_TAG, lambda loader, node: loader.construct_sequence(node, deep=True))
_TextConstructor.add_constructor(MAP_TAG, lambda loader, node: loader.construct_mapping(node, deep=True))


class _TextLoader(Reader, Scanner, Parser, _StrictComposer, _TextConstructor, _TextResolver):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _StrictComposer.__init__(self)
        _TextConstructor.__init__(self)
        _TextResolver.__init__(self)


def parse_text(text: str, where: str) -> Any:
    """A YAML document as written: text scalars, null, lists and mappings; DocumentError otherwise."""
    loader = _TextLoader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise DocumentError(where, f"not valid YAML as this unit reads it: {_short(exc)}") from None
    except RecursionError:
        raise DocumentError(where, f"nested more than {MAX_DEPTH} deep") from None
    finally:
        loader.dispose()


def _short(exc: yaml.YAMLError) -> str:
    return " ".join(str(exc).split())[:300]


def decode(data: bytes, where: str) -> str:
    """UTF-8 text (a UTF-8 byte order mark is dropped); any other encoding is refused by name."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        hint = " (it looks like UTF-16)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise DocumentError(
            where, f"the file is not UTF-8 text{hint}: byte {exc.object[exc.start]:#04x} at offset {exc.start}; save it as UTF-8"
        ) from None
    if "\x00" in text:
        raise DocumentError(where, "the file holds a NUL character; it is not a text file")
    return text


def read_bounded(path: Path, limit: int, where: str) -> bytes:
    """At most limit bytes of a file; more, a directory or an unreadable file is a DocumentError. A FIFO or
    a character device is read like a file (a pipe may feed answers), but never past the limit."""
    try:
        with open(path, "rb") as handle:
            if stat.S_ISDIR(os.fstat(handle.fileno()).st_mode):
                raise DocumentError(where, f"{path} is a directory, not a file")
            data = handle.read(limit + 1)
    except IsADirectoryError:
        raise DocumentError(where, f"{path} is a directory, not a file") from None
    except OSError as exc:
        raise DocumentError(where, f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise DocumentError(where, f"{path} is larger than {limit // 1024} KiB; this is not a file this unit writes or reads")
    return data


def load_file(path: Path, limit: int, where: str) -> Any:
    """A YAML file read strictly: bounded, UTF-8, text scalars."""
    return parse_text(decode(read_bounded(path, limit, where), where), where)


def load_text(text: str, limit: int, where: str) -> Any:
    if len(text) > limit:
        raise DocumentError(where, f"larger than {limit // 1024} KiB")
    if "\x00" in text:
        raise DocumentError(where, "holds a NUL character; it is not text")
    return parse_text(text, where)
