"""The wizard's last screen says where the web console is (reference 003 hands the unit over from its console
to the web interface), on this unit's own first address, and not when the API is off."""

from __future__ import annotations

import copy

import pytest

from lbwizard.setup import guidance
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import HA_MASTER_TWO_ARM, ONE_ARM_DR, TWO_ARM_NAT


def web_console_steps(config) -> list[str]:
    return [step for step in guidance.next_steps(config) if "from a browser" in step]


@pytest.mark.parametrize(("answers", "address"), [(TWO_ARM_NAT, "10.0.0.21"), (HA_MASTER_TWO_ARM, None), (ONE_ARM_DR, None)])
def test_the_last_screen_names_the_web_console_on_the_units_own_address(answers, address):
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(answers))
    own = next(iter(config.interfaces.values())).address.partition("/")[0]
    assert address in (None, own)
    floating = [config.ha.floating.external, config.ha.floating.internal] if config.ha else []
    (step,) = web_console_steps(config)
    assert f"https://{own}:9443/" in step
    assert not any(f"https://{vip}" in step for vip in floating if vip)


def test_a_moved_or_turned_off_api_is_said_as_it_is():
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(TWO_ARM_NAT))
    config.api.port = 8443
    assert "https://10.0.0.21:8443/" in web_console_steps(config)[0]
    config.api.enabled = False
    assert web_console_steps(config) == []
