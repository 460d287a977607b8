"""The endpoints of the virtual services and their real servers, the configuration, its history and the
unit's status: a change calls lbctl (Call.change) with the words lbctl takes; a read calls what lbctl's
read calls (reads.py, manage/operations.py) in a worker thread, so nothing blocks the server's loop.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from ..config import history
from ..config.declare import spec_of
from ..config.kinds import KindError
from ..config.model import NAME, REAL_SERVER_STATES, RealServer
from ..engines import diagnose
from . import reads
from .call import Call, Endpoint, array, ref
from .problems import Problem, bad_input

# -- reads --------------------------------------------------------------------------------------------------


async def get_config(call: Call) -> Response:
    config, version = await call.configuration()
    return call.tagged(config.to_dict(), version)


async def list_services(call: Call) -> Response:
    config, version = await call.configuration()
    return call.tagged([reads.as_json(s) for s in config.virtual_services], version)


async def get_service(call: Call) -> Response:
    config, version = await call.configuration()
    return call.tagged(reads.as_json(reads.service(config, call.param("vs"))), version)


async def list_servers(call: Call) -> Response:
    config, version = await call.configuration()
    return call.tagged([reads.as_json(s) for s in reads.service(config, call.param("vs")).real_servers], version)


async def get_server(call: Call) -> Response:
    config, version = await call.configuration()
    return call.tagged(reads.as_json(reads.server(config, call.param("vs"), call.param("rs"))), version)


async def get_status(call: Call) -> Response:
    return JSONResponse(await run_in_threadpool(call.served.operations.status_json))


async def get_diagnose(call: Call) -> Response:
    findings = await run_in_threadpool(call.served.operations.diagnose_findings)
    return JSONResponse(diagnose.as_json(findings))


async def get_history(call: Call) -> Response:
    return JSONResponse(await run_in_threadpool(history.rows, call.served.paths))


def _number(call: Call, name: str) -> int:
    text = call.param(name)
    if not re.fullmatch(r"[0-9]{1,9}", text):
        raise Problem(404, "not-found", f"{name}: {text[:40]!r} is not a version number", [(name, "not a version number")])
    return int(text)


async def get_version(call: Call) -> Response:
    return JSONResponse(await run_in_threadpool(reads.version, call.served.paths, _number(call, "version")))


async def get_difference(call: Call) -> Response:
    older, newer = _number(call, "version"), _number(call, "other")
    return JSONResponse(await run_in_threadpool(reads.difference, call.served.paths, older, newer))


# -- changes ------------------------------------------------------------------------------------------------


async def _existing(call: Call, server: bool = False) -> None:
    """404 for a service or server the path names that is not there (lbctl would say so as bad input)."""
    config, _ = await call.configuration()
    if server:
        reads.server(config, call.param("vs"), call.param("rs"))
    else:
        reads.service(config, call.param("vs"))


def _declared(cls: type, name: str, value: object) -> Any:
    """A value of the body that becomes an lbctl argument, judged by its setting's kind as JSON."""
    try:
        return spec_of(cls, name).kind.check(value)  # type: ignore[union-attr]
    except KindError as exc:
        raise bad_input([(name, str(exc))]) from None


async def add_service(call: Call) -> Response:
    body = await call.json()
    if "name" not in body:
        raise bad_input([("name", "a new virtual service needs its name")])
    try:
        name = NAME.check(body.pop("name"))
    except KindError as exc:
        raise bad_input([("name", str(exc))]) from None
    return await call.change(["vs", "add", name], body)


async def change_service(call: Call) -> Response:
    body = await call.json()
    await _existing(call)
    return await call.change(["vs", "set", call.param("vs")], body)


async def remove_service(call: Call) -> Response:
    await _existing(call)
    return await call.change(["vs", "remove", call.param("vs")])


def _endpoint(address: str, port: int | None) -> str:
    return f"{address}:{port}" if port is not None else address


async def add_server(call: Call) -> Response:
    body = await call.json()
    await _existing(call)
    if "address" not in body:
        raise bad_input([("address", "a new real server needs its address")])
    address = _declared(RealServer, "address", body.pop("address"))
    port = _declared(RealServer, "port", body.pop("port")) if "port" in body else None
    return await call.change(["rs", "add", call.param("vs"), _endpoint(address, port)], body)


async def change_server(call: Call) -> Response:
    body = await call.json()
    await _existing(call, server=True)
    words = ["rs", "set", call.param("vs"), call.param("rs")]
    if "address" in body or "port" in body:
        config, _ = await call.configuration()
        current = reads.server(config, call.param("vs"), call.param("rs"))
        address = _declared(RealServer, "address", body.pop("address")) if "address" in body else current.address
        port = _declared(RealServer, "port", body.pop("port")) if "port" in body else None
        words += ["--address", _endpoint(address, port)]
    return await call.change(words, body)


async def remove_server(call: Call) -> Response:
    await _existing(call, server=True)
    return await call.change(["rs", "remove", call.param("vs"), call.param("rs")])


async def set_server_state(call: Call) -> Response:
    body = await call.json()
    problems = [(key, "not a setting taken here; this is: state") for key in body if key != "state"]
    state = body.get("state")
    if state not in REAL_SERVER_STATES:
        problems.append(("state", f"{'is required' if state is None else 'is not a state'}; use {', '.join(REAL_SERVER_STATES)}"))
    if problems:
        raise bad_input(problems)
    await _existing(call, server=True)
    return await call.change(["rs", str(state), call.param("vs"), call.param("rs")])


async def rollback(call: Call) -> Response:
    body = await call.json(required=False)
    problems = [(key, "not a setting taken here; this is: version") for key in body if key != "version"]
    version = body.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        problems.append(("version", "expected a saved version's number (GET /api/v1/history lists them)"))
    if problems:
        raise bad_input(problems)
    return await call.change(["rollback", *([str(version)] if version is not None else [])])


CHANGE_RESULT = ref("ChangeResult")
SERVICE_ENDPOINTS = [
    Endpoint("GET", "/config", get_config, "The whole configuration (appliance.yaml)", ref("ApplianceConfig"), etag=True),
    Endpoint("GET", "/virtual-services", list_services, "Every virtual service", array("VirtualService"), etag=True),
    Endpoint("POST", "/virtual-services", add_service, "Add a virtual service (lbctl vs add)", CHANGE_RESULT,
             change=True, body="VirtualServiceNew"),
    Endpoint("GET", "/virtual-services/{vs}", get_service, "One virtual service", ref("VirtualService"), etag=True),
    Endpoint("PATCH", "/virtual-services/{vs}", change_service, "Change a virtual service (lbctl vs set)", CHANGE_RESULT,
             change=True, body="VirtualServiceChange"),
    Endpoint("DELETE", "/virtual-services/{vs}", remove_service, "Remove a virtual service and its real servers",
             CHANGE_RESULT, change=True),
    Endpoint("GET", "/virtual-services/{vs}/real-servers", list_servers, "A virtual service's real servers",
             array("RealServer"), etag=True),
    Endpoint("POST", "/virtual-services/{vs}/real-servers", add_server, "Add a real server (lbctl rs add)", CHANGE_RESULT,
             change=True, body="RealServerNew"),
    Endpoint("GET", "/virtual-services/{vs}/real-servers/{rs}", get_server, "One real server (by name, address or "
             "address:port)", ref("RealServer"), etag=True),
    Endpoint("PATCH", "/virtual-services/{vs}/real-servers/{rs}", change_server, "Change a real server (lbctl rs set)",
             CHANGE_RESULT, change=True, body="RealServerChange"),
    Endpoint("DELETE", "/virtual-services/{vs}/real-servers/{rs}", remove_server, "Remove a real server", CHANGE_RESULT,
             change=True),
    Endpoint("PUT", "/virtual-services/{vs}/real-servers/{rs}/state", set_server_state, "Drain, take offline or bring "
             "online (lbctl rs drain|offline|online)", CHANGE_RESULT, change=True, body="ServerState"),
    Endpoint("GET", "/status", get_status, "Both units, the clock and each service, as lbctl status --json",
             ref("Status")),
    Endpoint("GET", "/diagnose", get_diagnose, "The reference's diagnosis steps, with fixes (lbctl diagnose --json)",
             array("Finding")),
    Endpoint("GET", "/history", get_history, "The saved versions (lbctl history --json)", array("HistoryRow")),
    Endpoint("GET", "/history/{version}", get_version, "One saved version and who made it", ref("Version")),
    Endpoint("GET", "/history/{version}/diff/{other}", get_difference, "What changed from one version to another",
             ref("VersionDifference")),
    Endpoint("POST", "/rollback", rollback, "Apply an earlier version again (default: the one before)", CHANGE_RESULT,
             change=True, body="Rollback", body_required=False),
]  # fmt: skip
