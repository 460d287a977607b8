"""The real-server side of each forwarding method, as scripts the admin runs on each real server.

One script per real server host (it may serve several VIPs), for Linux (FILE.sh) and Windows
(FILE.ps1, FILE-2003.cmd), FILE being NAME-ADDRESS (HostSetup.file: one per address, never shared).
Both are idempotent (a second run changes nothing) and reversible (`--undo` / `-Undo`): the first run
saves what it changes under /var/lib/lbwizard-realserver (Linux) or %ProgramData%\\lbwizard (Windows)
and undo puts it back.

- NAT: the default gateway must be the load balancer's internal (floating) address.
- DR: the server must accept packets for the VIP without answering ARP for it ("the ARP problem"):
  the VIP on lo as /32 with arp_ignore=1 and arp_announce=2, or, with --redirect, an iptables
  REDIRECT of the VIP to the server itself (the VIP is then never configured, so never announced).
  A VIP that is also the load balancer's own address (a single unit's VIP) is always REDIRECTed: it
  is the source of the health checks, which a server holding it would drop as martians.
  Windows: the VIP on the Microsoft loopback adapter with weak host receive/send (NAME.ps1, Windows
  Server 2012 and later: the NetTCPIP and NetSecurity cmdlets), or with interface metric 254, which
  keeps the adapter from answering ARP (NAME-2003.cmd, Windows Server 2003 and XP: 003's steps, by
  wmic and netsh). Both open the Windows firewall for the VIPs' ports, which it blocks on the loopback
  adapter (003). Windows 2008 and 2008 R2 are covered by neither (no NetTCPIP cmdlets; 003's manual
  steps). A VIP that is the load balancer's own address is refused on Windows: it has no REDIRECT,
  and a server holding it would drop the health checks that come from it.
- TUN: the VIP on tunl0 (ipip), rp_filter off so the decapsulated packets are accepted. A VIP that is
  also the load balancer's own address (a single unit's VIP) is never held by the server: the
  tunnelled packets and the health checks come from that address, and Linux drops packets whose
  source is one of its own addresses ("martian source"). Such a VIP is DNATed on tunl0 to the
  server's own address instead, and the replies leave with the VIP as source all the same.
- IPv6 (an IPv6 server's VIPs are IPv6: IPVS forwards in one family): DR holds the VIP on lo as a /128 and
  needs no ARP settings, as Linux answers a neighbour solicitation only for an address of the interface it
  came in on (ndisc_recv_ns looks the target up on that device alone); --redirect and the load balancer's
  own address use ip6tables' REDIRECT. TUN is IPv6-in-IPv6 (IPVS's ip6ip6): the VIP on ip6tnl0, the
  ip6_tunnel module's fallback device, which takes tunnelled packets from any sender. NAT: the IPv6 default
  gateway. Windows 2012 and later as in IPv4 (the loopback adapter's /128, weak host, the firewall); the
  2003 script refuses IPv6 (its wmic and metric steps are IPv4's).
- Layer 7 (snat): nothing; the load balancer proxies. Transparent layer 7 is the exception: the
  server answers the client's own address, so like NAT its default gateway must be the load balancer
  (its address, floating in a pair, on the server's subnet).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Interface, IPv6Interface, ip_address

from ..config.addressing import endpoint_text, port_ranges, service_ports
from ..config.model import ApplianceConfig, own_interfaces
from . import quoting

SCRIPT_DIR = "/etc/lbwizard/realservers"
# In the first lines of every script written here (each template's header): how a change tells the files it
# wrote from the admin's own notes and tools in the same folder, which it never touches.
MARKER = b"managed by lbwizard: setup of real server"


def written_by_lbwizard(head: bytes) -> bool:
    """Whether a file starting with head is a real-server script lbwizard wrote."""
    return MARKER in head[:512]


def _family(address: str) -> int:
    """4 or 6, by the text alone: a value verify did not judge (the second wall's) is still written, or refused."""
    return 6 if ":" in address else 4


def _canonical(address: str) -> str:
    try:
        return str(ip_address(address))
    except ValueError:  # verify refuses it; the scripts are rendered for what is there
        return address


@dataclass
class HostSetup:
    """What one real server host needs, gathered from every service it serves."""

    name: str  # its first real server's name, in the order of the services
    address: str
    names: list[str] = field(default_factory=list)  # every real server's name at this address
    dr_vips: list[str] = field(default_factory=list)
    dr_own_vips: list[str] = field(default_factory=list)  # the load balancer's own address: REDIRECT, not held
    tun_vips: list[str] = field(default_factory=list)
    tun_own_vips: list[str] = field(default_factory=list)  # the load balancer's own address: DNAT, not held
    nat_gateway: str | None = None
    services: list[str] = field(default_factory=list)
    # (VIP, protocol, ports) of the DR services: what the server's own firewall must let in
    dr_ports: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def file(self) -> str:
        """The scripts' file name without its ending: NAME-ADDRESS. Unique, as one address is one host and an
        address has no '-' (the last '-' ends the name; an IPv6 address has '_' for ':', which Windows does
        not allow in a file name); stable, as it depends on this host's own servers only."""
        return f"{self.name}-{_canonical(self.address).replace(':', '_')}"


def nat_gateway(config: ApplianceConfig, family: int = 4) -> str | None:
    """The address NAT real servers route through: the internal floating IP in a pair, else eth1's (of the
    servers' family)."""
    floating = config.ha.floating if config.ha else None
    if floating and (floating.internal if family == 4 else floating.internal6):
        return floating.internal if family == 4 else floating.internal6
    internal = config.internal_interface()
    if internal is None:
        return None
    if family == 6:
        return str(IPv6Interface(internal[1].address6).ip) if internal[1].address6 else None
    return str(IPv4Interface(internal[1].address).ip)


def return_gateway(config: ApplianceConfig, address: str) -> str | None:
    """This unit's address on the subnet of a server (the floating one in a pair): its way back to clients."""
    iface = config.interface_for(address)
    if iface is None:
        return None
    floating = config.ha.floating if config.ha else None
    moving = floating and (floating.internal if iface.role == "internal" else floating.external)
    return moving or str(IPv4Interface(iface.address).ip)


def own_addresses(config: ApplianceConfig) -> set[str]:
    """This unit's own interface addresses: the source of its health checks and tunnelled packets."""
    return {str(own.ip) for iface in config.interfaces.values() for own in own_interfaces(iface)}


def hosts(config: ApplianceConfig) -> list[HostSetup]:
    """One HostSetup per real server address whose method needs setup on the server, named after its
    first server: every layer-4 method, and transparent layer 7."""
    by_address: dict[str, HostSetup] = {}
    own = own_addresses(config)
    for service in config.virtual_services:
        if service.layer != 4 and not (service.layer == 7 and service.transparent):
            continue
        for server in service.real_servers:
            host = by_address.setdefault(_canonical(server.address), HostSetup(server.name, server.address))
            if server.name not in host.names:
                host.names.append(server.name)
            host.services.append(f"{service.name} {endpoint_text(service.address, service.port)}")
            if service.forwarding == "dr":
                vips = host.dr_own_vips if service.address in own else host.dr_vips
                if service.address not in vips:
                    vips.append(service.address)
                ports = ",".join(
                    f"{a}-{b}" if a != b else str(a) for a, b in port_ranges(service_ports(service.port, service.extra_ports))
                )
                if (service.address, service.protocol, ports) not in host.dr_ports:
                    host.dr_ports.append((service.address, service.protocol, ports))
            elif service.forwarding == "tun":
                vips = host.tun_own_vips if service.address in own else host.tun_vips
                if service.address not in vips:
                    vips.append(service.address)
            elif service.forwarding == "nat":
                host.nat_gateway = nat_gateway(config, _family(server.address))
            elif service.layer == 7:  # transparent
                host.nat_gateway = return_gateway(config, server.address)
    return list(by_address.values())


def find(config: ApplianceConfig, wanted: str) -> list[HostSetup]:
    """The hosts wanted names: by one of its real servers' names, its address or its scripts' file name.
    More than one when a name is used at several addresses: the caller asks for the address then."""
    return [h for h in hosts(config) if wanted in (*h.names, h.file, h.address, _canonical(h.address))]


LINUX_TEMPLATE = """#!/bin/sh
# managed by lbwizard: setup of real server {name} ({address}) for
#   {services}
# Run as root on the real server. Running it twice changes nothing; --undo puts back what it changed.
# DR only: --redirect uses an iptables REDIRECT of the VIP instead of the VIP on lo (no ARP to solve).
set -eu
DR_VIPS="{dr_vips}"
# DR VIPs that are also the load balancer's own address, the source of its health checks: held here,
# they would make this server drop those ("martian source"), so they are always REDIRECTed.
DR_OWN_VIPS="{dr_own_vips}"
TUN_VIPS="{tun_vips}"
# VIPs that are also the load balancer's own address, the source of its tunnelled packets and health
# checks: holding one would make this server drop those ("martian source"), so it is DNATed instead.
TUN_OWN_VIPS="{tun_own_vips}"
SERVER="{address}"
NAT_GATEWAY="{nat_gateway}"
STATE="${{LBWIZARD_RS_STATE:-/var/lib/lbwizard-realserver}}"  # where the first run saves what it changes
SYSCTLS="net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce net.ipv4.conf.lo.arp_ignore \\
net.ipv4.conf.lo.arp_announce net.ipv4.conf.all.rp_filter net.ipv4.conf.tunl0.rp_filter"

save_state() {{
    [ -d "$STATE" ] && return 0
    mkdir -p "$STATE"
    for key in $SYSCTLS; do
        value=$(sysctl -n "$key" 2>/dev/null) && echo "$key=$value" >> "$STATE/sysctl"
    done
    touch "$STATE/sysctl"
    {ip_family} route show default > "$STATE/default-route"
}}

set_sysctl() {{ sysctl -qw "$1=$2" 2>/dev/null || true; }}

redirect() {{
    {iptables} -t nat -C PREROUTING -d "$1/{host_bits}" -j REDIRECT 2>/dev/null ||
        {iptables} -t nat -A PREROUTING -d "$1/{host_bits}" -j REDIRECT
}}

apply() {{
    save_state
    for vip in $DR_OWN_VIPS; do
        redirect "$vip"
    done
    for vip in $DR_VIPS; do
        if [ "$MODE" = redirect ]; then
            redirect "$vip"
        else
            {ip} addr show dev lo | grep -q " $vip/{host_bits} " || {ip} addr add "$vip/{host_bits}" dev lo
            for key in {arp_keys}; do
                set_sysctl "$key.arp_ignore" 1
                set_sysctl "$key.arp_announce" 2
            done
        fi
    done
    if [ -n "$TUN_VIPS$TUN_OWN_VIPS" ]; then
        modprobe {tun_module} 2>/dev/null || true
        ip link set {tun_dev} up
        for vip in $TUN_VIPS; do
            {ip} addr show dev {tun_dev} | grep -q " $vip/{host_bits} " || {ip} addr add "$vip/{host_bits}" dev {tun_dev}
        done
        for vip in $TUN_OWN_VIPS; do
            {iptables} -t nat -C PREROUTING -i {tun_dev} -d "$vip/{host_bits}" -j DNAT --to-destination "$SERVER" 2>/dev/null ||
                {iptables} -t nat -A PREROUTING -i {tun_dev} -d "$vip/{host_bits}" -j DNAT --to-destination "$SERVER"
        done
        set_sysctl net.ipv4.conf.tunl0.rp_filter 0
        set_sysctl net.ipv4.conf.all.rp_filter 0
        set_sysctl net.ipv4.conf.all.arp_ignore 1
        set_sysctl net.ipv4.conf.all.arp_announce 2
    fi
    if [ -n "$NAT_GATEWAY" ]; then
        {ip} route replace default via "$NAT_GATEWAY"
    fi
    echo "real server {name}: set up"
}}

undo() {{
    for vip in $DR_VIPS $DR_OWN_VIPS; do
        while {iptables} -t nat -C PREROUTING -d "$vip/{host_bits}" -j REDIRECT 2>/dev/null; do
            {iptables} -t nat -D PREROUTING -d "$vip/{host_bits}" -j REDIRECT
        done
        {ip} addr del "$vip/{host_bits}" dev lo 2>/dev/null || true
    done
    for vip in $TUN_VIPS; do
        {ip} addr del "$vip/{host_bits}" dev {tun_dev} 2>/dev/null || true
    done
    for vip in $TUN_OWN_VIPS; do
        while {iptables} -t nat -C PREROUTING -i {tun_dev} -d "$vip/{host_bits}" -j DNAT --to-destination "$SERVER" 2>/dev/null
        do
            {iptables} -t nat -D PREROUTING -i {tun_dev} -d "$vip/{host_bits}" -j DNAT --to-destination "$SERVER"
        done
    done
    if [ -d "$STATE" ]; then
        while IFS='=' read -r key value; do
            [ -n "$key" ] && set_sysctl "$key" "$value"
        done < "$STATE/sysctl"
        if [ -n "$NAT_GATEWAY" ]; then
            {ip} route del default via "$NAT_GATEWAY" 2>/dev/null || true
            if [ -s "$STATE/default-route" ]; then
                {ip} route replace $(head -n 1 "$STATE/default-route")
            fi
        fi
        rm -rf "$STATE"
    fi
    echo "real server {name}: undone"
}}

MODE=loopback
case "${{1:-}}" in
    --undo) undo ;;
    --redirect) MODE=redirect; apply ;;
    "") apply ;;
    *) echo "usage: $0 [--redirect | --undo]" >&2; exit 2 ;;
esac
"""

WINDOWS_TEMPLATE = """# managed by lbwizard: setup of real server {name} ({address}) for
#   {services}
# Windows Server 2012 and later (Windows 8 and later): the NetTCPIP and NetSecurity cmdlets. For
# Windows Server 2003 and XP use {file}-2003.cmd; 2008 and 2008 R2 need reference 003's manual steps.
# Run in an elevated PowerShell on the real server. Running it twice changes nothing; -Undo takes it back.
# DR needs the Microsoft KM-TEST Loopback Adapter (hdwwiz.exe: Network adapters > Microsoft).
param([switch]$Undo, [string]$Nic = "")
$ErrorActionPreference = "Stop"
$DrVips = @({dr_vips_ps})
# DR VIPs that are the load balancer's own address, the source of its health checks (see below)
$DrOwnVips = @({dr_own_vips_ps})
# "VIP|PROTOCOL|PORTS" of each DR service: the Windows firewall blocks them on the loopback adapter
$DrPorts = @({dr_ports_ps})
$TunVips = @({tun_vips_ps})
$NatGateway = "{nat_gateway}"
$State = Join-Path $env:ProgramData "lbwizard"

if ($TunVips.Count -gt 0) {{
    Write-Error "Windows cannot decapsulate IP-in-IP: use dr or nat for this server instead of tun."
    exit 1
}}
if ($DrOwnVips.Count -gt 0 -and -not $Undo) {{
    Write-Error ("VIP $DrOwnVips is the load balancer's own address, the source of its health checks: Windows, " +
        "holding it, would drop them, and it has no REDIRECT. Give the service an address of its own " +
        "(lbctl vs set NAME --address ADDRESS, or a pair's floating address).")
    exit 1
}}
if (-not $Nic) {{
    $Nic = (Get-NetIPAddress -AddressFamily {ps_family} -IPAddress "{address}").InterfaceAlias
}}
$Loopback = (Get-NetAdapter | Where-Object {{ $_.InterfaceDescription -like "*Loopback*" }} | Select-Object -First 1).Name
if ($DrVips.Count -gt 0 -and -not $Loopback) {{
    Write-Error "No loopback adapter: install 'Microsoft KM-TEST Loopback Adapter' with hdwwiz.exe, then run this again."
    exit 1
}}

if ($Undo) {{
    Get-NetFirewallRule -Group "lbwizard" -ErrorAction SilentlyContinue | Remove-NetFirewallRule
    foreach ($vip in $DrVips) {{
        Remove-NetIPAddress -InterfaceAlias $Loopback -IPAddress $vip -Confirm:$false -ErrorAction SilentlyContinue
    }}
    if ($DrVips.Count -gt 0) {{
        netsh interface {netsh_family} set interface "$Nic" weakhostreceive=disabled | Out-Null
        netsh interface {netsh_family} set interface "$Loopback" weakhostreceive=disabled weakhostsend=disabled | Out-Null
    }}
    $saved = Join-Path $State "default-gateway.txt"
    if ($NatGateway -and (Test-Path $saved)) {{
        Remove-NetRoute -DestinationPrefix "{default_prefix}" -Confirm:$false -ErrorAction SilentlyContinue
        $old = Get-Content $saved
        if ($old) {{ New-NetRoute -DestinationPrefix "{default_prefix}" -InterfaceAlias $Nic -NextHop $old | Out-Null }}
        Remove-Item $saved
    }}
    Write-Output "real server {name}: undone"
    exit 0
}}

foreach ($vip in $DrVips) {{
    if (-not (Get-NetIPAddress -InterfaceAlias $Loopback -IPAddress $vip -ErrorAction SilentlyContinue)) {{
        New-NetIPAddress -InterfaceAlias $Loopback -IPAddress $vip -PrefixLength {host_bits} -SkipAsSource $true | Out-Null
    }}
}}
if ($DrVips.Count -gt 0) {{
    # Weak host model: the NIC accepts packets for the VIP held by the loopback adapter, which answers.
    netsh interface {netsh_family} set interface "$Nic" weakhostreceive=enabled | Out-Null
    netsh interface {netsh_family} set interface "$Loopback" weakhostreceive=enabled weakhostsend=enabled | Out-Null
}}
foreach ($rule in $DrPorts) {{
    $vip, $protocol, $ports = $rule -split "[|]"
    $id = "lbwizard-$vip-$protocol"
    if (-not (Get-NetFirewallRule -Name $id -ErrorAction SilentlyContinue)) {{
        New-NetFirewallRule -Name $id -DisplayName "lbwizard: $vip $protocol $ports" -Group "lbwizard" -Direction Inbound `
            -Action Allow -LocalAddress $vip -Protocol $protocol -LocalPort ($ports -split ",") | Out-Null
    }}
}}
if ($NatGateway) {{
    New-Item -ItemType Directory -Force -Path $State | Out-Null
    $saved = Join-Path $State "default-gateway.txt"
    if (-not (Test-Path $saved)) {{
        (Get-NetRoute -DestinationPrefix "{default_prefix}" -ErrorAction SilentlyContinue | Select-Object -First 1).NextHop |
            Set-Content $saved
    }}
    Remove-NetRoute -DestinationPrefix "{default_prefix}" -Confirm:$false -ErrorAction SilentlyContinue
    New-NetRoute -DestinationPrefix "{default_prefix}" -InterfaceAlias $Nic -NextHop $NatGateway | Out-Null
}}
Write-Output "real server {name}: set up"
"""


WINDOWS_2003_TEMPLATE = """@echo off
rem managed by lbwizard: setup of real server {name} ({address}) for
rem   {services_cmd}
rem Windows Server 2003 and XP (003's "Resolving ARP issues for Windows server 2000 & 2003"); later
rem Windows: {file}.ps1. Windows 2000 has no wmic: follow 003's steps by hand there.
rem Run as Administrator. Running it twice changes nothing; "{file}-2003.cmd undo" takes it back.
rem Needs the Microsoft Loopback Adapter (Add Hardware wizard: Network adapters > Microsoft).
setlocal
set VIPS={dr_vips_cmd}
set MASKS={dr_masks_cmd}
set OWN_VIPS={dr_own_vips}
set TUN_VIPS={tun_vips_cmd}
set NAT_GATEWAY={nat_gateway}
set IPV6={ipv6_cmd}
if not "%IPV6%"=="" goto no_ipv6
if not "%TUN_VIPS%"=="" goto no_tun
if "%1"=="undo" goto undo
if not "%OWN_VIPS%"=="" goto own_vip
if "%VIPS%"=="" goto firewall
rem the VIPs on the loopback adapter with interface metric 254: it then answers no ARP for them (003)
wmic nicconfig where "Description like '%%Loopback%%'" call EnableStatic (%VIPS%), (%MASKS%) || exit /b 1
wmic nicconfig where "Description like '%%Loopback%%'" call SetIPConnectionMetric 254 || exit /b 1
:firewall
rem the Windows firewall blocks the loopback adapter's addresses (003): open the VIPs' ports
{firewall_open}if not "%NAT_GATEWAY%"=="" echo NAT: make %NAT_GATEWAY% this server's default gateway (its NIC's TCP/IP)
echo real server {name}: set up
exit /b 0

:undo
{firewall_close}if not "%VIPS%"=="" wmic nicconfig where "Description like '%%Loopback%%'" call EnableDHCP
echo real server {name}: undone
exit /b 0

:no_tun
echo Windows cannot decapsulate IP-in-IP: use dr or nat for this server instead of tun. 1>&2
exit /b 1

:no_ipv6
echo %IPV6% is an IPv6 server: this script's steps (wmic, interface metric 254) are IPv4's. Use {file}.ps1 1>&2
echo on Windows Server 2012 and later, or give the server an IPv4 address. 1>&2
exit /b 1

:own_vip
echo VIP %OWN_VIPS% is the load balancer's own address, the source of its health checks: Windows 1>&2
echo would drop them. Give the service an address of its own: lbctl vs set NAME --address ADDRESS 1>&2
exit /b 1
"""


def _cmd_firewall(host: HostSetup, command: str) -> str:
    """netsh firewall lines (Windows 2003 SP1 and XP SP2: one port per line, on every address)."""
    lines = []
    for vip, protocol, ports in host.dr_ports:
        for item in ports.split(","):
            first, _, last = item.partition("-")
            name = f"lbwizard {vip} {protocol}"
            if command == "add":
                body = f'netsh firewall add portopening protocol={protocol.upper()} port=%%p name="{name} %%p" mode=ENABLE'
            else:
                body = f"netsh firewall delete portopening protocol={protocol.upper()} port=%%p"
            lines.append(f"for /L %%p in ({first},1,{last or first}) do {body} >nul")
    return "".join(f"{line}\n" for line in lines)


def _checked(host: HostSetup, word: Callable[[object, str], str], language: str) -> HostSetup:
    """The host, once every value its script writes passed the script language's rule (render/quoting.py):
    a value the language would read as more than a value raises UnsafeValue, and no script is written."""
    values = [
        ("name", host.name),
        ("address", host.address),
        *(("name", name) for name in host.names),
        *(("VIP", vip) for vip in [*host.dr_vips, *host.dr_own_vips, *host.tun_vips, *host.tun_own_vips]),
        *(("gateway", gateway) for gateway in [host.nat_gateway] if gateway),
        *(("service", part) for service in host.services for part in service.split(" ")),  # "NAME VIP:PORT"
        *(("firewall rule", part) for rule in host.dr_ports for part in (*rule[:2], *re.split("[,-]", rule[2]))),
    ]
    for what, value in values:
        word(value, f"real-server script ({language}) {what}")
    return host


def windows_2003_script(host: HostSetup) -> str:
    _checked(host, quoting.cmd_word, "cmd")
    values = _values(host) | {
        "services_cmd": "\nrem   ".join(host.services),
        "dr_vips_cmd": ", ".join(f'"{v}"' for v in host.dr_vips),
        "dr_masks_cmd": ", ".join('"255.255.255.255"' for _ in host.dr_vips),
        "tun_vips_cmd": " ".join(host.tun_vips + host.tun_own_vips),
        "firewall_open": _cmd_firewall(host, "add"),
        "firewall_close": _cmd_firewall(host, "delete"),
    }
    return WINDOWS_2003_TEMPLATE.format(**values).replace("\n", "\r\n")


FAMILY_WORDS = {
    4: {
        "ip": "ip",
        "ip_family": "ip -4",
        "host_bits": "32",
        "iptables": "iptables",
        "tun_dev": "tunl0",
        "tun_module": "ipip",
        "arp_keys": "net.ipv4.conf.all net.ipv4.conf.lo",
        "ps_family": "IPv4",
        "netsh_family": "ipv4",
        "default_prefix": "0.0.0.0/0",
    },
    6: {
        "ip": "ip -6",
        "ip_family": "ip -6",
        "host_bits": "128",
        "iptables": "ip6tables",
        "tun_dev": "ip6tnl0",
        "tun_module": "ip6_tunnel",
        "arp_keys": "",  # no ARP: Linux answers neighbour solicitations for the receiving interface's addresses only
        "ps_family": "IPv6",
        "netsh_family": "ipv6",
        "default_prefix": "::/0",
    },
}


def _values(host: HostSetup) -> dict[str, str]:
    family = _family(host.address)
    return FAMILY_WORDS[family] | {
        "ipv6_cmd": host.address if family == 6 else "",
        "name": host.name,
        "file": host.file,
        "address": host.address,
        "services": "\n#   ".join(host.services),
        "dr_vips": " ".join(host.dr_vips),
        "dr_own_vips": " ".join(host.dr_own_vips),
        "tun_vips": " ".join(host.tun_vips),
        "tun_own_vips": " ".join(host.tun_own_vips),
        "nat_gateway": host.nat_gateway or "",
        "dr_vips_ps": ", ".join(f'"{v}"' for v in host.dr_vips),
        "dr_own_vips_ps": ", ".join(f'"{v}"' for v in host.dr_own_vips),
        "dr_ports_ps": ", ".join(f'"{v}|{p.upper()}|{ports}"' for v, p, ports in host.dr_ports),
        "tun_vips_ps": ", ".join(f'"{v}"' for v in host.tun_vips + host.tun_own_vips),
    }


def linux_script(host: HostSetup) -> str:
    return LINUX_TEMPLATE.format(**_values(_checked(host, quoting.shell_word, "sh")))


def windows_script(host: HostSetup) -> str:
    return WINDOWS_TEMPLATE.format(**_values(_checked(host, quoting.powershell_word, "PowerShell")))


def scripts(config: ApplianceConfig) -> dict[str, str]:
    """File name -> content, for every real server host of a layer-4 service."""
    files: dict[str, str] = {}
    for host in hosts(config):
        files[f"{host.file}.sh"] = linux_script(host)
        files[f"{host.file}.ps1"] = windows_script(host)
        files[f"{host.file}-2003.cmd"] = windows_2003_script(host)
    return files
