"""The rules of the unit's own services: its clock (time), where its logs go (logging) and its metrics.

Kept apart from verify.py, which judges the traffic the unit carries; these settings are the unit's
own upkeep, and the same parsers serve the answers file and lbctl, so each says the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from ipaddress import IPv4Interface, ip_address

from .model import HAPROXY_PEERS_PORT, SYSLOG_PORT, SYSLOG_PROTOCOLS, ApplianceConfig, Clock, Logging, Metrics

LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_NAME = re.compile(rf"(?=.{{1,253}}$){LABEL}(\.{LABEL})*")
MAX_NTP_SERVERS = 8
SSH_PORT = 22


class HostSettingError(ValueError):
    """A value the unit's own services cannot take; the message says what would be right."""


def parse_host(text: object, what: str) -> str:
    """A host name or an IP address, as written (chrony and rsyslog resolve names through the DNS)."""
    if not isinstance(text, str) or not text or text != text.strip():
        raise HostSettingError(f"{text!r} is not {what}; write a host name or an address")
    try:
        return str(ip_address(text))
    except ValueError:
        pass
    if HOST_NAME.fullmatch(text) and not text.replace(".", "").isdigit():
        return text
    raise HostSettingError(f"{text!r} is not {what}; write a host name (ntp1.example.net) or an address")


def parse_ntp_servers(value: object) -> list[str]:
    """NTP servers as every path takes them: a list, or one line separated by commas or spaces; "none" or
    empty: no server."""
    items = value if isinstance(value, list) else re.split(r"[\s,]+", str(value or "").strip())
    texts = [str(item).strip() for item in items if str(item).strip()]
    if texts == ["none"]:
        return []
    servers = [parse_host(text, "an NTP server") for text in texts]
    if len(set(servers)) != len(servers):
        raise HostSettingError(f"{', '.join(servers)}: a server is listed twice")
    if len(servers) > MAX_NTP_SERVERS:
        raise HostSettingError(f"{len(servers)} NTP servers; at most {MAX_NTP_SERVERS} (three or four are plenty)")
    return servers


def syslog_endpoint(text: str) -> tuple[str, int]:
    """ "HOST[:PORT]" (an IPv6 address in brackets when a port follows) -> (host, port), 514 by default."""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise HostSettingError(f"{text!r} is not HOST[:PORT]; an IPv6 address with a port is [2001:db8::5]:514")
        port_text = rest[1:]
    elif text.count(":") > 1:  # a bare IPv6 address
        host, port_text = text, ""
    else:
        host, _, port_text = text.partition(":")
    if port_text and not (port_text.isascii() and port_text.isdigit() and 1 <= int(port_text) <= 65535):
        raise HostSettingError(f"{port_text!r} in {text!r} is not a port; use 1-65535")
    return parse_host(host, "a syslog server"), int(port_text) if port_text else SYSLOG_PORT


def check(config: ApplianceConfig) -> Iterator[tuple[str, str]]:
    """(field, message) for each problem of config.time, config.logging and config.metrics."""
    yield from _check_time(config.time)
    yield from _check_logging(config.logging)
    yield from _check_metrics(config)


def _check_time(clock: object) -> Iterator[tuple[str, str]]:
    if not isinstance(clock, Clock):
        yield "time", "expected a mapping with ntp_servers"
        return
    if not isinstance(clock.ntp_servers, list):
        yield "time.ntp_servers", "expected a list of host names or addresses (empty: none)"
        return
    try:
        parse_ntp_servers(clock.ntp_servers)
    except HostSettingError as exc:
        yield "time.ntp_servers", str(exc)


def _check_logging(logging: object) -> Iterator[tuple[str, str]]:
    if not isinstance(logging, Logging):
        yield "logging", "expected a mapping with syslog_server and syslog_protocol"
        return
    if logging.syslog_server is not None:
        try:
            syslog_endpoint(str(logging.syslog_server))
        except HostSettingError as exc:
            yield "logging.syslog_server", str(exc)
    if logging.syslog_protocol not in SYSLOG_PROTOCOLS:
        yield "logging.syslog_protocol", f"{logging.syslog_protocol!r} is not a syslog transport; choose udp or tcp"


def _check_metrics(config: ApplianceConfig) -> Iterator[tuple[str, str]]:
    metrics = config.metrics
    if not isinstance(metrics, Metrics):
        yield "metrics", "expected a mapping with enabled, node_port and haproxy_port"
        return
    if not isinstance(metrics.enabled, bool):
        yield "metrics.enabled", f"{metrics.enabled!r} is not true or false"
    ports = {"node_port": metrics.node_port, "haproxy_port": metrics.haproxy_port}
    for name, port in ports.items():
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            yield f"metrics.{name}", f"{port!r} is not a port; use 1-65535"
        elif port in (SSH_PORT, HAPROXY_PEERS_PORT):
            what = "SSH" if port == SSH_PORT else "HAProxy peers"
            yield f"metrics.{name}", f"{port} is the unit's own {what} port; choose another"
    if metrics.node_port == metrics.haproxy_port:
        yield "metrics.haproxy_port", f"{metrics.haproxy_port} is the node exporter's port too; give each its own"


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
