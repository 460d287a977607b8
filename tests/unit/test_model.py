"""appliance.yaml: the documented shape, loads(dumps(x)) == x, and shape errors named by field."""

from __future__ import annotations

import pytest

from lbwizard.config import model
from lbwizard.config.model import ConfigFormatError, HealthCheck, Persistence, RealServer, VirtualService


def test_example_round_trips(example_config):
    assert model.loads(model.dumps(example_config)) == example_config


def test_round_trip_keeps_every_option(example_config):
    example_config.virtual_services.append(
        VirtualService(
            name="WEB-L7",
            address="10.0.0.21",
            port=443,
            extra_ports="8000-8080, 9002",
            layer=7,
            forwarding="snat",
            scheduler="hdr",
            scheduler_param="Host",
            persistence=Persistence(mode="active-cookie", timeout=3600, name="SRV"),
            health_check=HealthCheck(type="http", path="/health", expect=200, interval=2),
            real_servers=[RealServer("A", "192.168.2.60", 8443, weight=5, min_conns=1, max_conns=100)],
        )
    )
    assert model.loads(model.dumps(example_config)) == example_config


def test_document_has_the_designed_top_level(example_config):
    text = model.dumps(example_config)
    assert text.startswith("# managed by lbwizard")
    data = model.yaml.safe_load(text)
    top = ["version", "hostname", "topology", "interfaces", "gateway", "nameservers", "ha", "access"]
    top += ["time", "logging", "metrics", "api", "virtual_services", "certificates", "acme"]
    assert list(data) == top
    assert data["version"] == 1
    assert data["interfaces"]["eth0"] == {"address": "10.0.0.21/24", "role": "external"}
    assert data["virtual_services"][0]["real_servers"][0]["address"] == "192.168.2.50"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("version: 2\n", "version"),
        ("- a list\n", "config"),
        ("hostname: x\ncolour: blue\n", "colour"),
        ("virtual_services: [{name: A, address: 10.0.0.1}]\n", "virtual_services[0].port"),
        (
            "virtual_services: [{name: A, address: 10.0.0.1, port: 80, real_servers: [{name: R}]}]\n",
            "virtual_services[0].real_servers[0].address",
        ),
        ("interfaces: {eth0: {address: 10.0.0.1/24, mtu: 9000}}\n", "interfaces.eth0.mtu"),
        ("ha: {peer: 10.0.0.2, floating: [1]}\n", "ha.floating"),
        ("key: [unclosed\n", "config"),
    ],
)
def test_shape_errors_name_the_field(text, field):
    with pytest.raises(ConfigFormatError) as caught:
        model.loads(text)
    assert field in [f for f, _ in caught.value.problems]
