"""The pair's pieces without a network: the key both units make from one pair secret, what a pair change
carries (the shared part) and what it leaves alone (each unit's own), and the peer's verdict on a request."""

from __future__ import annotations

import copy
import os

import pytest
from cryptography.hazmat.primitives import serialization

from lbwizard.config import model
from lbwizard.config.model import RealServer
from lbwizard.config.paths import Paths
from lbwizard.config.verify import verify
from lbwizard.pair import keys, shared, sync, view
from lbwizard.render.rolevars import keepalived_vrrp
from lbwizard.setup.flow import AnswersError, Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import HA_BACKUP_TWO_ARM, HA_MASTER_TWO_ARM

SECRET = "sixteen or more characters"
BACKUP = HA_BACKUP_TWO_ARM


def unit(answers: dict) -> tuple[model.ApplianceConfig, Flow]:
    flow = Flow(LiveSystem())
    return flow.run_answers(copy.deepcopy(answers)), flow


def test_two_units_given_one_pair_secret_make_one_key_and_keep_no_secret():
    master, master_flow = unit(HA_MASTER_TWO_ARM | {"pair_secret": SECRET})
    backup, backup_flow = unit(BACKUP | {"pair_secret": f"  {SECRET}\n"})  # as a file holds it
    assert master.ha.pair_key == backup.ha.pair_key and master.ha.pair_key.startswith("ssh-ed25519 ")
    for flow in (master_flow, backup_flow):  # the identity each unit writes is the private half of that key
        identity = serialization.load_ssh_private_key(flow.pair_identity.encode(), password=None)
        assert keys.public_line(identity) == master.ha.pair_key
    other, _ = unit(BACKUP | {"pair_secret": SECRET + "!"})
    assert other.ha.pair_key != master.ha.pair_key
    assert SECRET not in model.dumps(master) and verify(master) == []


def test_the_secret_typed_on_the_ha_screen_pairs_as_the_answers_file_does():
    """The console wizard asks for the secret on the HA screen; typed, it makes the answers file's key;
    left empty the unit is not paired yet (lbctl pair join later); too short is refused by name."""
    from_file, _ = unit(HA_MASTER_TWO_ARM | {"pair_secret": SECRET})
    typed = Flow(LiveSystem())
    for group in ("ha", "ha_role", "topology", "eth0", "eth1", "routing"):  # the screens before the HA screen
        assert typed.submit(group, HA_MASTER_TWO_ARM) == [], group
    screen = {i: HA_MASTER_TWO_ARM[i] for i in ("peer_address", "floating_external", "floating_internal")}
    problems = typed.submit("ha_addresses", screen | {"pair_secret": "too short"})
    assert [p.field for p in problems] == ["pair_secret"] and "at least 16 characters" in problems[0].message
    assert typed.submit("ha_addresses", screen | {"pair_secret": ""}) == []
    assert typed.build_config().ha.pair_key is None and typed.identity_to_write() is None
    assert typed.submit("ha_addresses", screen | {"pair_secret": SECRET}) == []
    assert typed.build_config().ha.pair_key == from_file.ha.pair_key
    written = serialization.load_ssh_private_key(typed.identity_to_write().encode(), password=None)
    assert keys.public_line(written) == from_file.ha.pair_key  # the same key (the text has a random check word)
    assert SECRET not in model.dumps(typed.build_config())


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (HA_MASTER_TWO_ARM | {"pair_secret": "too short"}, "at least 16 characters"),
        (
            {
                k: v
                for k, v in HA_MASTER_TWO_ARM.items()
                if k not in ("ha_role", "peer_address", "floating_external", "floating_internal")
            }
            | {"ha_pair": False, "pair_secret": SECRET},
            "only an HA pair",
        ),
    ],
)
def test_a_pair_secret_that_cannot_pair_is_refused_by_name(answers, message):
    with pytest.raises(AnswersError) as raised:
        unit(answers)
    assert [p.field for p in raised.value.problems] == ["pair_secret"]
    assert message in str(raised.value.problems[0])


def test_a_pair_change_carries_the_shared_part_and_leaves_each_units_own():
    master, _ = unit(HA_MASTER_TWO_ARM | {"pair_secret": SECRET})
    backup, _ = unit(BACKUP | {"pair_secret": SECRET})
    changed = copy.deepcopy(master)
    changed.virtual_services[0].real_servers.append(RealServer("RIP2", "192.168.2.51", 80, weight=3))
    changed.ha.preempt = False
    changed.gateway, changed.hostname = "10.0.0.32", "renamed"  # the master's own: not carried
    assert shared.differs(master, changed)
    taken = sync.received(backup, sync.request("apply", shared.stepped(changed, 0), 0))
    assert taken.virtual_services == changed.virtual_services and taken.ha.preempt is False
    assert taken.ha.shared_version == 1
    assert (taken.gateway, taken.hostname, taken.ha.role, taken.ha.peer) == (
        backup.gateway,
        backup.hostname,
        "backup",
        "10.0.0.21",
    )
    assert taken.interfaces == backup.interfaces and verify(taken) == []


def test_the_peer_refuses_a_change_made_from_an_older_shared_version():
    master, _ = unit(HA_MASTER_TWO_ARM | {"pair_secret": SECRET})
    backup, _ = unit(BACKUP | {"pair_secret": SECRET})
    backup.ha.shared_version = 3  # it has changes the master does not know
    with pytest.raises(sync.Refused, match="newer than the 2"):
        sync.received(backup, sync.request("apply", shared.stepped(master, 2), 2))
    behind = sync.received(backup, sync.request("apply", shared.stepped(master, 5), 5))  # a peer behind is brought level
    assert behind.ha.shared_version == 6
    with pytest.raises(sync.Refused, match="not 4: nothing to undo"):
        sync.received(backup, sync.request("undo", master, 4))
    lone, _ = unit(BACKUP)
    with pytest.raises(sync.Refused, match="not paired"):
        sync.received(lone, sync.request("apply", master, 0))


def test_the_pair_key_may_run_only_the_receiving_end_from_the_peer(tmp_path):
    master, _ = unit(HA_MASTER_TWO_ARM | {"pair_secret": SECRET})
    line = keys.authorized_text(master, Paths(tmp_path)).splitlines()[-1]
    assert line.startswith('restrict,from="10.0.0.22",command="') and line.endswith(master.ha.pair_key)
    assert f"--root {tmp_path} pair receive" in line
    assert keys.authorized_text(unit(BACKUP)[0], Paths(tmp_path)) == ""  # not paired: no line


def test_the_vrrp_state_is_keepalived_s_own_while_it_is_of_this_run_of_keepalived(tmp_path):
    """What the event reader keeps (netns: written by a real keepalived); a state older than keepalived's
    pid file is from an earlier run, and a state missing for one instance is not known: both None, so
    status falls back to the floating addresses."""
    master, _ = unit(HA_MASTER_TWO_ARM)
    paths = Paths(tmp_path)
    vrrp = keepalived_vrrp(master)
    names = [instance["name"] for instance in vrrp["instances"]]
    assert len(names) == 2  # the VIP's and the floating gateway's
    assert view.keepalived_state(paths, vrrp) is None
    paths.vrrp_state_dir.mkdir(parents=True)
    (paths.vrrp_state_dir / names[0]).write_text("FAULT\n")
    assert view.keepalived_state(paths, vrrp) is None  # the other instance has said nothing yet
    (paths.vrrp_state_dir / names[1]).write_text("FAULT\n")
    assert view.keepalived_state(paths, vrrp) == "FAULT"
    assert view.own_state(master, paths, set())["vrrp"] == "FAULT"  # the addresses alone would say BACKUP
    (paths.vrrp_state_dir / names[1]).write_text("MASTER\n")
    assert view.keepalived_state(paths, vrrp) == "PARTIAL"
    paths.keepalived_pid.write_text("4242\n")
    for name in names:
        os.utime(paths.vrrp_state_dir / name, (1, 1))
    assert view.keepalived_state(paths, vrrp) is None
    assert view.own_state(master, paths, set())["vrrp"] == "BACKUP"
