"""The unit's own pages in the browser: access (an input rule opened and a bad one shown at its field, an API
token shown once and revoked), time and logging, and a restore's refusal shown before anything changes."""

from __future__ import annotations

from tests.api.conftest import newest, saved_text


def test_access_rules_and_tokens(person):
    page = person.page
    person.log_in()
    person.go("#/access")
    page.get_by_role("heading", name="Open a port").wait_for()
    form = page.get_by_role("form", name="Open a port")
    before, version = saved_text(person.server.root), newest(person.server.root)
    form.locator('input[name="port"]').fill("99999")
    form.get_by_role("button", name="Open").click()
    error = form.locator('input[name="port"] ~ .error')
    error.filter(has_text="99999").wait_for()
    assert saved_text(person.server.root) == before and newest(person.server.root) == version
    form.locator('input[name="port"]').fill("161")
    form.locator('select[name="protocol"]').select_option("udp")
    form.locator('input[name="comment"]').fill("snmp")
    form.get_by_role("button", name="Open").click()
    assert "opened udp/161" in person.finish_change()
    page.get_by_role("cell", name="snmp").wait_for()
    tokens = page.get_by_role("form", name="Make an API token")
    tokens.locator('input[name="name"]').fill("browser-nms")
    tokens.locator('input[name="read_only"]').check()
    tokens.get_by_role("button", name="Make the token").click()
    shown = page.locator(".token")
    shown.wait_for()
    token = shown.inner_text()
    assert token.startswith("lbw_") and person.server.request("GET", "/status", token=token).status == 200
    person.go("#/settings")
    page.get_by_role("heading", name="Time, logs and metrics").wait_for()
    person.go("#/access")
    row = page.get_by_role("row").filter(has_text="browser-nms")
    assert "read-only" in row.inner_text() and token not in page.content()  # shown once, never again
    row.get_by_role("button", name="revoke").click()
    person.confirm("refused from their next request")
    page.get_by_role("row").filter(has_text="browser-nms").wait_for(state="detached")
    assert person.server.request("GET", "/status", token=token).status == 401


def test_time_and_logging(person):
    page = person.page
    person.log_in()
    person.go("#/settings")
    time_form = page.get_by_role("form", name="Time")
    time_form.locator('input[name="ntp_servers"]').fill("10.0.0.31, ntp1.example.net")
    time_form.get_by_role("button", name="Save").click()
    person.finish_change()
    logging = page.get_by_role("form", name="Logging")
    logging.locator('input[name="syslog_server"]').wait_for()
    logging.locator('input[name="syslog_server"]').fill("10.0.0.31:99999")
    logging.get_by_role("button", name="Save").click()
    page.locator("form .problems").filter(has_text="Nothing was changed").wait_for()
    at_field = logging.locator('input[name="syslog_server"] ~ .error').inner_text()
    assert at_field == "99999 is not a port; use 1-65535", at_field  # lbctl's words, at the field it names "server"
    config = saved_text(person.server.root)
    assert "ntp1.example.net" in config and "99999" not in config
