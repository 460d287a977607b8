"""lbctl time, logging and metrics: the unit's own services (issue 18), each a change like any other
(a new version, verified, applied and handed over to chrony, rsyslog and the exporters' roles)."""

from __future__ import annotations

import argparse
import copy
import dataclasses
from collections.abc import Callable

from ..config import verify_host
from ..config.declare import spec_of
from ..config.kinds import KindError
from ..config.model import ApplianceConfig, Metrics
from ..render.host_services import LOOPBACK
from .changes import EXIT_OK


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    time = commands.add_parser("time", help="the NTP servers this unit's clock follows (chrony)")
    time_actions = time.add_subparsers(dest="action", metavar="ACTION", required=True)
    time_actions.add_parser("show", parents=[common], help="the NTP servers")
    servers = time_actions.add_parser("servers", parents=[common], help="follow these NTP servers")
    servers.add_argument("servers", nargs="+", metavar="SERVER", help='host names or addresses, or "none"')

    logging = commands.add_parser("logging", help="where the unit's logs go beside its own journal (remote syslog)")
    log_actions = logging.add_subparsers(dest="action", metavar="ACTION", required=True)
    log_actions.add_parser("show", parents=[common], help="the syslog server")
    server = log_actions.add_parser("server", parents=[common], help="forward the journal to a syslog server")
    server.add_argument("server", metavar="HOST[:PORT]", help='514 unless given; "none": the logs stay here')
    server.add_argument("--protocol", choices=("udp", "tcp"), help="udp (default), or tcp: it queues while the server is away")

    metrics = commands.add_parser("metrics", help="the Prometheus endpoints (management networks only)")
    metric_actions = metrics.add_subparsers(dest="action", metavar="ACTION", required=True)
    metric_actions.add_parser("show", parents=[common], help="where the endpoints listen")
    for action, text in (("on", "serve the metrics on this unit's own addresses"), ("off", "on loopback only")):
        metric_actions.add_parser(action, parents=[common], help=text)
    ports = metric_actions.add_parser("ports", parents=[common], help="the endpoints' ports")
    # the text as typed, read by the settings' own kind (argparse's int() takes 0443, +9100 and Unicode digits)
    ports.add_argument("--node", help="the node exporter's port (IPVS, VRRP, the system)")
    ports.add_argument("--haproxy", help="HAProxy's exporter's port (layer 7)")


def changed_copy(edit: Callable[[ApplianceConfig], None]) -> Callable[[ApplianceConfig], ApplianceConfig]:
    """A change for ctl.commit: edit applied to a copy of the current config (the one lbctl's settings commands share)."""

    def make(current: ApplianceConfig) -> ApplianceConfig:
        changed = copy.deepcopy(current)
        edit(changed)
        return changed

    return make


def cmd_time(ctl, args: argparse.Namespace) -> int:
    if args.action == "show":
        servers = ctl.config().time.ntp_servers
        return ctl.out("\n".join(servers) or "no NTP server: the clock runs free", {"ntp_servers": servers}) or EXIT_OK
    try:
        servers = verify_host.parse_ntp_servers(args.servers)
    except verify_host.HostSettingError as exc:
        return ctl.problems([("servers", str(exc))])
    what = f"NTP servers are now {', '.join(servers)}" if servers else "no NTP server now"
    return ctl.commit(changed_copy(lambda config: setattr(config.time, "ntp_servers", servers)), what)


def cmd_logging(ctl, args: argparse.Namespace) -> int:
    if args.action == "show":
        logging = ctl.config().logging
        text = f"{logging.syslog_server} ({logging.syslog_protocol})" if logging.syslog_server else "no syslog server"
        return ctl.out(f"syslog server: {text}", dataclasses.asdict(logging)) or EXIT_OK
    server = None if args.server == "none" else args.server
    if server is not None:
        try:
            verify_host.syslog_endpoint(server)
        except verify_host.HostSettingError as exc:
            return ctl.problems([("server", str(exc))])

    def edit(config: ApplianceConfig) -> None:
        config.logging.syslog_server = server
        if args.protocol:
            config.logging.syslog_protocol = args.protocol

    what = f"the journal now goes to {server}" if server else "the logs now stay on this unit"
    return ctl.commit(changed_copy(edit), what)


def cmd_metrics(ctl, args: argparse.Namespace) -> int:
    if args.action == "show":
        config = ctl.config()
        metrics = config.metrics
        addresses = verify_host.own_addresses(config) if metrics.enabled else [LOOPBACK]
        lines = [f"node exporter:      http://{a}:{metrics.node_port}/metrics" for a in addresses]
        lines += [f"HAProxy's exporter: http://{a}:{metrics.haproxy_port}/metrics" for a in addresses if metrics.enabled]
        if not metrics.enabled:
            lines.append("the metrics are off: the node exporter answers on loopback only (lbctl metrics on)")
        return ctl.out("\n".join(lines), dataclasses.asdict(metrics) | {"addresses": addresses}) or EXIT_OK
    if args.action in ("on", "off"):
        enabled = args.action == "on"
        return ctl.commit(changed_copy(lambda config: setattr(config.metrics, "enabled", enabled)), f"metrics are {args.action}")

    ports, problems = {}, []
    for name, text in (("node_port", args.node), ("haproxy_port", args.haproxy)):
        try:
            if text is not None:
                ports[name] = spec_of(Metrics, name).kind.parse(text)
        except KindError as exc:
            problems.append((f"metrics.{name}", str(exc)))
    if problems:
        return ctl.problems(problems)

    def edit(config: ApplianceConfig) -> None:
        for name, port in ports.items():
            setattr(config.metrics, name, port)

    return ctl.commit(changed_copy(edit), "changed the metrics ports")
