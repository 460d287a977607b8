"""SSH public keys as appliance.yaml keeps them, checked against keys made by the real ssh-keygen."""

from __future__ import annotations

import subprocess

import pytest

from lbwizard.config import sshkeys
from lbwizard.setup.flow import AnswersError, Flow
from lbwizard.setup.live import LiveSystem


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, tuple[str, str]]:
    """type -> (the .pub line, ssh-keygen's SHA256 fingerprint)."""
    made = {}
    for kind, extra in (("ed25519", []), ("rsa", ["-b", "2048"]), ("ecdsa", ["-b", "384"])):
        path = tmp_path_factory.mktemp("keys") / kind
        subprocess.run(["ssh-keygen", "-q", "-t", kind, *extra, "-N", "", "-C", f"{kind} admin", "-f", str(path)], check=True)
        listed = subprocess.run(["ssh-keygen", "-lf", f"{path}.pub"], capture_output=True, text=True, check=True).stdout
        made[kind] = ((path.with_suffix(".pub")).read_text().strip(), listed.split()[1])
    return made


def test_real_keys_are_taken_and_fingerprinted_as_ssh_keygen_does(keys):
    for line, fingerprint in keys.values():
        assert sshkeys.parse_key(line) == line
        assert sshkeys.fingerprint(line) == fingerprint


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda line: line.split()[0] + " " + line.split()[1][:-8], "incomplete"),
        (lambda line: line.replace(" ", "  ", 1), None),  # spaces are normalised, not refused
        (lambda line: 'from="10.0.0.0/8" ' + line, "is not a key type"),
        (lambda line: line.split()[0], "no key data"),
        (lambda line: "ssh-rsa " + line.split()[1], "the type and the data disagree"),
        (lambda line: line.replace("A", "!", 3), "not base64"),
        (lambda line: line[:40] + "\n" + line[40:], "one line"),
    ],
)
def test_a_damaged_key_is_refused_by_what_is_wrong(keys, edit, message):
    line = keys["ed25519"][0]
    if message is None:
        assert sshkeys.parse_key(edit(line)) == line
        return
    with pytest.raises(sshkeys.SSHKeyError, match=message):
        sshkeys.parse_key(edit(line))


def test_the_answers_file_may_carry_keys_and_a_password_hash_instead_of_the_password(answers, keys):
    from lbwizard.config.password import hash_password, password_matches

    hashed = hash_password("correct horse battery")
    given = {k: v for k, v in answers["two_arm_nat"].items() if k != "admin_password"}
    flow = Flow(LiveSystem())
    config = flow.run_answers(given | {"admin_password_hash": hashed, "ssh_authorized_keys": [keys["ed25519"][0]]})
    assert config.access.ssh_authorized_keys == [keys["ed25519"][0]]
    assert flow.admin_password_hash() == hashed and password_matches("correct horse battery", flow.admin_password_hash())
    single = Flow(LiveSystem()).run_answers(answers["two_arm_nat"] | {"ssh_authorized_keys": keys["rsa"][0]})
    assert single.access.ssh_authorized_keys == [keys["rsa"][0]]
    for bad, field in (
        ({"admin_password_hash": "plain text"}, "admin_password_hash"),
        ({"admin_password_hash": hashed, "admin_password": "correct horse battery"}, "admin_password_hash"),
        ({"ssh_authorized_keys": ["ssh-ed25519 AAAA"]}, "ssh_authorized_keys[0]"),
    ):
        with pytest.raises(AnswersError) as refused:
            Flow(LiveSystem()).run_answers(given | {"admin_password": "correct horse battery"} | bad)
        assert field in [p.field for p in refused.value.problems], refused.value.problems
