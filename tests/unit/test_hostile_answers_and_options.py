"""Every key of the answers file and every lbctl option against the hostile values of test_hostile_values:
each refused by its key or flag, or taken exactly as written. The keys come from the answers file's schema
and the options from the settings' declarations, so a new key or option is covered when it is declared.

Answers go through the real reader (a YAML file read by document.load_file) and Flow.run_answers, the path
`lbwizard --answers` takes; options through read_options, the path lbctl and the forms take. The cli tier
(tests/cli/test_hostile_input_cli.py) proves the commands wire these up: exit 2 and nothing written.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from lbwizard.config import document
from lbwizard.config.kinds import unprintable
from lbwizard.config.options import SERVER_NAME, SERVER_OPTIONS, SERVICE_OPTIONS, read_options
from lbwizard.setup.answers_file import ANSWERS_ONLY
from lbwizard.setup.answers_schema import schema
from lbwizard.setup.flow import QUESTION_BY_ID, AnswersError, Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import HA_MASTER_TWO_ARM, TWO_ARM_NAT
from tests.unit.test_hostile_values import HOSTILE

ANSWER_KEYS = [key for key in schema()["properties"] if key != "restore"]
OPTIONS = [*SERVICE_OPTIONS, SERVER_NAME, *SERVER_OPTIONS]


def answers_with(key: str, text: str) -> dict:
    base = dict(HA_MASTER_TWO_ARM) if key.startswith(("ha_", "peer_", "floating_", "pair_")) else dict(TWO_ARM_NAT)
    return base | {key: text}


def yaml_text(answers: dict) -> str:
    """The answers as an admin's file: every value a double-quoted YAML scalar, so the text is exactly it."""
    return "".join(
        f"{key}: {json.dumps(value) if isinstance(value, str) else yaml.safe_dump(value).splitlines()[0]}\n"
        for key, value in answers.items()
    )


def reads(key: str, text: str) -> bool:
    """Does the key's own kind take this text (or, empty, its default)?"""
    kind = QUESTION_BY_ID[key].accepts if key in QUESTION_BY_ID else ANSWERS_ONLY[key][0]
    try:
        kind.parse(text)
    except ValueError:
        return text == ""
    return True


def test_every_answers_key_is_walked():
    assert {"eth0_address", "vip_port", "admin_password", "management_networks", "ntp_servers", "metrics"} <= set(ANSWER_KEYS)


@pytest.mark.parametrize("key", ANSWER_KEYS)
def test_each_answers_key_refuses_by_name_or_takes_as_written(tmp_path, key):
    path = tmp_path / "answers.yaml"
    for text in HOSTILE:
        path.write_text(yaml_text(answers_with(key, text)), encoding="utf-8")
        data = document.load_file(path, document.ANSWERS_LIMIT, "answers")
        assert data[key] == text  # the reader keeps the text as written
        try:
            config = Flow(LiveSystem()).run_answers(data)
        except AnswersError as exc:
            fields = [p.field for p in exc.problems]
            named = any(f == key or f.startswith(f"{key}[") for f in fields)
            # a value of the key's kind ("no" for ha_pair, an empty answer taking its default) may make other
            # answers wrong: those are named by their own keys
            assert named or reads(key, text), (key, text[:40], [str(p) for p in exc.problems])
            assert all(f.split("[")[0] in ANSWER_KEYS for f in fields), fields
            for problem in exc.problems:
                assert len(problem.message) < 400 and not unprintable(str(problem)), str(problem)[:200]
            continue
        dumped = json.dumps(config.to_dict())
        assert not unprintable(dumped.encode().decode("unicode_escape", errors="ignore")[:0])  # it serialises
        for value in _strings(config.to_dict()):
            assert not unprintable(value) and value == value.strip(), (key, text[:40], value[:60])


def _strings(value: object):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.mark.parametrize("option", OPTIONS, ids=[o.flag for o in OPTIONS])
def test_each_lbctl_option_refuses_by_flag_or_takes_as_written(option):
    for text in HOSTILE:
        options, problems = read_options([option], {option.path: text})
        if problems:
            assert [f for f, _ in problems] == [option.flag], problems
            assert len(problems[0][1]) < 400 and not unprintable(problems[0][1]), problems
            continue
        if text == "":
            assert options == {}  # an empty argument sets nothing
            continue
        value = options[option.path]
        if isinstance(value, str):
            assert value == text, (option.flag, text[:40], value)
        elif isinstance(value, bool):
            assert text.lower() in ("yes", "no", "y", "n", "true", "false", "on", "off"), (option.flag, text)
        elif isinstance(value, int):
            assert str(value) == text, (option.flag, text, value)
        elif isinstance(value, list):  # a list of names (--certificates): the words typed, or none
            assert value == ([] if text.lower() == "none" else re.split(r"[ ,]+", text)), (option.flag, text[:40], value)
            assert all(not unprintable(item) for item in value), (option.flag, value)
        else:
            assert value is None and text.lower() == "none", (option.flag, text, value)
