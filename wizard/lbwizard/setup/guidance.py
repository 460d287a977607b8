"""What the admin does next, by forwarding method: the wizard's last screen and the answers run's output.

The quick start ends with real-server work (a default gateway for NAT, the ARP problem for DR) and a
test from two clients; saying it at the moment of success saves a trip to the manual.
"""

from __future__ import annotations

from ..config.model import ApplianceConfig, VirtualService, management_networks
from ..render import realserver


def _nat_gateway(config: ApplianceConfig) -> str:
    if config.ha and config.ha.floating.internal:
        return f"{config.ha.floating.internal} (the internal floating IP)"
    internal = config.internal_interface()
    return f"{internal[1].address.partition('/')[0]} ({internal[0]})" if internal else "the load balancer"


def _service_steps(config: ApplianceConfig, service: VirtualService) -> list[str]:
    servers = ", ".join(s.address for s in service.real_servers) or "each real server"
    if service.forwarding == "nat":
        return [f"On each real server ({servers}) set the default gateway to {_nat_gateway(config)}."]
    if service.forwarding == "dr":
        if service.address in realserver.own_addresses(config):  # holding it, a server would drop our checks
            arp = (
                f"redirect {service.address} to the server itself (iptables -t nat -A PREROUTING -d "
                f"{service.address}/32 -j REDIRECT): it is this unit's own address, the source of its health checks, "
                "so the server must not hold it (Linux)"
            )
        else:
            arp = (
                f"add {service.address}/32 to the loopback interface and set net.ipv4.conf.all.arp_ignore=1, "
                "arp_announce=2 (Linux)"
            )
        windows = (
            "Windows cannot hold or redirect it: give the service an address of its own for Windows servers"
            if service.address in realserver.own_addresses(config)
            else "or, on Windows, the VIP on a loopback adapter with weak host send/receive and the firewall open"
        )
        return [
            f"On each real server ({servers}) solve the ARP problem: {arp}; {windows}.",
            f"Each server's application must answer on {service.address}:{service.port} as well as its own address.",
        ]
    if service.forwarding == "tun":
        if service.address in realserver.own_addresses(config):  # holding it, a server would drop our packets
            vip = f"DNAT {service.address} arriving on tunl0 to the server's own address (it is this unit's address)"
        else:
            vip = f"add {service.address}/32 to tunl0"
        return [
            f"On each real server ({servers}) load ipip, {vip}, bring tunl0 up and set "
            "rp_filter=0 on tunl0 and all, so it accepts the tunnelled packets and replies directly.",
        ]
    if service.transparent:
        gateways = sorted({realserver.return_gateway(config, s.address) or "this unit" for s in service.real_servers})
        return [
            f"On each real server ({servers}) set the default gateway to {' or '.join(gateways)} (this unit, on its "
            "subnet): with transparency the servers see and answer the clients' own addresses.",
        ]
    if not service.subnet_originating:
        return [
            f"Each real server ({servers}) must route {service.address}, the source of the proxied connections, "
            "through this unit."
        ]
    steps = [f"Nothing to change on the real servers ({servers}): the load balancer proxies the connections."]
    if service.persistence and service.persistence.mode == "ssl-session-id":
        steps.append(
            f"{service.name}'s ssl-session-id persistence keys on the TLS session ID, which TLS 1.3 clients make new "
            "on every connection (they resume with tickets): those clients rarely stick. Prefer source-ip, or "
            "terminate TLS here (tls: yes) with active-cookie."
        )
    return steps


def _web_console(config: ApplianceConfig) -> str | None:
    """Reference 003 hands the unit over from the console to its web interface: say where it is, on this unit's
    own first address (the floating ones move to the peer), from the management networks."""
    if not config.api.enabled or not config.interfaces:
        return None
    address = next(iter(config.interfaces.values())).address.partition("/")[0]
    return (
        f"Manage this unit from a browser at https://{address}:{config.api.port}/ (log in as root; it shows the "
        "unit's own self-signed certificate, made at first boot), or script it through the same address's HTTPS API "
        "(/api/v1, a token from `lbctl api token add NAME`)."
    )


def next_steps(config: ApplianceConfig) -> list[str]:
    """The sentences of the final screen, in the order the admin should act."""
    steps: list[str] = []
    for service in config.virtual_services:
        steps.extend(_service_steps(config, service))
    names = [host.file for host in realserver.hosts(config)]
    if names:
        steps.append(
            f"Scripts that do this are in {realserver.SCRIPT_DIR}: copy FILE.sh (Linux), FILE.ps1 (Windows Server 2012 "
            "and later) or FILE-2003.cmd (Windows Server 2003) to each server and run it as root/administrator; "
            f"--undo (-Undo, undo) reverts. FILE (the server's name and address): {', '.join(names)}."
        )
    if config.ha:
        other = "backup" if config.ha.role == "master" else "master"
        steps.append(f"Set up the {other} unit (peer {config.ha.peer}) with the same floating addresses.")
        steps.append(
            "Keep the HA link trusted: VRRPv3 has no authentication, so anyone on that network could take the "
            f"floating addresses. This unit accepts VRRP, connection sync and HAProxy's peers from {config.ha.peer} only."
        )
    steps.append(
        f"SSH and management are open from {', '.join(management_networks(config))} only; everything but the "
        "services' ports is dropped, IPv4 and IPv6. Change it with `lbctl access networks` and `lbctl access allow`."
    )
    if console := _web_console(config):
        steps.append(console)
    for service in config.virtual_services[:1]:
        steps.append(
            f"Test from two clients on the external network: connect to {service.address}:{service.port}; "
            "both must be served. `ipvsadm -Ln` here counts their connections (layer 4)."
        )
    return steps
