"""lbctl's number arguments (rollback VERSION, --if-version N, access remove N) are read as the settings'
numbers are, in plain decimal digits: argparse's int() took 03, +3, 3_0 and Unicode digits, so `lbctl
rollback ٢` rolled back to version 2 (found by the issue 34 review). Refused with exit 2 naming the argument,
nothing changed; a plain number is still taken."""

from __future__ import annotations

import copy

import pytest

from tests.cli.test_answers_cli import run_wizard
from tests.cli.test_lbctl_dry_run import snapshot
from tests.cli.test_values_hostile_review import lbctl
from tests.conftest import TWO_ARM_NAT

WRITTEN = ["\u0662", "02", "+2", "0x2"]


@pytest.fixture(scope="module")
def unit(tmp_path_factory):
    """One unit for the module: every test asserts that it changes nothing."""
    result, root = run_wizard(tmp_path_factory.mktemp("numbers"), copy.deepcopy(TWO_ARM_NAT))
    assert result.returncode == 0, result.stdout + result.stderr
    return root


@pytest.mark.parametrize("text", WRITTEN, ids=["arabic_indic", "zero", "plus", "hex"])
@pytest.mark.parametrize(
    ("args", "argument"),
    [(("rollback", "{}"), "argument version"), (("--if-version", "{}", "vs", "list"), "argument --if-version"),
     (("access", "remove", "{}"), "argument number")],
    ids=["rollback", "if_version", "access_remove"],
)  # fmt: skip
def test_a_number_argument_is_plain_decimal_digits(unit, text, args, argument):
    before = snapshot(unit)
    result = lbctl(unit, *(text if a == "{}" else a for a in args))
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert f"{argument}: " in err and "Traceback" not in err, err
    assert snapshot(unit) == before


def test_a_plain_number_is_taken(unit):
    result = lbctl(unit, "access", "remove", "1")  # read as 1: the unit has no input rule 1, said by field
    assert result.returncode == 2
    assert "there is no input rule 1" in result.stdout.decode() + result.stderr.decode()
    assert lbctl(unit, "--if-version", "1", "vs", "list").returncode == 0
