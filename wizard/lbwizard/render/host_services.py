"""The unit's own services in their roles' variables: chrony (time), rsyslog (logs leaving the unit),
prometheus-node-exporter and HAProxy's exporter (metrics).

The exporters listen on this unit's own addresses (the floating ones move; a scrape asks one unit), and
on loopback only while the appliance's metrics are off, so they never face a network the admin did not
open; the firewall lets the management networks in (apply/firewall.py).
"""

from __future__ import annotations

from ..config.model import ApplianceConfig
from ..config.verify_host import own_addresses, parse_ntp_servers, syslog_endpoint

LOOPBACK = "127.0.0.1"
# where keepalived's notify keeps lbwizard_vrrp_state for the node exporter's textfile collector
METRICS_TEXTFILE_DIR = "/run/lbwizard/metrics"


def chrony_vars(config: ApplianceConfig) -> dict:
    return {"chrony_servers": parse_ntp_servers(config.time.ntp_servers)}


def rsyslog_vars(config: ApplianceConfig) -> dict:
    server = None
    if config.logging.syslog_server:
        host, port = syslog_endpoint(config.logging.syslog_server)
        server = {"host": host, "port": port, "protocol": config.logging.syslog_protocol}
    return {"rsyslog_server": server}


def metrics_vars(config: ApplianceConfig) -> dict:
    metrics = config.metrics
    addresses = own_addresses(config) if metrics.enabled else []
    return {
        "node_exporter_listen": [f"{address}:{metrics.node_port}" for address in addresses or [LOOPBACK]],
        "node_exporter_textfile_dir": METRICS_TEXTFILE_DIR,
        "haproxy_metrics": {"addresses": addresses, "port": metrics.haproxy_port} if addresses else None,
    }


def host_service_vars(config: ApplianceConfig) -> dict:
    """Every variable of the chrony, rsyslog and node_exporter roles, and the haproxy role's exporter."""
    return chrony_vars(config) | rsyslog_vars(config) | metrics_vars(config)
