"""Kernel settings the topology needs, live (per network namespace) and in sysctl.d for boot.

- ip_forward: NAT and two-arm units route the real servers' traffic.
- arp_ignore=1 / arp_announce=2 on two-arm units: with two subnets, Linux would otherwise answer ARP
  for one interface's address on the other ("ARP flux") and announce the wrong source.
- rp_filter=2 (loose) where DR/TUN replies or floating addresses make strict reverse-path checks drop
  legitimate traffic.
- ip_nonlocal_bind=1 in an HA pair with layer-7 services: HAProxy binds the floating VIP on the backup
  too, where it is not (yet) an address of this unit, so it is ready the moment the VIP moves.
- A dual-stack unit: accept_ra=0 on each interface it owns (its IPv6 addresses and gateway are the
  config's; a router advertisement changes neither), IPv6 forwarding where IPv4 forwards (two-arm: routed,
  not translated), and IPv6's ip_nonlocal_bind beside IPv4's. An IPv4-only unit leaves IPv6 alone.
"""

from __future__ import annotations

from pathlib import Path

from ..config.model import ApplianceConfig, dual_stack
from ..render import quoting
from .step import Step

PROC_SYS = Path("/proc/sys")
SYSCTL_FILE = "etc/sysctl.d/90-lbwizard.conf"


def wanted(config: ApplianceConfig) -> dict[str, str]:
    """sysctl name -> value for this config."""
    methods = {s.forwarding for s in config.virtual_services}
    values: dict[str, str] = {}
    if config.topology == "two-arm" or "nat" in methods:
        values["net.ipv4.ip_forward"] = "1"
    if config.topology == "two-arm":
        values["net.ipv4.conf.all.arp_ignore"] = "1"
        values["net.ipv4.conf.all.arp_announce"] = "2"
    if methods & {"dr", "tun"} or config.ha is not None:
        values["net.ipv4.conf.all.rp_filter"] = "2"
    if config.ha is not None and any(s.layer == 7 for s in config.virtual_services):
        values["net.ipv4.ip_nonlocal_bind"] = "1"
    if dual_stack(config):
        for name in config.interfaces:
            if "." not in name:  # a VLAN's name would be split as a path (net.ipv6.conf.eth0.100...): left as it is
                values[f"net.ipv6.conf.{name}.accept_ra"] = "0"
        if "net.ipv4.ip_forward" in values:
            values["net.ipv6.conf.all.forwarding"] = "1"
        if "net.ipv4.ip_nonlocal_bind" in values:
            values["net.ipv6.ip_nonlocal_bind"] = "1"
    return values


def _path(name: str) -> Path:
    return PROC_SYS / name.replace(".", "/")


def read(name: str) -> str:
    return _path(name).read_text().strip()


def file_text(values: dict[str, str]) -> str:
    """sysctl.d's `name = value` lines, each part one word (render/quoting.py: a newline would be a setting)."""
    lines = ["# managed by lbwizard; edit appliance.yaml instead"]
    lines += [
        f"{quoting.sysctl_word(name, 'sysctl')} = {quoting.sysctl_word(value, name)}" for name, value in sorted(values.items())
    ]
    return "\n".join(lines) + "\n"


def live_step(values: dict[str, str]) -> Step:
    """Write the values to /proc/sys now; undo writes back what was there."""
    saved: dict[str, str] = {}

    def do() -> None:
        for name, value in values.items():
            saved[name] = read(name)
            _path(name).write_text(value)

    def undo() -> None:
        for name, value in saved.items():
            _path(name).write_text(value)

    summary = ", ".join(f"{n}={v}" for n, v in sorted(values.items())) or "nothing"
    return Step(f"set kernel settings: {summary}", do, undo)
