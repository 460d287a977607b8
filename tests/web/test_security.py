"""What the console's pages and the API answer with, asserted on the wire and in the browser: the security
headers (a Content-Security-Policy without unsafe-inline or unsafe-eval that forbids framing, HSTS, no-store on
anything with a secret), the session cookie's flags, the policy really enforced by chromium, and a change
posted without the session's CSRF token refused with nothing changed."""

from __future__ import annotations

import http.client

from tests.api.conftest import newest, saved_text
from tests.web.conftest import PASSWORD


def headers_of(server, path: str) -> dict[str, str]:
    """The headers of a GET of any path (the API's test client names only /api/v1 paths)."""
    connection = http.client.HTTPSConnection("127.0.0.1", server.port, context=server.context, timeout=60)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {server.admin}"})
        response = connection.getresponse()
        response.read()
        assert response.status == 200, (path, response.status)
        return {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


def test_every_answer_carries_the_security_headers(console):
    for path in ("/", "/static/js/app.js", "/static/console.css", "/api/v1/openapi.json", "/api/v1/status"):
        headers = headers_of(console, path)
        policy = headers["content-security-policy"]
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, policy
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["frame-ancestors"] == "'none'" and directives["script-src"] == "'self'", policy
        assert directives["default-src"] == "'none'" and directives["style-src"] == "'self'", policy
        hsts = headers["strict-transport-security"]
        assert hsts.startswith("max-age=") and int(hsts.removeprefix("max-age=")) >= 31536000, hsts
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
    assert headers_of(console, "/static/js/app.js")["content-type"].startswith("text/javascript")


def test_answers_with_a_secret_are_not_stored(console):
    logged_in = console.request("POST", "/session", {"password": PASSWORD}, token=None)
    made = console.request("POST", "/tokens", {"name": "cachecheck"})
    backup = console.request("GET", "/backup", parse=False)
    for answer in (logged_in, made, backup):
        assert answer.status == 200 and answer.headers["cache-control"] == "no-store", answer.headers
    assert made.body["token"].startswith("lbw_") and backup.headers["content-type"] == "application/octet-stream"
    assert console.request("DELETE", "/tokens/cachecheck").status == 200


def test_the_session_cookie_is_secure_httponly_and_strict(console):
    answer = console.request("POST", "/session", {"password": PASSWORD}, token=None)
    cookie = answer.headers["set-cookie"]
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "secure" in attributes and "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
    assert PASSWORD not in console.log.read_text()


def test_a_change_without_the_csrf_token_is_refused_from_the_page_too(person):
    person.log_in()
    server = person.server
    before, version = saved_text(server.root), newest(server.root)
    cookies = {c["name"]: c for c in person.context.cookies()}
    cookie = cookies["lbwizard_session"]
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert person.page.evaluate("document.cookie") == ""  # the page's scripts never see it
    statuses = person.page.evaluate(
        """async () => {
            const body = JSON.stringify({ address: "192.168.2.99" });
            const sent = (headers) => fetch("/api/v1/virtual-services/VIP1/real-servers",
                { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body }).then((r) => r.status);
            return [await sent({}), await sent({ "X-CSRF-Token": "forged" })];
        }"""
    )
    assert statuses == [403, 403]
    assert saved_text(server.root) == before and newest(server.root) == version


def test_the_policy_is_enforced_no_inline_script_runs(person):
    person.log_in()
    page = person.page
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.append(script);
            const div = document.createElement("div");
            div.innerHTML = '<img src="x" onerror="window.injected = true">';
            document.body.append(div);
        }"""
    )
    page.wait_for_timeout(300)
    assert page.evaluate("window.injected === undefined")
    violations = [m for m in person.messages if "Content Security Policy" in m]
    assert violations, person.messages
    person.messages.clear()  # expected here: the fixture fails a test on any other
