"""The rules of the unit's own services: its clock (time), where its logs go (logging) and its metrics.

Kept apart from verify.py, which judges the traffic the unit carries; these settings are the unit's
own upkeep, and the same parsers serve the answers file and lbctl, so each says the same thing.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Interface

from .declare import spec_of
from .kinds import Host, KindError, split_port
from .model import HAPROXY_PEERS_PORT, SYSLOG_PORT, Api, ApplianceConfig, Clock, Logging, Metrics

SSH_PORT = 22
NTP_SERVERS = spec_of(Clock, "ntp_servers").kind
SYSLOG_SERVER = spec_of(Logging, "syslog_server").kind


class HostSettingError(ValueError):
    """A value the unit's own services cannot take; the message says what would be right."""


def parse_ntp_servers(value: object) -> list[str]:
    """NTP servers as every path takes them: a list, or one line separated by commas or spaces; "none" or
    empty: no server."""
    if value in (None, "", "none", ["none"]):
        return []
    try:
        return NTP_SERVERS.parse(value)
    except KindError as exc:
        raise HostSettingError(str(exc)) from None


def syslog_endpoint(text: str) -> tuple[str, int]:
    """ "HOST[:PORT]" (an IPv6 address in brackets when a port follows) -> (host, port), 514 by default."""
    try:
        SYSLOG_SERVER.parse(text)
    except KindError as exc:
        raise HostSettingError(str(exc)) from None
    host, port = split_port(text, "a syslog server")
    return Host().parse(host), int(port) if port else SYSLOG_PORT


def check(config: ApplianceConfig) -> Iterator[tuple[str, str]]:
    """(field, message) for each problem of config.metrics and config.api that their values' kinds cannot see alone."""
    metrics = config.metrics
    for name in ("node_port", "haproxy_port"):
        port = getattr(metrics, name)
        if port in (SSH_PORT, HAPROXY_PEERS_PORT):
            what = "SSH" if port == SSH_PORT else "HAProxy peers"
            yield f"metrics.{name}", f"{port} is the unit's own {what} port; choose another"
    if metrics.node_port == metrics.haproxy_port:
        yield "metrics.haproxy_port", f"{metrics.haproxy_port} is the node exporter's port too; give each its own"
    api = config.api
    if api.enabled and api.port in (SSH_PORT, HAPROXY_PEERS_PORT):
        what = "SSH" if api.port == SSH_PORT else "HAProxy peers"
        yield "api.port", f"{api.port} is the unit's own {what} port; choose another"
    elif api.enabled and (taken := metrics_ports(config).get(api.port)):
        yield "api.port", f"{api.port} is {taken} too; give each its own"


def own_addresses(config: ApplianceConfig) -> list[str]:
    """This unit's own addresses (never the floating ones): where its management services listen."""
    found = []
    for interface in config.interfaces.values():
        try:
            found.append(str(IPv4Interface(interface.address).ip))
        except ValueError:
            continue
    return found


def metrics_ports(config: ApplianceConfig) -> dict[int, str]:
    """The TCP ports the unit's own exporters take on its own addresses (none while metrics are off)."""
    metrics = config.metrics
    if not isinstance(metrics, Metrics) or metrics.enabled is not True:
        return {}
    return {
        metrics.node_port: "the node exporter's metrics (metrics.node_port)",
        metrics.haproxy_port: "HAProxy's metrics (metrics.haproxy_port)",
    }


def api_ports(config: ApplianceConfig) -> dict[int, str]:
    """The TCP port the HTTPS API takes on the unit's own addresses (none while it is off)."""
    api = config.api
    if not isinstance(api, Api) or api.enabled is not True:
        return {}
    return {api.port: "the HTTPS API and web console (api.port)"}


def management_ports(config: ApplianceConfig) -> dict[int, str]:
    """Every TCP port the unit's own management services take on its own addresses besides SSH: the exporters
    and the API. The firewall opens them to the management networks; no virtual service may take them there."""
    return metrics_ports(config) | api_ports(config)
