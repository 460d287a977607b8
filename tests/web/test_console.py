"""The web console as a person uses it, in Debian's chromium against a dry-run unit: log in and out, add a
service and two servers, drain one and see the dashboard say so, a bad value shown at its field with the
API's own words and nothing saved, a rollback after its difference was shown, a phone's screen and the
keyboard alone."""

from __future__ import annotations

import re
from pathlib import Path

from tests.api.conftest import newest, saved_text
from tests.web.conftest import PASSWORD


def test_log_in_with_roots_password_and_log_out(person):
    page = person.page
    person.log_in("not the password")
    page.get_by_text("That is not root's password.").wait_for()
    assert page.input_value("#password") == ""  # not kept in the page
    person.log_in()
    assert page.locator("#who").inner_text() == "root's web session"
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Log in to this load balancer").wait_for()
    page.get_by_text("You logged out.").wait_for()
    assert person.context.cookies() == []  # the server deleted its cookie
    assert page.request.get(person.url + "api/v1/virtual-services").status == 401
    log = person.server.log.read_text()
    assert PASSWORD not in log and "failed login from 127.0.0.1" in log
    assert PASSWORD not in page.url


def add_service(person, name: str, address: str) -> None:
    page = person.page
    person.go("#/services/new")
    page.get_by_role("heading", name="New virtual service").wait_for()
    for path, value in (("name", name), ("address", address), ("port", "80")):
        person.field(path).locator("input").fill(value)
    person.field("layer").locator("select").select_option("7")
    person.field("forwarding").locator("select").select_option("snat")
    page.get_by_text("Scheduling", exact=True).click()
    person.field("scheduler").locator("select").select_option("roundrobin")
    page.get_by_role("button", name="Add the virtual service").click()
    said = person.finish_change()
    assert re.search(r"Saved as version \d+\.\s*added virtual service " + name, said), said
    page.get_by_role("heading", name=f"Virtual service {name}").wait_for()


def add_server(person, service: str, address: str, weight: str) -> None:
    page = person.page
    page.get_by_role("link", name="Add a real server").click()
    page.get_by_role("heading", name=f"New real server for {service}").wait_for()
    person.field("address").locator("input").fill(address)
    person.field("weight").locator("input").fill(weight)
    page.get_by_role("button", name="Add the real server").click()
    said = person.finish_change()
    assert f"({address}:80) to {service}" in said, said
    page.get_by_role("heading", name=f"Virtual service {service}").wait_for()


def test_add_a_service_and_two_servers_then_drain_one_and_the_dashboard_says_so(person):
    page = person.page
    person.log_in()
    add_service(person, "SHOP", "10.0.0.41")
    add_server(person, "SHOP", "192.168.2.61", "2")
    add_server(person, "SHOP", "192.168.2.62", "3")
    rows = page.locator("table.servers tbody tr")
    assert rows.count() == 2
    first = rows.first.get_attribute("data-server")
    rows.first.get_by_role("button", name="drain").click()
    said = person.confirm("connections already open carry on until they end")
    assert first in said
    page.locator("#progress-title").filter(has_text=f"drain: {first}").wait_for()
    assert "Saved as version" in person.finish_change()
    person.go("#/dashboard")
    card = page.locator('section[data-service="SHOP"]')
    card.wait_for()
    drained = card.locator(f'tr[data-server="{first}"]')
    assert drained.locator("td").nth(1).inner_text() == "drain"
    other = card.locator("tbody tr").nth(1)
    assert other.locator("td").nth(1).inner_text() == "online"
    config = saved_text(person.server.root)
    assert "192.168.2.61" in config and "192.168.2.62" in config and "state: drain" in config


def test_a_bad_value_is_shown_at_its_field_with_the_apis_words_and_nothing_is_saved(person):
    page = person.page
    person.log_in()
    before, version = saved_text(person.server.root), newest(person.server.root)
    person.go("#/services/VIP1")
    page.get_by_role("heading", name="Virtual service VIP1").wait_for()
    page.get_by_text("Health checks", exact=True).click()
    interval = person.field("health_check.interval")
    interval.locator("input").fill("0")
    assert interval.locator(".error").inner_text() == "at least 1"  # the schema's limit, as one types
    page.get_by_role("button", name="Save changes").click()
    interval.locator(".error").filter(has_text="check interval").wait_for()
    assert interval.locator(".error").inner_text() == "0 is not a check interval; use 1-3600 seconds"  # lbctl's words
    assert interval.locator("input").get_attribute("aria-invalid") == "true"
    assert "Nothing was changed." in page.locator("form .problems").inner_text()
    # a rule across settings (verify): the port another service has, shown at the port
    interval.locator("input").fill("6")
    person.go("#/services/new")
    page.get_by_role("heading", name="New virtual service").wait_for()
    for path, value in (("name", "CLASH"), ("address", "10.0.0.21"), ("port", "80")):
        person.field(path).locator("input").fill(value)
    page.get_by_role("button", name="Add the virtual service").click()
    port = person.field("port")
    port.locator(".error").filter(has_text="already used").wait_for()
    assert "10.0.0.21:80/tcp, already used by 'VIP1'" in port.locator(".error").inner_text()
    assert saved_text(person.server.root) == before and newest(person.server.root) == version


def test_roll_back_after_seeing_the_difference(person):
    page = person.page
    person.log_in()
    server = person.server
    made = server.request("POST", "/virtual-services/VIP1/real-servers", {"address": "192.168.2.77", "name": "GONE"})
    assert made.status == 200, made.body
    before_version = made.body["version"] - 1
    before_text = (server.root / f"etc/lbwizard/history/{before_version:04d}.yaml").read_text()
    person.go("#/history")
    row = page.locator(f'tr[data-version="{before_version}"]')
    row.get_by_role("button", name="Roll back to this").click()
    said = person.confirm("192.168.2.77")
    assert f"Roll back to version {before_version}?" in said and "GONE" in said
    assert page.locator("#confirm pre.diff .del").filter(has_text="192.168.2.77").count() == 1
    assert "Saved as version" in person.finish_change()
    assert saved_text(server.root) == before_text
    # any two versions compared
    page.locator(f'tr[data-version="{before_version}"] input[name="from"]').check()
    page.locator(f'tr[data-version="{made.body["version"]}"] input[name="to"]').check()
    page.get_by_role("button", name="Show the difference").click()
    page.locator("#difference pre.diff .add").filter(has_text="192.168.2.77").wait_for()


def test_a_phone_and_the_keyboard_alone(phone):
    page = phone.page
    phone.open()
    page.locator("#password").wait_for()
    page.keyboard.press("Tab")  # the skip link first
    page.locator("#password").focus()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Dashboard").wait_for()
    nav = page.locator("#nav")
    assert not nav.is_visible()  # folded behind the menu button on a narrow screen
    page.get_by_role("button", name="Menu").click()
    assert nav.is_visible()
    page.get_by_role("link", name="History").click()
    page.get_by_role("heading", name="History").wait_for()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, width  # nothing wider than the phone


def test_a_servers_setup_script_and_a_backup_download_from_the_page(person):
    page = person.page
    person.log_in()
    person.go("#/services/VIP1/servers/RIP1")
    page.get_by_role("heading", name="Setup script for this server").wait_for()
    with page.expect_download() as script:
        page.get_by_role("button", name="Linux (.sh)").click()
    assert script.value.suggested_filename == "RIP1-192.168.2.50.sh"
    assert Path(script.value.path()).read_text().startswith("#!/bin/sh\n# managed by lbwizard")
    person.go("#/backup")
    with page.expect_download() as backup:
        page.get_by_role("button", name="Download a backup").click()
    assert backup.value.suggested_filename.startswith("lbmaster-") and backup.value.suggested_filename.endswith(".lbbackup")
    page.set_input_files("#restore-file", backup.value.path())
    page.get_by_role("button", name="Check the file").click()
    page.get_by_text("This backup can be restored.").wait_for()
    assert page.get_by_role("button", name="Restore this backup").is_enabled()


PAIR = {
    "units": [
        {"hostname": "lbmaster", "address": "10.0.0.21", "here": True, "reachable": True, "role": "master", "vrrp": "MASTER",
         "config_version": 9, "shared_version": 4, "holds": ["10.0.0.20", "192.168.2.20"], "error": ""},
        {"hostname": "lbbackup", "address": "10.0.0.22", "here": False, "reachable": True, "role": "backup", "vrrp": "BACKUP",
         "config_version": 8, "shared_version": 3, "holds": [], "error": ""},
    ],
    "in_sync": False,
    "peer_behind": 1,
    "split_brain": [],
}  # fmt: skip


def test_the_dashboard_shows_both_units_of_a_pair(person):
    """A dry run has no peer to ask: the pair's part of GET /status is given to the page as a paired unit answers it."""
    page = person.page
    person.log_in()

    def paired(route):
        answer = route.fetch()
        body = answer.json() | {"pair": PAIR}
        route.fulfill(response=answer, json=body)

    page.route("**/api/v1/status", paired)
    person.go("#/history")
    page.get_by_role("heading", name="History").wait_for()
    person.go("#/dashboard")
    page.get_by_role("heading", name="HA pair").wait_for()
    rows = page.locator("#units-title").locator("xpath=ancestor::section").locator("tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).inner_text().split("\t")[:5] == ["lbmaster (this one)", "10.0.0.21", "master", "MASTER", "9"]
    assert "10.0.0.20, 192.168.2.20" in rows.nth(0).inner_text() and "nothing" in rows.nth(1).inner_text()
    assert page.get_by_text("peer behind by 1 version(s)").is_visible()
