"""Where this unit answers ACME's HTTP-01 challenges (RFC 8555 8.3), decided from the configuration alone.

While the unit has an ACME account (appliance.yaml's acme), HAProxy answers GET
/.well-known/acme-challenge/TOKEN on port 80 with TOKEN.THUMBPRINT, the key authorization of this unit's
account, before any other rule (the stateless form: nothing is written per order, so an order needs no
change of HAProxy, and a token of another account gets an answer its CA refuses). A layer-7 HTTP service on
port 80 answers it first in its own frontend; the address of every layer-7 TLS service that has nothing on
port 80 gets a listener of its own (and the firewall lets port 80 in there) that answers the challenge path
and nothing else. A layer-4 service on port 80 keeps it: IPVS takes its packets before HAProxy could.
"""

from __future__ import annotations

from .addressing import service_ports
from .model import ApplianceConfig, VirtualService

PORT = 80


def _on_port_80(service: VirtualService) -> bool:
    return service.protocol == "tcp" and PORT in service_ports(service.port, service.extra_ports)


def answers_in_frontend(config: ApplianceConfig, service: VirtualService) -> bool:
    """Whether this service's own frontend answers the challenge (a layer-7 HTTP service on port 80)."""
    http = (
        not service.tls
        and not service.server_initiating
        and not (service.persistence is not None and service.persistence.mode == "ssl-session-id")
    )
    return config.acme is not None and service.layer == 7 and http and _on_port_80(service)


def listener_addresses(config: ApplianceConfig) -> list[str]:
    """The addresses of layer-7 TLS services where nothing serves port 80: HAProxy listens there for the CA."""
    if config.acme is None:
        return []
    taken = {s.address for s in config.virtual_services if _on_port_80(s)}
    wanted = [s.address for s in config.virtual_services if s.layer == 7 and s.tls and s.address not in taken]
    return list(dict.fromkeys(wanted))
