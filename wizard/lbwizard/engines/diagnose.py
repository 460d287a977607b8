"""The reference's diagnosis steps, done for the admin: each finding says what is wrong, how to fix it,
and the command that proves it.

"Connection error diagnosis": is the VIP on this unit (else HA state); is at least one real server
active (else the health check diagnosis: which check fails and why); are connections stuck in
SYN_RECV (a NAT server's gateway is not the load balancer, a DR server does not take the VIP). The
return-path probe finds the NAT gateway mistake even before a client has tried: a connection to the
server from the load balancer's external address only completes if the server answers via the
load balancer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..config.addressing import bracketed
from ..config.model import ApplianceConfig, RealServer, VirtualService
from ..render.realserver import nat_gateway
from ..render.rolevars import external_address
from .access import Engines
from .errors import NotAsked
from .status import ServiceStatus, collect


@dataclass
class Finding:
    severity: str  # problem | note | ok
    subject: str  # "VIP1" or "VIP1/RIP1"
    what: str
    fix: str = ""
    proof: str = ""  # a command the admin can run to see it for themselves
    evidence: str = ""  # what this run saw


def _would(subject: str, exc: NotAsked, proof: str = "") -> Finding:
    """What a live run would have checked here (a dry run asks no engine and sends nothing)."""
    return Finding("note", subject, f"not checked (dry run): would {exc.what}", proof=proof)


def _vip_findings(config: ApplianceConfig, service: VirtualService, status: ServiceStatus, engines: Engines) -> list[Finding]:
    proof = f"ip -4 -br addr | grep -w {service.address}"
    if status.vip_here is None:
        return [_would(service.name, NotAsked(f"look for the VIP {service.address} on this unit"), proof)]
    if status.vip_here:
        return [Finding("ok", service.name, f"the VIP {service.address} is up on this unit ({status.unit})", proof=proof)]
    if config.ha is not None:
        try:
            down = engines.links_down(list(config.interfaces))
        except NotAsked as exc:
            return [_would(service.name, exc)]
        if down:
            return [
                Finding(
                    "problem",
                    service.name,
                    f"the VIP {service.address} is not on this unit because {', '.join(down)} has no link: keepalived "
                    "tracks every interface, so this unit is in FAULT and leaves the VIP to its peer",
                    fix=f"check the cable and the switch port of {', '.join(down)}",
                    proof=f"ip -br link show {down[0]}",
                )
            ]
        return [
            Finding(
                "note",
                service.name,
                f"the VIP {service.address} is not on this unit: it is the BACKUP of the pair, so the peer "
                f"{config.ha.peer} should hold it",
                fix=f"run `lbctl diagnose` on {config.ha.peer}; if neither unit has the VIP, check keepalived on both "
                "(journalctl -u keepalived) and the link between them",
                proof=proof,
            )
        ]
    return [
        Finding(
            "problem",
            service.name,
            f"the VIP {service.address} is not on any interface of this unit",
            fix="`lbwizard apply` puts the configured addresses back; check `ip link` for a link that is down",
            proof=proof,
        )
    ]


def _engine_findings(service: VirtualService, status: ServiceStatus) -> list[Finding]:
    if status.engine.endswith(("not running or not reachable", "no such service")):
        daemon = "haproxy" if service.layer == 7 else "keepalived"
        return [
            Finding(
                "problem",
                service.name,
                f"{status.engine}: the engine does not serve this service",
                fix=f"systemctl restart {daemon}; its log says why it stopped: journalctl -u {daemon} -n 50",
                proof="echo 'show stat' | socat - /run/haproxy/admin.sock" if daemon == "haproxy" else "ipvsadm -Ln",
            )
        ]
    return []


def _health_findings(service: VirtualService, status: ServiceStatus, engines: Engines) -> list[Finding]:
    findings = []
    by_name = {s.name: s for s in status.servers}
    for server in service.real_servers:
        seen = by_name[server.name]
        if server.state != "online" or seen.actual != "down":
            continue
        probe = engines.tcp_probe(server.address, server.port)
        check = service.health_check
        what = f"{check.type} check of {server.address}:{server.port}" + (f" GET {check.path}" if check.path else "")
        findings.append(
            Finding(
                "problem",
                f"{service.name}/{server.name}",
                f"requested online but not active: it fails its health check ({seen.check or what})",
                fix=(
                    f"start the service on {server.address} port {server.port}, or open that port in its firewall"
                    if probe
                    else f"the port answers, so the check itself fails: make {what} succeed"
                    + (f" with status {check.expect or 200}" if check.type in ("http", "https") else "")
                ),
                proof=f"nc -zv -w 2 {server.address} {server.port}",
                evidence=f"connect from this unit: {probe or 'works'}",
            )
        )
    online = [s for s in status.servers if s.requested == "online"]
    if status.servers and not any(s.actual in ("up", "unknown") for s in status.servers):
        findings.append(
            Finding(
                "problem",
                service.name,
                "no real server is active: clients get connection errors"
                + ("" if online else " (none is requested online: lbctl rs online)"),
                fix="see the findings for each server above",
                proof="lbctl status",
            )
        )
    return findings


def _return_path_findings(config: ApplianceConfig, service: VirtualService, engines: Engines) -> list[Finding]:
    """NAT: a server must answer clients through the load balancer; probe it from the external address."""
    source = external_address(config)
    if service.layer != 4 or service.forwarding != "nat" or source is None:
        return []
    findings = []
    gateway = nat_gateway(config)
    for server in _online(service):
        try:
            if engines.tcp_probe(server.address, server.port) is not None:
                continue  # not reachable at all: the health findings say so
            failure = engines.tcp_probe(server.address, server.port, source=source)
        except NotAsked as exc:
            findings.append(_would(f"{service.name}/{server.name}", exc))
            continue
        if failure is None:
            continue
        findings.append(
            Finding(
                "problem",
                f"{service.name}/{server.name}",
                f"the real server's default gateway is not the load balancer: it answers {source} ({failure}) "
                "only when asked from its own subnet, so NAT replies to clients never come back",
                fix=f"on {server.address}, set the default gateway to {gateway} (`lbctl realserver-script {server.name} "
                "--os linux` prints the commands)",
                proof=f"curl -s -o /dev/null --interface {source} -m 2 http://{server.address}:{server.port}/ ; echo $?",
                evidence=f"from {source}: {failure}; from the internal address: connected",
            )
        )
    return findings


def _syn_recv_findings(config: ApplianceConfig, service: VirtualService, engines: Engines) -> list[Finding]:
    if service.layer != 4:
        return []
    try:
        connections = engines.ipvs_connections()
    except NotAsked as exc:
        return [_would(service.name, exc)]
    vip = f"{bracketed(service.address)}:"  # ipvsadm writes [2001:db8::100]:80
    stuck = [c for c in connections if c["state"] == "SYN_RECV" and c["vip"].startswith(vip)]
    if not stuck:
        return []
    servers = sorted({c["destination"] for c in stuck})
    if service.forwarding == "nat":
        why = "the real server's default gateway is not the load balancer, so its replies bypass it"
        fix = f"set the servers' default gateway to {nat_gateway(config)}"
    else:
        why = "the real server does not accept traffic for the VIP (or answers ARP for it)"
        fix = "run the real-server script on each server: lbctl realserver-script NAME --os linux|windows"
    return [
        Finding(
            "problem",
            service.name,
            f"{len(stuck)} connection(s) stuck in SYN_RECV to {', '.join(servers)}: {why}",
            fix=fix,
            proof=f"ipvsadm -Lnc | grep SYN_RECV | grep {service.address}",
        )
    ]


def _arp_findings(config: ApplianceConfig, service: VirtualService, engines: Engines) -> list[Finding]:
    """DR: nobody but the load balancer may answer ARP for the VIP (a real server that does steals it)."""
    external = config.external_interface()
    if service.layer != 4 or service.forwarding != "dr" or external is None or ":" in service.address:
        return []  # IPv6 has no ARP: a server's neighbour advertisements for the VIP are not probed here
    try:
        macs = engines.answering_macs(external[0], service.address)
    except NotAsked as exc:
        return [_would(service.name, exc)]
    except OSError as exc:
        return [Finding("note", service.name, f"could not probe ARP for the VIP on {external[0]}: {exc}")]
    if not macs:
        return []
    # name the culprit: the same probe for each real server's own address gives its MAC (a server with the
    # VIP on its NIC ignores ordinary requests sent from the VIP, so the neighbour table cannot tell)
    owners = {mac: s for s in service.real_servers for mac in engines.answering_macs(external[0], s.address, wait=0.4)}
    who = ", ".join(f"{mac} ({owners[mac].name} {owners[mac].address})" if mac in owners else mac for mac in sorted(macs))
    return [
        Finding(
            "problem",
            service.name,
            f"another host answers ARP for the VIP {service.address}: {who}; clients can reach it directly, "
            "past the load balancer (the DR ARP problem)",
            fix="on that real server, run its setup script (the VIP on lo with arp_ignore=1 and arp_announce=2): "
            "lbctl realserver-script NAME --os linux|windows",
            proof=f"arping -D -c 2 -I {external[0]} {service.address}",
            evidence=f"answers to a duplicate-address probe from {', '.join(sorted(macs))}",
        )
    ]


def _online(service: VirtualService) -> list[RealServer]:
    return [s for s in service.real_servers if s.state == "online"]


def clock_findings(config: ApplianceConfig, engines: Engines) -> list[Finding]:
    """Is the clock right? Logs, certificates and the pair's history lean on it."""
    proof = "chronyc tracking; chronyc sources"
    try:
        state = engines.clock_state()
    except NotAsked as exc:
        return [_would("clock", exc, proof)]
    if state.synchronised:
        return [Finding("ok", "clock", f"synchronised to {state.source} (offset {state.offset:+.6f} s)", proof=proof)]
    servers = config.time.ntp_servers
    if not servers:
        return [Finding("note", "clock", "not synchronised: no NTP server is configured", fix="lbctl time servers ADDRESS ...")]
    return [
        Finding(
            "problem",
            "clock",
            f"not synchronised: chrony has not reached {', '.join(servers)}" + (f" ({state.error})" if state.error else ""),
            fix="check that the servers answer NTP (udp/123) from this unit, its route to them and, for names, its DNS",
            proof=proof,
        )
    ]


def run(config: ApplianceConfig, engines: Engines) -> list[Finding]:
    findings: list[Finding] = clock_findings(config, engines)
    for service, status in zip(config.virtual_services, collect(config, engines), strict=True):
        findings += _vip_findings(config, service, status, engines)
        findings += _engine_findings(service, status)
        findings += _health_findings(service, status, engines)
        findings += _return_path_findings(config, service, engines)
        findings += _syn_recv_findings(config, service, engines)
        findings += _arp_findings(config, service, engines)
    return findings


def as_text(findings: list[Finding]) -> str:
    lines = []
    for finding in findings:
        mark = {"problem": "PROBLEM", "note": "note", "ok": "ok"}[finding.severity]
        lines.append(f"[{mark}] {finding.subject}: {finding.what}")
        if finding.evidence:
            lines.append(f"    seen: {finding.evidence}")
        if finding.fix:
            lines.append(f"    fix: {finding.fix}")
        if finding.proof and finding.severity != "ok":
            lines.append(f"    check: {finding.proof}")
    problems = sum(f.severity == "problem" for f in findings)
    lines.append(f"{problems} problem(s) found." if problems else "No problem found.")
    return "\n".join(lines)


def as_json(findings: list[Finding]) -> list[dict]:
    return [asdict(f) for f in findings]
