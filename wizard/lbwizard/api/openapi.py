"""The OpenAPI 3.1 document of /api/v1/openapi.json, generated, never written by hand.

components.schemas are the configuration's own JSON Schema (config/declare.py, the one `lbwizard schema`
prints: its $defs become components), and the request bodies are cut from it by lbctl's option tables
(config/options.py): a new virtual service takes its name and every option of `lbctl vs add`, a new real
server its address, port and every option of `lbctl rs add`, each with the schema its setting declares.
paths come from the endpoint table (routes.py). Errors are problem details.
"""

from __future__ import annotations

import copy
import functools
import re
from typing import Any

from ..config.declare import json_schema
from ..config.model import REAL_SERVER_STATES, ApplianceConfig
from ..config.options import SERVER_NAME, SERVER_OPTIONS, SERVICE_OPTIONS, Option
from .api_settings import API_SETTINGS_SCHEMAS
from .backups import BACKUP_SCHEMAS
from .bodies import BODY_LIMIT
from .call import Endpoint
from .certificates import CERTIFICATE_SCHEMAS
from .changes import EVENT_STREAM
from .charts import CHART_SCHEMAS
from .people import PEOPLE_SCHEMAS
from .problems import MEDIA_TYPE
from .routes import BASE, ENDPOINTS
from .scripts import SCRIPT_SCHEMAS
from .sessions import COOKIE
from .tokens import TOKEN_SCHEMAS
from .unit import UNIT_SCHEMAS

ERRORS = {
    401: "No token, or not one of this unit's (lbctl api token add NAME)",
    403: "The token is read-only, or a session's change came without its CSRF token (X-CSRF-Token)",
    404: "No such virtual service, real server or version",
    409: "Another change holds the change lock (the problem names it), or the HA peer refused",
    412: "If-Match names a configuration version that is no longer the current one (or this change takes none)",
    413: f"The body is larger than {BODY_LIMIT // 1024} KiB",
    422: "Bad input: every problem at once, each naming its field; nothing was changed",
    429: "Too many failed logins from this address lately (Retry-After says when to try again)",
    500: "The change failed and was undone (or its undo was incomplete: the problem says which)",
}


def _refs(schema: Any) -> Any:
    """$defs references as components references."""
    if isinstance(schema, dict):
        return {k: (v.replace("#/$defs/", "#/components/schemas/") if k == "$ref" else _refs(v)) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_refs(item) for item in schema]
    return schema


def _body(model: dict[str, Any], table: list[Option], extra: tuple[str, ...], required: list[str], what: str) -> dict:
    """An object of the settings lbctl's table takes (and extra ones), each with its declared schema."""
    names = [*extra, *dict.fromkeys(option.path.split(".")[0] for option in table)]
    properties = {name: copy.deepcopy(model["properties"][name]) for name in names}
    schema: dict[str, Any] = {"type": "object", "description": what, "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    else:
        schema["minProperties"] = 1
    return schema


def _result_schemas() -> dict[str, Any]:
    """The answers that are not the configuration: lbctl --json's own shapes."""
    text = {"type": "string"}
    return {
        "ChangeResult": {
            "type": "object",
            "description": "A change the engines took: its line, the new version (also the ETag) and every step run",
            "properties": {
                "ok": {"const": True},
                "change": text,
                "version": {"type": "integer"},
                "steps": {"type": "array", "items": text},
            },
            "required": ["ok", "version", "steps"],
        },
        "ServerState": {
            "type": "object",
            "properties": {"state": {"enum": list(REAL_SERVER_STATES)}},
            "required": ["state"],
            "additionalProperties": False,
        },
        "Rollback": {
            "type": "object",
            "properties": {"version": {"type": "integer", "minimum": 1, "description": "default: the one before the newest"}},
            "additionalProperties": False,
        },
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details",
            "properties": {
                "type": text,
                "title": text,
                "status": {"type": "integer"},
                "detail": text,
                "errors": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"field": text, "message": text}, "required": ["field", "message"]},
                },
            },
            "required": ["type", "title", "status", "detail"],
        },
        "Status": {"type": "object", "description": "lbctl status --json: boot problems, the pair, the clock, each service"},
        "Finding": {"type": "object", "description": "one of lbctl diagnose --json's findings"},
        "HistoryRow": {
            "type": "object",
            "properties": {
                "version": {"type": "integer"},
                **{name: text for name in ("saved", "by", "via", "command", "message")},
                "services": {"type": ["integer", "null"]},
                "real_servers": {"type": ["integer", "null"]},
                "current": {"type": "boolean"},
                "problem": {"type": ["string", "null"]},
            },
        },
        "Version": {
            "type": "object",
            "properties": {"version": {"type": "integer"}, "record": {"type": "object"}, "config": _ref("ApplianceConfig")},
        },
        "VersionDifference": {
            "type": "object",
            "properties": {
                "from": {"type": "integer"},
                "to": {"type": "integer"},
                "changes": {"type": "array", "items": {"type": "object", "properties": {"path": text, "from": {}, "to": {}}}},
                "diff": text,
            },
        },
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def schemas() -> dict[str, Any]:
    config = json_schema(ApplianceConfig, "appliance.yaml")
    found = {name: _refs(schema) for name, schema in config.pop("$defs").items()}
    found["ApplianceConfig"] = _refs({k: v for k, v in config.items() if k not in ("$schema", "title")})
    service, server = found["VirtualService"], found["RealServer"]
    found["VirtualServiceNew"] = _body(service, SERVICE_OPTIONS, ("name",), ["name", "address", "port"], "lbctl vs add")
    found["VirtualServiceChange"] = _body(service, SERVICE_OPTIONS, (), [], "lbctl vs set: the settings to change")
    server_table = [SERVER_NAME, *SERVER_OPTIONS]
    found["RealServerNew"] = _body(server, server_table, ("address", "port"), ["address"], "lbctl rs add (port: the VIP's)")
    found["RealServerChange"] = _body(server, server_table, ("address", "port"), [], "lbctl rs set: the settings to change")
    console = TOKEN_SCHEMAS | BACKUP_SCHEMAS | CHART_SCHEMAS | SCRIPT_SCHEMAS  # what the web console added
    return found | _result_schemas() | UNIT_SCHEMAS | PEOPLE_SCHEMAS | CERTIFICATE_SCHEMAS | API_SETTINGS_SCHEMAS | console


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.method.lower() + re.sub(r"[^A-Za-z0-9]+", "_", endpoint.path).rstrip("_"),
        "summary": endpoint.summary,
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in endpoint.parameters
        ],
    }
    answer: dict[str, Any] = {"description": "OK", "content": {endpoint.answer_media: {"schema": endpoint.answer}}}
    if endpoint.etag or endpoint.change:
        answer["headers"] = {"ETag": {"description": "the configuration's version", "schema": {"type": "string"}}}
    if endpoint.change:  # Accept: text/event-stream
        answer["content"][EVENT_STREAM] = {
            "schema": {
                "type": "string",
                "description": "server-sent events: `step` ({step}) as each step runs, then `result` (the JSON answer) "
                "or `problem` (the problem details the plain request would have answered)",
            }
        }
    responses: dict[str, Any] = {"200": answer}
    codes = [401, 404] if endpoint.parameters else [401]
    if endpoint.change:
        codes += [403, 409, 412, 413, 422, 500]
    elif endpoint.method != "GET" and not endpoint.public:  # a session's request other than a read: its CSRF token
        codes += [403, *([413, 422] if endpoint.body else [])]
        operation["parameters"] += [
            {"name": "message", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 200},
             "description": "why: kept with the version in history"},
        ]  # fmt: skip
    if endpoint.change and endpoint.if_match:
        operation["parameters"].append(
            {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
             "description": "the version a configuration read tagged (ETag): change only if it is still current"}
        )  # fmt: skip
    if endpoint.etag:
        responses["304"] = {"description": "Not modified (If-None-Match is the current version)"}
    for code in sorted(set(codes)):
        responses[str(code)] = {"$ref": f"#/components/responses/{code}"}
    if endpoint.public:
        operation["security"] = []
        responses.pop("401", None)
        responses["401"] = {"$ref": "#/components/responses/401"}  # a wrong password
        responses["429"] = {"$ref": "#/components/responses/429"}
        responses["422"] = {"$ref": "#/components/responses/422"}
    operation["responses"] = responses
    if endpoint.body:
        operation["requestBody"] = {
            "required": endpoint.body_required,
            "content": {endpoint.body_media: {"schema": _ref(endpoint.body)}},
        }
    return operation


@functools.cache
def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(BASE + endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "lbwizard appliance API",
            "version": "1",
            "description": "Everything lbctl does, over HTTPS. A change answers once the engines took it, or with "
            "the reason it failed and nothing changed.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "lbctl api token add NAME"},
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": COOKIE,
                    "description": "POST /api/v1/session; a change carries the session's X-CSRF-Token",
                },
            },
            "responses": {
                str(code): {"description": text, "content": {MEDIA_TYPE: {"schema": _ref("Problem")}}}
                for code, text in ERRORS.items()
            },
        },
    }
