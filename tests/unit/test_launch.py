"""launch.py judges from the command line alone whether a command makes a change with a hand-over (then the
playbook's process starts before lbwizard's imports). A change judged wrongly only loses the early start,
a read-only command judged wrongly starts a process for nothing: both are checked here, command by command."""

from __future__ import annotations

import pytest

from lbwizard.launch import lbctl_changes, lbwizard_changes

LBCTL = {
    "rs add VIP1 192.168.2.51": True,
    "--root /r rs add VIP1 192.168.2.51 --weight 3": True,
    "-m why rs drain VIP1 RS1": True,
    "rs set VIP1 RS1 --weight 2": True,
    "vs add SHOP --address 10.0.0.21 --port 443": True,
    "vs remove SHOP": True,
    "access key add ssh-ed25519": True,
    "access allow 2222": True,
    "time servers 10.0.0.1": True,
    "metrics on": True,
    "rollback": True,
    "rollback 3": True,
    "restore backup.tar": True,
    "pair join --secret-file s": True,
    "rs add VIP1 192.168.2.51 --no-handover": False,
    "rs add --help": False,
    "status": False,
    "--json status": False,
    "vs list": False,
    "vs show VIP1": False,
    "access show": False,
    "access key list": False,
    "metrics show": False,
    "time show": False,
    "history": False,
    "diagnose": False,
    "backup out.tar": False,
    "pair status": False,
    "pair sync": False,  # the peer changes, not this unit
    "pair receive": False,  # mostly the peer's questions: the transaction starts it when it is a change
    "": False,
}
LBWIZARD = {
    "apply --config c.yaml --dry-run --root /r": True,
    "apply": True,
    "--root /r apply --config c.yaml": True,
    "--answers a.yaml": True,
    "--answers=a.yaml --dry-run": True,
    "apply --boot": False,
    "apply --config c.yaml --no-handover": False,
    "": False,  # the interactive wizard: minutes of questions before its change
    "--setup": False,
    "rollback": False,
    "confirm": False,
    "--help": False,
}


@pytest.mark.parametrize("line", LBCTL)
def test_lbctl_starts_the_playbook_early_for_changes_only(line):
    assert lbctl_changes(line.split()) is LBCTL[line]


@pytest.mark.parametrize("line", LBWIZARD)
def test_lbwizard_starts_the_playbook_early_for_changes_only(line):
    assert lbwizard_changes(line.split()) is LBWIZARD[line]
