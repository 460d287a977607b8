"""The cli tier's shared unit: the quick start's two-arm NAT example set up once per test process."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tests.cli.test_answers_cli import run_wizard
from tests.conftest import TWO_ARM_NAT


@pytest.fixture(scope="session")
def root_template(tmp_path_factory) -> Path:
    """test_lbctl_dry_run's root is a copy of it: the wizard's run was most of each test's time."""
    result, root = run_wizard(tmp_path_factory.mktemp("root-template"), copy.deepcopy(TWO_ARM_NAT))
    assert result.returncode == 0, result.stdout + result.stderr
    return root
