"""Namespace labs need root; each test gets a fresh lab that is always torn down."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.netns.lab import Lab


@pytest.fixture
def lab():
    if os.geteuid() != 0 or not shutil.which("iptables-legacy-save"):
        pytest.skip("needs root and iptables-legacy (make test installs it)")
    built = Lab()
    try:
        yield built.build()
    finally:
        built.close()
