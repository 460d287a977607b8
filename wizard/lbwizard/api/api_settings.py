"""Whether and where this server serves (appliance.yaml `api`, lbctl api show|on|off|port): a change like any
other. lbwizard-api.service follows it once the change is saved: this server answers the change, then starts
again on the new port, or stops."""

from __future__ import annotations

from starlette.responses import Response

from .call import Call, Endpoint, ref
from .problems import bad_input


async def get_settings(call: Call) -> Response:
    return await call.lbctl_read(["api", "show"])


async def set_settings(call: Call) -> Response:
    """On or off, or the port: one of them per change, as lbctl makes them."""
    body = await call.json()
    if unknown := [key for key in body if key not in ("enabled", "port")]:
        raise bad_input([(key[:40], "not a setting taken here; these are: enabled, port") for key in unknown])
    if len(body) != 1:
        raise bad_input([("body", "give enabled or port: one change, one lbctl command")])
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise bad_input([("enabled", "expected true or false")])
        return await call.change(["api", "on" if body["enabled"] else "off"])
    port = body["port"]
    if isinstance(port, bool) or not isinstance(port, int):
        raise bad_input([("port", "expected a port number, 1-65535")])
    return await call.change(["api", "port", "--", str(port)])


API_SETTINGS_SCHEMAS = {
    "ApiSettingsChange": {
        "type": "object",
        "description": "one of them per change",
        "properties": {
            "enabled": {"type": "boolean", "description": "false: this server stops once it answered (SSH stays)"},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
        },
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": False,
    }
}
API_SETTINGS_ENDPOINTS = [
    Endpoint("GET", "/listen", get_settings, "Whether and where the API serves: its port and this unit's own "
             "addresses (lbctl api show)", {"type": "object"}),
    Endpoint("PUT", "/listen", set_settings, "Turn the API on or off, or move it to another port (lbctl api "
             "on|off|port); the server answers, then follows", ref("ChangeResult"), change=True, body="ApiSettingsChange"),
]  # fmt: skip
