"""The endpoints of the unit's own settings, one per lbctl command: access (management networks, input rules,
root's SSH keys), time, logging, metrics and the pair. Reads and changes alike run lbctl, so the JSON is
lbctl --json's own. Values reach lbctl as `--option=VALUE` and positionals after `--`, so no value is
ever taken for an option; what argparse itself would refuse (a protocol not in its choices, a port that is
no number) is refused here first, as lbctl's kinds would word it.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from ..config.model import PROTOCOLS, SYSLOG_PROTOCOLS
from .call import Call, Endpoint, ref
from .problems import bad_input

CHANGE_RESULT = ref("ChangeResult")
ANY = {"type": "object", "description": "what lbctl --json prints for this command"}


def _only(body: dict, *known: str) -> None:
    if unknown := [key for key in body if key not in known]:
        raise bad_input([(key[:40], f"not a setting taken here; these are: {', '.join(known)}") for key in unknown])


def _texts(body: dict, key: str) -> list[str]:
    value = body.get(key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise bad_input([(key, "expected a list of text")])
    return value


def _text(body: dict, key: str, choices: tuple[str, ...] | None = None, default: str | None = None) -> str | None:
    value = body.get(key, default)
    if value is not None and not isinstance(value, str):
        raise bad_input([(key, "expected text")])
    if choices and value is not None and value not in choices:
        raise bad_input([(key, f"{value[:40]!r} is not one of {', '.join(choices)}")])
    return value


def _flag(body: dict, key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise bad_input([(key, "expected true or false")])
    return value


def _port(body: dict, key: str) -> int | None:
    value = body.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise bad_input([(key, "expected a port number, 1-65535")])
    return value


# -- access -------------------------------------------------------------------------------------------------


async def get_access(call: Call) -> Response:
    return await call.lbctl_read(["access", "show"])


async def set_networks(call: Call) -> Response:
    body = await call.json()
    _only(body, "networks", "force")
    networks = _texts(body, "networks") or ["default"]
    force = ["--force"] if _flag(body, "force") else []
    return await call.change(["access", "networks", *force, "--", *networks])


async def add_rule(call: Call) -> Response:
    body = await call.json()
    _only(body, "port", "protocol", "source", "comment")
    port = body.get("port")
    if isinstance(port, bool) or not isinstance(port, int | str):
        raise bad_input([("port", 'expected a port or a list of them, e.g. 161 or "8000-8080, 9002"')])
    words = ["access", "allow", f"--protocol={_text(body, 'protocol', PROTOCOLS, 'tcp')}"]
    words += [f"--source={_text(body, 'source', default='any')}", f"--comment={_text(body, 'comment', default='')}"]
    return await call.change([*words, "--", str(port)])


async def remove_rule(call: Call) -> Response:
    number = call.param("number")
    if not re.fullmatch(r"[0-9]{1,6}", number):
        raise bad_input([("rule", "expected the rule's number, as GET /api/v1/access lists them (from 1)")])
    return await call.change(["access", "remove", number])


async def list_keys(call: Call) -> Response:
    return await call.lbctl_read(["access", "key", "list"])


async def add_key(call: Call) -> Response:
    body = await call.json()
    _only(body, "key")
    key = _text(body, "key")
    if not key:
        raise bad_input([("key", "expected the line of a .pub file")])
    return await call.change(["access", "key", "add", "-"], text=key)


async def remove_key(call: Call) -> Response:
    force = ["--force"] if call.request.query_params.get("force") in ("yes", "true") else []
    return await call.change(["access", "key", "remove", *force, "--", call.param("key")])


# -- the unit's own services ----------------------------------------------------------------------------------


async def get_time(call: Call) -> Response:
    return await call.lbctl_read(["time", "show"])


async def set_time(call: Call) -> Response:
    body = await call.json()
    _only(body, "ntp_servers")
    return await call.change(["time", "servers", "--", *(_texts(body, "ntp_servers") or ["none"])])


async def get_logging(call: Call) -> Response:
    return await call.lbctl_read(["logging", "show"])


async def set_logging(call: Call) -> Response:
    body = await call.json()
    _only(body, "syslog_server", "syslog_protocol")
    if "syslog_server" not in body:
        raise bad_input([("syslog_server", "expected HOST[:PORT], or null: the logs stay on the unit")])
    protocol = _text(body, "syslog_protocol", SYSLOG_PROTOCOLS)
    words = ["logging", "server", *([f"--protocol={protocol}"] if protocol else [])]
    return await call.change([*words, "--", _text(body, "syslog_server") or "none"])


async def get_metrics(call: Call) -> Response:
    return await call.lbctl_read(["metrics", "show"])


async def set_metrics(call: Call) -> Response:
    """On or off, or the ports: one of them per change, as lbctl makes them."""
    body = await call.json()
    _only(body, "enabled", "node_port", "haproxy_port")
    if "enabled" in body:
        if len(body) > 1:
            raise bad_input([("enabled", "change the ports in a request of their own (one change, one lbctl command)")])
        return await call.change(["metrics", "on" if _flag(body, "enabled") else "off"])
    given = {flag: _port(body, key) for flag, key in (("node", "node_port"), ("haproxy", "haproxy_port"))}
    ports = [f"--{flag}={value}" for flag, value in given.items() if value is not None]
    if not ports:
        raise bad_input([("body", "give enabled, or node_port and/or haproxy_port")])
    return await call.change(["metrics", "ports", *ports])


async def get_pair(call: Call) -> Response:
    return await call.lbctl_read(["pair", "status"])


async def sync_pair(call: Call) -> Response:
    body = await call.json(required=False)
    _only(body, "overwrite_peer")
    return await call.change(["pair", "sync", *(["--overwrite-peer"] if _flag(body, "overwrite_peer") else [])])


def _body(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    return schema | ({"required": required} if required else {})


TEXTS = {"type": "array", "items": {"type": "string"}}
UNIT_SCHEMAS = {
    "ManagementNetworks": _body({"networks": TEXTS, "force": {"type": "boolean"}}, ["networks"]),
    "InputRuleNew": _body(
        {
            "port": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "protocol": {"enum": list(PROTOCOLS)},
            "source": {"type": "string", "description": "a network, or any (default)"},
            "comment": {"type": "string"},
        },
        ["port"],
    ),
    "SSHKeyNew": _body({"key": {"type": "string", "description": "the line of a .pub file"}}, ["key"]),
    "TimeSettings": _body({"ntp_servers": TEXTS}, ["ntp_servers"]),
    "LoggingSettings": _body(
        {"syslog_server": {"type": ["string", "null"]}, "syslog_protocol": {"enum": list(SYSLOG_PROTOCOLS)}}, ["syslog_server"]
    ),
    "MetricsSettings": _body(
        {"enabled": {"type": "boolean"}, "node_port": {"type": "integer"}, "haproxy_port": {"type": "integer"}}
    ),
    "PairSync": _body({"overwrite_peer": {"type": "boolean"}}),
}

UNIT_ENDPOINTS = [
    Endpoint("GET", "/access", get_access, "The management networks and the admin's input rules (lbctl access show)", ANY),
    Endpoint("PUT", "/access/networks", set_networks, "Where SSH and management may come from (lbctl access networks)",
             CHANGE_RESULT, change=True, body="ManagementNetworks"),
    Endpoint("POST", "/access/rules", add_rule, "Open a port of this unit (lbctl access allow)", CHANGE_RESULT,
             change=True, body="InputRuleNew"),
    Endpoint("DELETE", "/access/rules/{number}", remove_rule, "Remove input rule N (lbctl access remove)", CHANGE_RESULT,
             change=True),
    Endpoint("GET", "/access/keys", list_keys, "Root's SSH keys (lbctl access key list)", {"type": "array"}),
    Endpoint("POST", "/access/keys", add_key, "A key that may log in as root (lbctl access key add)", CHANGE_RESULT,
             change=True, body="SSHKeyNew"),
    Endpoint("DELETE", "/access/keys/{key}", remove_key, "Remove a key by number, fingerprint or comment; ?force=yes "
             "for the last one (lbctl access key remove)", CHANGE_RESULT, change=True, tail=True),
    Endpoint("GET", "/time", get_time, "The NTP servers (lbctl time show)", ANY),
    Endpoint("PUT", "/time", set_time, "Follow these NTP servers (lbctl time servers)", CHANGE_RESULT, change=True,
             body="TimeSettings"),
    Endpoint("GET", "/logging", get_logging, "The syslog server (lbctl logging show)", ANY),
    Endpoint("PUT", "/logging", set_logging, "Forward the journal, or not (lbctl logging server)", CHANGE_RESULT,
             change=True, body="LoggingSettings"),
    Endpoint("GET", "/metrics", get_metrics, "Where the Prometheus endpoints listen (lbctl metrics show)", ANY),
    Endpoint("PUT", "/metrics", set_metrics, "Metrics on or off, or their ports (lbctl metrics on|off|ports)",
             CHANGE_RESULT, change=True, body="MetricsSettings"),
    Endpoint("GET", "/pair", get_pair, "The peer, the shared version, whether it is behind (lbctl pair status)", ANY),
    Endpoint("POST", "/pair/sync", sync_pair, "Bring the peer level now (lbctl pair sync)", ANY, change=True,
             body="PairSync", body_required=False, if_match=False),
]  # fmt: skip
