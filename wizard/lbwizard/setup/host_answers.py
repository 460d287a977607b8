"""The answers file's keys for the unit's own services, which the console wizard does not ask (lbctl time,
logging and metrics change them later): ntp_servers, syslog_server, syslog_protocol, metrics.

A key that is absent leaves the setting as it is (the saved config's, on setup run again); the same
parsers as lbctl and verify judge each value, so every path says the same thing about it.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..config.addressing import parse_yes_no
from ..config.model import SYSLOG_PROTOCOLS, ApplianceConfig
from ..config.verify_host import HostSettingError, parse_ntp_servers, syslog_endpoint

HOST_SETTINGS = ("ntp_servers", "syslog_server", "syslog_protocol", "metrics")


def _syslog_server(value: object) -> str | None:
    text = "" if value is None else str(value).strip()
    if text in ("", "none"):
        return None
    syslog_endpoint(text)
    return text


def _syslog_protocol(value: object) -> str:
    text = str(value).strip().lower()
    if text not in SYSLOG_PROTOCOLS:
        raise HostSettingError(f"{value!r} is not a syslog transport; choose udp or tcp")
    return text


PARSERS = {
    "ntp_servers": parse_ntp_servers,
    "syslog_server": _syslog_server,
    "syslog_protocol": _syslog_protocol,
    "metrics": lambda value: value if isinstance(value, bool) else parse_yes_no(value),
}


def host_setting_problems(given: Mapping[str, object]) -> list[tuple[str, str]]:
    """(key, message) for each of the given host settings that cannot be taken."""
    problems = []
    for key, value in given.items():
        try:
            PARSERS[key](value)
        except ValueError as exc:
            problems.append((key, str(exc)))
    return problems


def set_host_settings(config: ApplianceConfig, given: Mapping[str, object]) -> None:
    """Put the given host settings (already judged by host_setting_problems) into config."""
    value = {key: PARSERS[key](raw) for key, raw in given.items()}
    if "ntp_servers" in value:
        config.time.ntp_servers = value["ntp_servers"]
    if "syslog_server" in value:
        config.logging.syslog_server = value["syslog_server"]
    if "syslog_protocol" in value:
        config.logging.syslog_protocol = value["syslog_protocol"]
    if "metrics" in value:
        config.metrics.enabled = value["metrics"]
