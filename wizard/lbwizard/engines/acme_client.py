"""ACME (RFC 8555) with certbot's acme package: this unit's account, and an order proved by HTTP-01.

The account key is this unit's own (EC P-256, /etc/lbwizard/acme/account.json, 0600, with the account URL
each CA gave it); its JWK thumbprint goes into appliance.yaml (acme.thumbprint), from which HAProxy answers
every challenge token with its key authorization (config/acme_http.py). An order therefore writes nothing
on the unit: it asks, the CA fetches http://NAME/.well-known/acme-challenge/TOKEN from HAProxy, and the
certificate comes back with a new key made for it. Every failure is an AcmeError in a line for the admin.
The CA's HTTPS is checked against the trust store requests uses (REQUESTS_CA_BUNDLE when set).
"""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import dataclass
from typing import Any

from ..config.files import atomic_write
from ..config.paths import Paths

ORDER_SECONDS = 120  # polling the authorizations and the finalization, per order
USER_AGENT = "lbwizard-acme"


class AcmeError(RuntimeError):
    """An order or an account the CA refused, or a CA that could not be reached; the message says why."""


@dataclass
class Account:
    key: Any  # josepy's JWKEC
    thumbprint: str
    registered: dict[str, str]  # directory URL -> account URL


def _path(paths: Paths):
    return paths.acme_dir / "account.json"


def _b64(data: bytes) -> str:
    import josepy

    return josepy.b64encode(data).decode()


def account(paths: Paths) -> Account:
    """This unit's ACME account key, made (and kept, 0600) the first time."""
    import josepy
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        data = json.loads(_path(paths).read_text())
        key = josepy.JWKEC.from_json(data["key"])
        registered = {str(k): str(v) for k, v in data.get("registered", {}).items()}
    except FileNotFoundError:
        key, registered = josepy.JWKEC(key=ec.generate_private_key(ec.SECP256R1())), {}
        _save(paths, key, registered)
    except (OSError, ValueError, KeyError, TypeError, josepy.DeserializationError) as exc:
        raise AcmeError(f"{_path(paths)} cannot be read ({exc}); move it away to make a new account") from None
    return Account(key, _b64(key.thumbprint(hash_function=hashes.SHA256)), registered)


def _save(paths: Paths, key: Any, registered: dict[str, str]) -> None:
    paths.acme_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(paths.acme_dir, 0o700)
    atomic_write(_path(paths), json.dumps({"key": key.to_json(), "registered": registered}, indent=1) + "\n", 0o600)


def _client(paths: Paths, found: Account, directory: str, email: str | None) -> Any:
    """A client of the CA at directory, with this unit's account there (registered now if it has none)."""
    import josepy
    from acme import client, errors, messages

    net = client.ClientNetwork(found.key, alg=josepy.ES256, user_agent=USER_AGENT, timeout=30)
    acme = client.ClientV2(client.ClientV2.get_directory(directory, net), net)
    if directory in found.registered:
        net.account = messages.RegistrationResource(uri=found.registered[directory], body=messages.Registration())
        return acme
    registration = messages.NewRegistration.from_data(email=email, terms_of_service_agreed=True)
    try:
        account = acme.new_account(registration)
    except errors.ConflictError as exists:  # the key is known there already: its account URL is the answer
        account = messages.RegistrationResource(uri=exists.location, body=messages.Registration())
        net.account = account
    found.registered[directory] = account.uri
    _save(paths, found.key, found.registered)
    return acme


def register(paths: Paths, directory: str, email: str | None) -> Account:
    """This unit's account, known to the CA at directory (an AcmeError when the CA cannot be asked)."""
    found = account(paths)
    _asked(lambda: _client(paths, found, directory, email), directory)
    return found


def issue(paths: Paths, domains: list[str], directory: str, email: str | None) -> tuple[bytes, bytes]:
    """(the certificate with its chain, its new private key) for domains, proved by HTTP-01 through HAProxy."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    found = account(paths)
    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    def order() -> bytes:
        from acme import challenges, crypto_util, messages

        acme = _client(paths, found, directory, email)
        placed = acme.new_order(crypto_util.make_csr(key_pem, domains))
        for authorization in placed.authorizations:
            if authorization.body.status != messages.STATUS_PENDING:  # proved recently: the CA reuses it
                continue
            http = [c for c in authorization.body.challenges if isinstance(c.chall, challenges.HTTP01)]
            if not http:
                name = authorization.body.identifier.value
                raise AcmeError(f"the CA offers no HTTP-01 challenge for {name}; only HTTP-01 is answered here")
            if http[0].status == messages.STATUS_PENDING:  # one already being validated is not asked again
                acme.answer_challenge(http[0], http[0].chall.response(found.key))
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=ORDER_SECONDS)
        return acme.poll_and_finalize(placed, deadline).fullchain_pem.encode()

    return _asked(order, directory), key_pem


def _asked(call, directory: str):
    """call(), its failures said in one line: what the CA answered, or why it could not be asked."""
    import requests
    from acme import errors, messages

    try:
        return call()
    except AcmeError:
        raise
    except errors.ValidationError as exc:
        raise AcmeError(_validation_text(exc)) from None
    except errors.TimeoutError:
        raise AcmeError(f"the CA did not finish the order within {ORDER_SECONDS} s") from None
    except messages.Error as exc:
        raise AcmeError(f"the CA refused: {exc.detail or exc.typ}") from None
    except requests.exceptions.RequestException as exc:
        raise AcmeError(f"the CA at {directory} cannot be reached: {_reason(exc)}") from None
    except (errors.Error, ValueError) as exc:
        raise AcmeError(f"the CA at {directory}: {exc}") from None


def _validation_text(exc: Any) -> str:
    """Which name failed its challenge, and what the CA saw."""
    said = []
    for authorization in exc.failed_authzrs:
        name = authorization.body.identifier.value
        errors = [c.error for c in authorization.body.challenges if c.error is not None]
        detail = "; ".join(str(e.detail or e.typ) for e in errors) or "no reason given"
        said.append(f"{name}: {detail}")
    return "the CA could not verify " + " | ".join(said)


def _reason(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "..."
