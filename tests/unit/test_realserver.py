"""Real-server scripts: one per host, valid shell, the right actions for each forwarding method."""

from __future__ import annotations

import copy
import subprocess

import pytest

from lbwizard.config.model import RealServer, VirtualService
from lbwizard.render import realserver
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import HA_MASTER_TWO_ARM, ONE_ARM_DR, TWO_ARM_NAT


def config_for(answers):
    return Flow(LiveSystem()).run_answers(copy.deepcopy(answers))


@pytest.mark.parametrize(
    "answers",
    [TWO_ARM_NAT, ONE_ARM_DR, HA_MASTER_TWO_ARM, ONE_ARM_DR | {"method": "tun", "real_server": "192.168.2.60"}],
    ids=["nat", "dr", "ha_nat", "tun"],
)
def test_linux_scripts_are_valid_shell(tmp_path, answers):
    for name, text in realserver.scripts(config_for(answers)).items():
        if name.endswith(".sh"):
            path = tmp_path / name
            path.write_text(text)
            assert subprocess.run(["sh", "-n", str(path)], capture_output=True).returncode == 0


def test_nat_gateway_is_the_internal_floating_address_in_a_pair():
    (host,) = realserver.hosts(config_for(HA_MASTER_TWO_ARM))
    assert host.nat_gateway == "192.168.2.20"
    (host,) = realserver.hosts(config_for(TWO_ARM_NAT))
    assert host.nat_gateway == "192.168.2.21"


def test_one_host_serving_two_vips_gets_one_script_with_both():
    config = config_for(ONE_ARM_DR)
    config.virtual_services.append(
        VirtualService("VIP2", "10.0.0.22", 443, forwarding="dr", real_servers=[RealServer("WEB", "10.0.0.100", 443)])
    )
    (host,) = realserver.hosts(config)
    assert (host.dr_vips, host.dr_own_vips) == (["10.0.0.22"], ["10.0.0.21"])
    assert 'DR_VIPS="10.0.0.22"' in realserver.linux_script(host)
    assert 'DR_OWN_VIPS="10.0.0.21"' in realserver.linux_script(host)  # the unit's own address: REDIRECT
    windows = realserver.windows_script(host)
    assert '$DrVips = @("10.0.0.22")' in windows and '$DrOwnVips = @("10.0.0.21")' in windows
    assert "weakhostreceive=enabled weakhostsend=enabled" in windows
    # Windows has no REDIRECT: a VIP that is the unit's own address (the source of the checks) is refused
    assert "is the load balancer's own address" in windows and "set OWN_VIPS=10.0.0.21" in realserver.windows_2003_script(host)


def test_windows_scripts_open_the_firewall_and_the_2003_one_sets_metric_254():
    """003: the Windows firewall blocks the loopback adapter; Windows 2000/2003 stop ARP by metric 254."""
    pair = ONE_ARM_DR | {"ha_pair": True, "ha_role": "master", "peer_address": "10.0.0.22", "floating_external": "10.0.0.20"}
    config = config_for(pair)
    config.virtual_services[0].extra_ports = "8000-8002, 9000"
    (host,) = realserver.hosts(config)
    assert host.dr_ports == [("10.0.0.20", "tcp", "80,8000-8002,9000")]
    windows = realserver.windows_script(host)
    assert '$DrVips = @("10.0.0.20")' in windows and '$DrPorts = @("10.0.0.20|TCP|80,8000-8002,9000")' in windows
    assert "New-NetFirewallRule -Name $id" in windows and '-Group "lbwizard"' in windows
    assert 'Get-NetFirewallRule -Group "lbwizard" -ErrorAction SilentlyContinue | Remove-NetFirewallRule' in windows
    legacy = realserver.windows_2003_script(host)
    assert legacy.count("\r\n") == legacy.count("\n")  # cmd.exe line ends
    assert "call SetIPConnectionMetric 254" in legacy and "call EnableStatic (%VIPS%), (%MASKS%)" in legacy
    assert 'set VIPS="10.0.0.20"' in legacy and "set OWN_VIPS=\r\n" in legacy
    for first, last in (("80", "80"), ("8000", "8002"), ("9000", "9000")):
        assert f"for /L %%p in ({first},1,{last}) do netsh firewall add portopening protocol=TCP port=%%p" in legacy
        assert f"for /L %%p in ({first},1,{last}) do netsh firewall delete portopening protocol=TCP port=%%p" in legacy


def test_layer7_servers_need_no_script():
    assert realserver.scripts(config_for(TWO_ARM_NAT | {"method": "snat"})) == {}


def test_same_name_on_two_hosts_gets_distinct_files():
    config = config_for(TWO_ARM_NAT)
    config.virtual_services.append(
        VirtualService("VIP2", "10.0.0.21", 8080, real_servers=[RealServer("RIP1", "192.168.2.51", 8080)])
    )
    assert sorted(realserver.scripts(config)) == [
        "RIP1-192.168.2.50-2003.cmd",
        "RIP1-192.168.2.50.ps1",
        "RIP1-192.168.2.50.sh",
        "RIP1-192.168.2.51-2003.cmd",
        "RIP1-192.168.2.51.ps1",
        "RIP1-192.168.2.51.sh",
    ]


def test_tun_vip_that_is_the_units_own_address_is_dnated_not_held():
    """A single unit's VIP is its own address, the source of the tunnelled packets and health checks: a
    server holding it would drop them as martians, so the script DNATs it on tunl0 instead."""
    (host,) = realserver.hosts(config_for(ONE_ARM_DR | {"method": "tun", "real_server": "192.168.2.60"}))
    assert (host.tun_vips, host.tun_own_vips) == ([], ["10.0.0.21"])
    script = realserver.linux_script(host)
    assert 'TUN_OWN_VIPS="10.0.0.21"' in script and 'SERVER="192.168.2.60"' in script
    assert 'iptables -t nat -A PREROUTING -i tunl0 -d "$vip/32" -j DNAT --to-destination "$SERVER"' in script
    assert '$TunVips = @("10.0.0.21")' in realserver.windows_script(host)  # still refused on Windows


def test_tun_floating_vip_is_held_on_tunl0():
    pair = ONE_ARM_DR | {"method": "tun", "ha_pair": True, "ha_role": "master", "peer_address": "10.0.0.22"}
    (host,) = realserver.hosts(config_for(pair | {"floating_external": "10.0.0.20"}))
    assert (host.tun_vips, host.tun_own_vips) == (["10.0.0.20"], [])
