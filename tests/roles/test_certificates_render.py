"""The haproxy role with the certificate store and ACME (issue 39): what it renders is what haproxy -c takes.
Two store certificates on one bind line (the first the default), HTTP-01 answered first in an HTTP service's
frontend and by a listener of its own on a TLS-only address."""

from __future__ import annotations

from lbwizard.config import certstore, model
from lbwizard.render.rolevars import haproxy_services
from tests.certificates import chain
from tests.roles.render import haproxy_check, render
from tests.unit.test_certificates import acme_config


def test_store_certificates_and_acme_answers_render_as_haproxy_takes_them(tmp_path):
    config = acme_config()
    store = tmp_path / "etc/lbwizard/certificates"
    store.mkdir(parents=True)
    for name in ("shop", "api"):
        data = chain(f"{name}.example.test").pem()
        fingerprint = certstore.fingerprint_of(data)
        (store / f"{fingerprint}.pem").write_bytes(data)
        config.certificates.append(model.Certificate(name, fingerprint))
    for service in config.virtual_services:
        if service.tls:
            service.certificates = ["shop", "api"]
    text = render("haproxy", config, haproxy_services=haproxy_services(config, str(tmp_path)))
    shop, api = (store / f"{c.fingerprint}.pem" for c in config.certificates)
    assert f"    bind 10.0.0.21:443 ssl crt {shop} crt {api}\n" in text
    web = text[text.index("frontend WEB\n") :]
    first_rule = next(line for line in web.splitlines() if line.lstrip().startswith(("http-request", "tcp-request")))
    assert first_rule.startswith(
        '    http-request return status 200 content-type text/plain lf-string "%[path,field(-1,/)].' + "T" * 43
    )
    listener = text[text.index("frontend lb_acme_challenge\n") :].split("\n\n")[0]
    assert (
        "    bind 10.0.0.22:80\n" in listener and "10.0.0.23:80" not in listener and "http-request return status 404" in listener
    )
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    checked = haproxy_check(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
