"""The API's parts in-process: the token store keeps only hashes, a JSON body is read by the settings' kinds
(as the published schema says, not as text), and lbctl's text options stay as they were."""

from __future__ import annotations

import json
import stat

import pytest

from lbwizard.api.serve import ListenError, parse_listen
from lbwizard.config import api_tokens, json_options
from lbwizard.config.model import RealServer, VirtualService
from lbwizard.config.options import SERVER_NAME, SERVER_OPTIONS, SERVICE_OPTIONS
from lbwizard.config.paths import Paths


def test_a_token_is_stored_as_its_sha256_only_in_a_0600_file(tmp_path):
    paths = Paths(tmp_path)
    token = api_tokens.add(paths, "nms", read_only=True)
    stored = api_tokens.token_file(paths)
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert token not in stored.read_text() and api_tokens.digest(token) in stored.read_text()
    found = api_tokens.find(paths, token)
    assert (found.name, found.sha256, found.read_only) == ("nms", api_tokens.digest(token), True)
    assert api_tokens.find(paths, token + "x") is None and api_tokens.find(paths, "") is None
    second = api_tokens.add(paths, "deploy", read_only=False)
    assert len({token, second}) == 2 and len(second) >= 40 and second.startswith(api_tokens.PREFIX)
    with pytest.raises(api_tokens.TokenError, match="exists"):
        api_tokens.add(paths, "nms", read_only=False)
    with pytest.raises(api_tokens.TokenError, match="usable name"):
        api_tokens.add(paths, "bad name\n", read_only=False)
    api_tokens.remove(paths, "nms")
    assert api_tokens.find(paths, token) is None and api_tokens.find(paths, second).name == "deploy"
    with pytest.raises(api_tokens.TokenError, match="no token named"):
        api_tokens.remove(paths, "nms")


def test_a_token_file_that_is_not_ours_lets_nobody_in(tmp_path):
    paths = Paths(tmp_path)
    api_tokens.token_file(paths).parent.mkdir(parents=True)
    for text in ("not json", "[]", '{"tokens": [{"name": "x"}]}', '{"tokens": 5}'):
        api_tokens.token_file(paths).write_text(text)
        assert api_tokens.load(paths) == [] and api_tokens.find(paths, "anything") is None


def read_service(data):
    return json_options.read(VirtualService, SERVICE_OPTIONS, data)


def test_json_settings_are_read_as_json_by_their_kinds():
    options, problems = read_service(
        {"port": 443, "layer": 7, "tls": True, "persistence": {"mode": "active-cookie", "timeout": 600}, "fwmark": None}
    )
    assert problems == []
    assert options == {"port": 443, "layer": 7, "tls": True, "persistence.mode": "active-cookie",
                       "persistence.timeout": 600, "fwmark": None}  # fmt: skip
    assert read_service({"persistence": None}) == ({"persistence": None}, [])


@pytest.mark.parametrize(
    "data, field",
    [
        ({"port": "443"}, "port"),  # text where the schema says a number
        ({"tls": "yes"}, "tls"),
        ({"layer": True}, "layer"),
        ({"address": None}, "address"),  # not clearable
        ({"health_check": None}, "health_check"),  # a part that is always there
        ({"persistence": "source-ip"}, "persistence"),
        ({"persistence": {"colour": 1}}, "persistence.colour"),
        ({"real_servers": []}, "real_servers"),
        ({"name\n": 1}, "'name\\n'"),  # a key is shown escaped
        ({"port": 70000}, "port"),
    ],
)
def test_json_settings_not_of_their_kind_are_problems_by_path(data, field):
    options, problems = read_service(data)
    assert [f for f, _ in problems] == [field] and options == {}


def test_a_body_that_is_not_an_object_is_one_problem():
    assert json_options.read(RealServer, [SERVER_NAME, *SERVER_OPTIONS], [1]) == (
        {},
        [("body", "expected a JSON object of settings, got a list")],
    )


@pytest.mark.parametrize(
    "text, expected",
    [("127.0.0.1:9443", ("127.0.0.1", 9443)), ("10.0.0.21", ("10.0.0.21", 9443)), ("[::1]:8443", ("::1", 8443))],
)
def test_listen_addresses(text, expected):
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["10.0.0.21:99999", "::1:80", "[::1]x", "a:b:c"])
def test_listen_addresses_refused(text):
    with pytest.raises(ListenError):
        parse_listen(text)


def test_every_lbctl_option_is_one_the_json_reader_takes():
    """The API's body and lbctl's flags are one table: a value for each option reads back as given."""
    for option in SERVICE_OPTIONS:
        head, _, rest = option.path.partition(".")
        data = {head: {rest: None}} if rest else {head: None}
        _, problems = read_service(data)
        assert all(field == option.path for field, _ in problems), (option.path, problems)
    assert json.dumps(read_service({})) == json.dumps(({}, []))
