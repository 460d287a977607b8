"""The console's flows in Debian's Firefox ESR, since issue 37 asks for the console "working in current Chromium
and Firefox": test_console.py's own test functions, called with a person in Firefox instead of chromium, so
both browsers go through the very same steps and assertions. This file's dry-run unit is its own (the console
fixture is per module), so the names the flows make (SHOP, GONE) never meet those of the chromium run.

In Firefox, Playwright's `is_mobile` and `has_touch` only set the screen's orientation: the phone's flow there
proves the narrow layout and the keyboard, not touch."""

from __future__ import annotations

import pytest

from tests.web import test_console as flows

DESKTOP_FLOWS = [
    flows.test_log_in_with_roots_password_and_log_out,
    flows.test_add_a_service_and_two_servers_then_drain_one_and_the_dashboard_says_so,
    flows.test_a_bad_value_is_shown_at_its_field_with_the_apis_words_and_nothing_is_saved,
    flows.test_roll_back_after_seeing_the_difference,
    flows.test_a_servers_setup_script_and_a_backup_download_from_the_page,
    flows.test_the_dashboard_shows_both_units_of_a_pair,
]


@pytest.mark.parametrize("flow", DESKTOP_FLOWS, ids=lambda flow: flow.__name__.removeprefix("test_"))
def test_in_firefox(flow, firefox_person):
    flow(firefox_person)


def test_in_firefox_a_phone_and_the_keyboard_alone(firefox_phone):
    flows.test_a_phone_and_the_keyboard_alone(firefox_phone)
