"""`lbwizard schema`: JSON Schema of appliance.yaml and of the answers file, made from the declarations. The
README's examples validate against it, a misspelt key or a wrong type is refused by it, and what the strict
loader accepts and saves validates too (a schema that refused the unit's own files would be worse than none)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from lbwizard.config import model
from lbwizard.config.declare import json_schema
from lbwizard.setup.answers_schema import schema as answers_schema
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import HA_MASTER_TWO_ARM, ONE_ARM_DR, TWO_ARM_NAT

README = Path(__file__).resolve().parents[2] / "README.md"
LBWIZARD = str(Path(sys.executable).parent / "lbwizard")


def readme_examples() -> dict[str, dict]:
    """The README's YAML examples by what they are (an answers file, or appliance.yaml)."""
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", README.read_text(), re.S)]
    return {("config" if "version" in block else "answers"): block for block in blocks}


def validator(document: str) -> jsonschema.Draft202012Validator:
    result = subprocess.run([LBWIZARD, "schema", document], capture_output=True, text=True, timeout=60, check=True)
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_the_command_prints_the_declarations_schemas():
    assert validator("config").schema == json.loads(
        json.dumps(json_schema(model.ApplianceConfig, "lbwizard appliance.yaml", model.ApplianceConfig.__doc__ or ""))
    )
    assert validator("answers").schema == json.loads(json.dumps(answers_schema()))


@pytest.mark.parametrize("document", ["config", "answers"])
def test_the_readme_examples_validate_and_a_misspelt_key_is_refused(document):
    example = readme_examples()[document]
    check = validator(document)
    check.validate(example)
    misspelt = dict(example)
    key = "hostname" if document == "config" else "vip_port"
    misspelt[key[:-1] + key[-1].upper()] = misspelt.pop(key, "lb1")
    errors = list(check.iter_errors(misspelt))
    assert any("Additional properties are not allowed" in e.message for e in errors), errors


def test_the_readme_config_example_loads_and_verifies():
    from lbwizard.config.verify import verify

    text = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.S)
    config = model.loads(next(t for t in text if t.startswith("version: 1")))
    assert verify(config) == []


@pytest.mark.parametrize("answers", [TWO_ARM_NAT, ONE_ARM_DR, HA_MASTER_TWO_ARM], ids=["two_arm", "one_arm", "ha"])
def test_what_the_unit_saves_validates(answers):
    saved = model.dumps(Flow(LiveSystem()).run_answers(dict(answers)))
    validator("config").validate(yaml.safe_load(saved))
    validator("answers").validate(answers)


@pytest.mark.parametrize(
    ("document", "change"),
    [
        ("config", {"virtual_services": [{"name": "W", "address": "10.0.0.21", "port": 70000}]}),
        ("config", {"hostname": "lb\nmaster"}),
        ("config", {"topology": "three-arm"}),
        ("answers", {"vip_port": "eighty"}),
        ("answers", {"ha_pair": "maybe"}),
        ("answers", {"method": "magic"}),
    ],
    ids=["port_range", "newline", "choice", "port_text", "yes_no", "method"],
)
def test_the_schema_refuses_what_the_loader_refuses(document, change):
    base = readme_examples()[document]
    assert list(validator(document).iter_errors(base | change))
