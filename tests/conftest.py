"""Shared fixtures: the quick start's worked example and the configs built from it."""

from __future__ import annotations

import copy

import pytest

from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem

# reference 003, "Example answers using the console wizard for a two-arm NAT configuration"
TWO_ARM_NAT = {
    "ha_pair": False,
    "one_arm": False,
    "eth0_address": "10.0.0.21",
    "eth0_netmask": "255.255.255.0",
    "eth1_address": "192.168.2.21",
    "eth1_netmask": "255.255.255.0",
    "gateway": "10.0.0.31",
    "nameserver": "10.0.0.31",
    "vip_port": 80,
    "real_server": "192.168.2.50",
    "admin_password": "correct horse battery",
}

ONE_ARM_DR = {
    "ha_pair": False,
    "one_arm": True,
    "eth0_address": "10.0.0.21",
    "eth0_netmask": "24",
    "gateway": "10.0.0.1",
    "nameserver": "10.0.0.1",
    "vip_port": 80,
    "method": "dr",
    "real_server": "10.0.0.100",
    "admin_password": "correct horse battery",
}

HA_MASTER_TWO_ARM = {
    **TWO_ARM_NAT,
    "ha_pair": True,
    "ha_role": "master",
    "peer_address": "10.0.0.22",
    "floating_external": "10.0.0.20",
    "floating_internal": "192.168.2.20",
}

HA_BACKUP_TWO_ARM = HA_MASTER_TWO_ARM | {
    "ha_role": "backup",
    "eth0_address": "10.0.0.22",
    "eth1_address": "192.168.2.22",
    "peer_address": "10.0.0.21",
}


@pytest.fixture
def answers():
    """Deep copies of the example answers, so a test may edit them."""
    return {
        "two_arm_nat": copy.deepcopy(TWO_ARM_NAT),
        "one_arm_dr": copy.deepcopy(ONE_ARM_DR),
        "ha_master": copy.deepcopy(HA_MASTER_TWO_ARM),
    }


@pytest.fixture
def example_config():
    """The config the quick start's two-arm NAT example implies (verified clean)."""
    return Flow(LiveSystem()).run_answers(copy.deepcopy(TWO_ARM_NAT))


_TIER_SECONDS: dict[str, float] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `long` first, the rest in their order: in several xdist workers the minutes-long ones
    (the power-cut matrix) otherwise came last and ran while the other workers had nothing left (907 s
    wall for 1580 s of work in three workers)."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


def pytest_runtest_logreport(report) -> None:
    """Adds each test's setup, call and teardown time to its tier (the folder under tests/)."""
    tier = report.nodeid.split("/")[1] if report.nodeid.startswith("tests/") else "other"
    _TIER_SECONDS[tier] = _TIER_SECONDS.get(tier, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter) -> None:
    """One line per tier, so a slow tier shows in every run (CI's included)."""
    if _TIER_SECONDS:
        times = ", ".join(f"{tier} {seconds:.0f} s" for tier, seconds in sorted(_TIER_SECONDS.items()))
        terminalreporter.write_line(f"time per tier: {times}; total {sum(_TIER_SECONDS.values()):.0f} s")
