"""The certificate store in the browser: a self-signed PEM uploaded from a file and listed with its expiry, one
whose key is another's refused at the file's field in lbctl's words with nothing added, the same name replaced
only with the box ticked, a removal refused while a service presents it (nothing removed), then removed after a
confirmation."""

from __future__ import annotations

from tests.api.conftest import newest, saved_text
from tests.certificates import chain, issue


def test_upload_list_refuse_and_remove_a_certificate(person, tmp_path):
    page, server = person.page, person.server
    own = issue("console.example.com", names=("console.example.com",))
    good, bad = tmp_path / "console.pem", tmp_path / "mismatch.pem"
    good.write_bytes(own.cert_pem + own.key_pem)
    bad.write_bytes(own.cert_pem + chain("other.example.com").leaf.key_pem)
    person.log_in()
    page.get_by_role("link", name="Certificates").click()
    page.get_by_role("heading", name="Certificates", exact=True).wait_for()
    form = page.get_by_role("form", name="Upload a certificate")

    form.locator('input[name="name"]').fill("console")
    form.locator('input[name="pem"]').set_input_files(str(good))
    form.get_by_role("button", name="Upload").click()
    assert "added certificate console (console.example.com, until " in person.finish_change()
    listed = server.request("GET", "/certificates/console").body
    row = page.locator('tr[data-certificate="console"]')
    row.wait_for()
    days = int(listed["seconds_left"] // 86400)
    assert f"{listed['not_after'][:10]} ({days} days left)" in row.inner_text()
    assert "CN=console.example.com" in row.inner_text()
    assert listed["not_after"][:10] == own.certificate.not_valid_after_utc.date().isoformat()
    row.get_by_role("button", name="show").click()
    page.locator("#certificate-shown").get_by_text(listed["fingerprint"]).wait_for()

    before, version, store = saved_text(server.root), newest(server.root), server.request("GET", "/certificates").body
    form = page.get_by_role("form", name="Upload a certificate")
    form.locator('input[name="name"]').fill("mismatch")
    form.locator('input[name="pem"]').set_input_files(str(bad))
    form.get_by_role("button", name="Upload").click()
    at_field = form.locator('input[name="pem"] ~ .error')
    at_field.filter(has_text="does not belong").wait_for()
    said = at_field.inner_text()
    assert said.startswith("the private key does not belong to the certificate (CN=console.example.com)"), said
    form.locator(".problems").filter(has_text="Nothing was changed").wait_for()
    assert saved_text(server.root) == before and newest(server.root) == version
    assert _timeless(server.request("GET", "/certificates").body) == _timeless(store)

    renewed = issue("console.example.com", names=("console.example.com", "www.console.example.com"))
    good.write_bytes(renewed.cert_pem + renewed.key_pem)
    form.locator('input[name="name"]').fill("console")
    form.locator('input[name="pem"]').set_input_files(str(good))
    form.get_by_role("button", name="Upload").click()
    form.locator('input[name="name"] ~ .error').filter(has_text="is in the store already").wait_for()  # not ticked
    assert newest(server.root) == version
    form.locator('input[name="replace"]').check()
    form.get_by_role("button", name="Upload").click()
    assert "replaced certificate console" in person.finish_change()
    page.locator('tr[data-certificate="console"]').filter(has_text="www.console.example.com").wait_for()

    service = {"name": "CONSOLETLS", "address": "10.0.0.45", "port": 443, "layer": 7, "forwarding": "snat",
               "scheduler": "roundrobin", "tls": True, "certificates": ["console"]}  # fmt: skip
    assert server.request("POST", "/virtual-services", service).status == 200
    person.go("#/dashboard")
    page.get_by_role("heading", name="Dashboard").wait_for()
    person.go("#/certificates")
    row = page.locator('tr[data-certificate="console"]')
    row.filter(has_text="CONSOLETLS").wait_for()
    version = newest(server.root)
    row.get_by_role("button", name="remove").click()
    person.confirm("CONSOLETLS presents it")
    refusal = page.locator("[role=alert] .problems").filter(has_text="Nothing was removed")
    refusal.wait_for()
    assert "CONSOLETLS" in refusal.inner_text() and newest(server.root) == version
    page.screenshot(path=str(person.shots / f"{person.name}-refused.png"), full_page=True)  # the store, and why not
    assert [c["name"] for c in server.request("GET", "/certificates").body] == ["console"]

    assert server.request("DELETE", "/virtual-services/CONSOLETLS").status == 200
    person.go("#/dashboard")
    page.get_by_role("heading", name="Dashboard").wait_for()
    person.go("#/certificates")
    page.locator('tr[data-certificate="console"]').get_by_role("button", name="remove").click()
    person.confirm("leave the store")
    assert "removed" in person.finish_change()
    page.get_by_text("No certificate in the store yet").wait_for()
    assert server.request("GET", "/certificates").body == []


def _timeless(rows: list[dict]) -> list[dict]:
    """The store as listed, without seconds_left (each read takes its own instant)."""
    return [{key: value for key, value in row.items() if key != "seconds_left"} for row in rows]
