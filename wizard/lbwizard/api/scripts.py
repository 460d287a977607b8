"""A real server's setup script (lbctl realserver-script, run as every read of a command is): the ARP, VIP and
gateway setup its forwarding method needs on the server, for Linux, Windows (2012 and later) or Windows
Server 2003, to download from the console beside the server."""

from __future__ import annotations

from starlette.responses import Response

from . import reads
from .call import Call, Endpoint, ref
from .problems import bad_input

SYSTEMS = ("linux", "windows", "windows-2003")


async def script(call: Call) -> Response:
    system = call.request.query_params.get("os", "linux")
    if system not in SYSTEMS:
        raise bad_input([("os", f"{system[:20]!r} is not one of {', '.join(SYSTEMS)}")])
    config, _ = await call.configuration()
    server = reads.server(config, call.param("vs"), call.param("rs"))
    undo = ["--undo"] if call.request.query_params.get("undo") in ("yes", "true") else []
    return await call.lbctl_read(["realserver-script", f"--os={system}", *undo, "--", server.address])


SCRIPT_SCHEMAS = {
    "RealServerScript": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "address": {"type": "string"},
            "file": {"type": "string", "description": "the script's file name, without its extension"},
            "os": {"enum": list(SYSTEMS)},
            "undo": {"type": "boolean"},
            "script": {"type": "string"},
        },
    }
}
SCRIPT_ENDPOINTS = [
    Endpoint("GET", "/virtual-services/{vs}/real-servers/{rs}/script", script, "The real server's setup script "
             "(lbctl realserver-script; ?os=linux|windows|windows-2003, ?undo=yes)", ref("RealServerScript")),
]  # fmt: skip
