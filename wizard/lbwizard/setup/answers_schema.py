"""The JSON Schema of an answers file (`lbwizard schema answers`): the console's questions by id, each by
its kind, and the answers file's own settings, made from the declarations the answers runner reads with.
"""

from __future__ import annotations

from typing import Any

from .answers_file import ANSWERS_ONLY, RESTORE
from .flow import QUESTIONS


def schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of an answers file."""
    properties: dict[str, Any] = {}
    for question in QUESTIONS:
        if question.interactive_only:
            continue
        properties[question.id] = question.accepts.json_schema() | {"description": question.prompt}
    for key, (kind, text) in ANSWERS_ONLY.items():
        properties[key] = kind.json_schema() | {"description": text}
    properties["restore"] = RESTORE.json_schema() | {
        "description": "a backup (lbctl backup) beside the answers file, restored instead of the questions; alone"
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "lbwizard answers file",
        "description": "The console wizard's questions by id (reference 003's quick start), for an unattended set-up.",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
