"""The charts' endpoints: the sampler's series (sampler.py) over the last hour or day, each value list one
point per step from `start` (null: nothing sampled then). /samples has every virtual service, for the
dashboard; /samples/{vs} a service and its real servers, for its page."""

from __future__ import annotations

import math
import time

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from . import reads
from .call import Call, Endpoint, ref
from .problems import bad_input
from .sample_store import FIELDS, Values

SPANS = ("hour", "day")
NOT_SAMPLED = "a dry run asks no engine, so it takes no samples: on the unit the charts fill as traffic flows"


def _round(value: float) -> float | None:
    return None if math.isnan(value) else float(f"{value:.3g}")


def _columns(values: list[Values | None]) -> dict[str, list[float | None]]:
    return {name: [None if v is None else _round(v[i]) for v in values] for i, name in enumerate(FIELDS)}


def _span(call: Call) -> str:
    span = call.request.query_params.get("range", "hour")
    if span not in SPANS:
        raise bad_input([("range", f"{span[:20]!r} is not a range; use hour or day")])
    return span


def _answer(call: Call, keys: list[str], span: str) -> dict:
    sampler = call.served.sampler
    answer: dict = {"range": span, "sampling": sampler is not None, "series": {}}
    if sampler is None:
        return answer | {"note": NOT_SAMPLED}
    now = int(time.time())
    with sampler.lock:
        for key in keys:
            found = sampler.store.window(key, span, now)
            if found is None:
                continue
            start, step, values = found
            answer.update(start=start, step=step)
            answer["series"][key] = _columns(values)
    return answer | {"note": "" if answer["series"] else "no samples yet: the engines have not been read since the start"}


async def all_services(call: Call) -> Response:
    span = _span(call)
    config, _ = await call.configuration()
    names = [s.name for s in config.virtual_services]
    return JSONResponse(await run_in_threadpool(_answer, call, names, span))


async def one_service(call: Call) -> Response:
    span = _span(call)
    config, _ = await call.configuration()
    found = reads.service(config, call.param("vs"))
    keys = [found.name, *(f"{found.name}/{r.name}" for r in found.real_servers)]
    return JSONResponse(await run_in_threadpool(_answer, call, keys, span))


COLUMN = {"type": "array", "items": {"type": ["number", "null"]}}
CHART_SCHEMAS = {
    "Samples": {
        "type": "object",
        "description": "per series (SERVICE or SERVICE/SERVER), one value per step from start",
        "properties": {
            "range": {"enum": list(SPANS)},
            "sampling": {"type": "boolean", "description": "false in a dry run: no engine is asked"},
            "note": {"type": "string"},
            "start": {"type": "integer", "description": "the first step's start, seconds since the epoch"},
            "step": {"type": "integer", "description": "seconds per value"},
            "series": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "current": COLUMN | {"description": "connections open"},
                        "connections": COLUMN | {"description": "new connections per second"},
                        "requests": COLUMN | {"description": "HTTP requests per second (layer 7)"},
                        "bytes": COLUMN | {"description": "bytes per second, in and out"},
                    },
                },
            },
        },
    }
}
CHART_ENDPOINTS = [
    Endpoint("GET", "/samples", all_services, "Every virtual service's connections, requests and bytes over the last "
             "hour or day (?range=hour|day), sampled by this unit from its engines", ref("Samples")),
    Endpoint("GET", "/samples/{vs}", one_service, "A virtual service's and its real servers' samples (?range=hour|day)",
             ref("Samples")),
]  # fmt: skip
