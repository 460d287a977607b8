"""lbwizard's own files behind the second wall (render/quoting.py): a value verify() let through that its file's
reader would read as more than a value (a second line, a command, an option) makes the whole plan one refusal
that names the field; running it changes and writes nothing. Values that are odd but legal are written."""

from __future__ import annotations

import copy

import pytest

from lbwizard.apply import firewall, plan, sysctl, transaction
from lbwizard.config.model import InputRule, RealServer
from lbwizard.config.paths import Paths
from lbwizard.engines.clock import ClockState
from lbwizard.engines.status import ServerStatus, ServiceStatus
from lbwizard.manage import motd
from lbwizard.pair import keys
from lbwizard.render import quoting, realserver
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import HA_MASTER_TWO_ARM, ONE_ARM_DR, TWO_ARM_NAT
from tests.quoting_table import SPECIAL

SECRET = "one pair secret for both units"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGY8IbzhiY2oH8m3Ffu0p4DtqDc9dPl0VHIgeQO+aIfp admin@laptop"


def config_for(answers: dict):
    return Flow(LiveSystem()).run_answers(copy.deepcopy(answers))


def refused_plan(config, tmp_path, field: str) -> str:
    """The plan of a dry run into tmp_path: one refusal naming field; run, it fails and writes nothing."""
    steps = plan.plan(config, Paths(tmp_path), handover=True)
    assert len(steps) == 1 and isinstance(steps[0], plan.Refusal), [s.description for s in steps]
    with pytest.raises(quoting.UnsafeValue) as refused:
        transaction.run(steps)
    assert refused.value.field.startswith(field), str(refused.value)
    assert not any(tmp_path.iterdir())
    return str(refused.value)


SCRIPT_RULES = {"sh": ("sh", ".sh"), "PowerShell": ("powershell", ".ps1"), "cmd": ("cmd", "-2003.cmd")}


@pytest.mark.parametrize("language", sorted(SCRIPT_RULES))
@pytest.mark.parametrize("where", ["name", "VIP", "service"])
def test_a_real_server_script_value_its_language_reads_as_syntax_refuses_the_plan(tmp_path, language, where):
    rule, _ = SCRIPT_RULES[language]
    for char in [*SPECIAL[rule], "\n", "\r", "\x1b"]:
        config = config_for(ONE_ARM_DR)
        service = config.virtual_services[0]
        if where == "name":
            service.real_servers[0].name = f"RIP{char}1"
        elif where == "VIP":
            service.address = f"10.0.0.21{char}x"
        elif where == "service":
            if char == " ":
                continue  # the service's name is a word of a comment: a space there only splits it in two
            service.name = f"VIP{char}1"
        with pytest.raises(quoting.UnsafeValue, match=rf"^real-server script \({language}\) {where}: "):
            {"sh": realserver.linux_script, "PowerShell": realserver.windows_script, "cmd": realserver.windows_2003_script}[
                language
            ](realserver.hosts(config)[0])


def test_a_real_server_name_with_a_shell_operator_makes_the_plan_a_refusal(tmp_path):
    config = config_for(ONE_ARM_DR)
    config.virtual_services[0].real_servers[0].name = "RIP1;reboot"
    assert "';' (U+003B) at character 5, which sh reads as one of the shell's operators" in refused_plan(
        config, tmp_path, "real-server script (sh) name"
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda c: setattr(c, "hostname", "lb\nmaster"), "hostname"),
        (lambda c: setattr(c, "hostname", "lb master"), "hostname"),
        (lambda c: setattr(c, "hostname", "lbmaster#1"), "hostname"),
        (lambda c: setattr(c, "hostname", "l" * 65), "hostname"),
        (lambda c: setattr(c, "nameservers", ["10.0.0.31\nsearch evil.example"]), "nameservers[0]"),
        (lambda c: setattr(c, "nameservers", ["10.0.0.31", "10.0.0.32 10.0.0.33"]), "nameservers[1]"),
        (lambda c: c.access.ssh_authorized_keys.append(f'command="reboot" {KEY}'), "access.ssh_authorized_keys[0]"),
        (lambda c: c.access.ssh_authorized_keys.append(f"{KEY}\n{KEY}"), "access.ssh_authorized_keys[0]"),
        (lambda c: c.access.ssh_authorized_keys.append(f"{KEY}\x1b[2J"), "access.ssh_authorized_keys[0]"),
        (lambda c: c.access.input_rules.append(InputRule(port=22, comment="ok\n-A INPUT -j ACCEPT")), "access.input_rules"),
        (lambda c: c.virtual_services[0].real_servers.append(RealServer("R2", "192.168.2.51`id`", 80)), "real-server"),
    ],
    ids=["hostname-newline", "hostname-space", "hostname-hash", "hostname-long", "resolver-newline", "resolver-space",
         "key-options", "key-second-line", "key-escape", "rule-comment-newline", "script-backquote"],
)  # fmt: skip
def test_a_value_its_file_would_read_as_more_makes_the_plan_one_refusal_naming_it(tmp_path, change, field):
    config = config_for(TWO_ARM_NAT)
    change(config)
    refused_plan(config, tmp_path, field)


def test_the_pair_line_takes_an_address_only_and_sshds_own_quoting(tmp_path):
    master = config_for(HA_MASTER_TWO_ARM | {"pair_secret": SECRET})
    for peer in ("10.0.0.22,0.0.0.0/0", "10.0.0.0/8", "*", "10.0.0.22\nssh-ed25519 AAAA", '10.0.0.22" command="sh'):
        with pytest.raises(quoting.UnsafeValue, match=r"^ha\.peer: "):
            keys.authorized_line(master.ha.pair_key, peer, Paths(tmp_path))
    with pytest.raises(quoting.UnsafeValue, match=r"^ha\.pair_key: "):
        keys.authorized_line(f'command="sh" {master.ha.pair_key}', "10.0.0.22", Paths(tmp_path))
    odd_root = tmp_path / 'a "quoted" root'
    line = keys.authorized_line(master.ha.pair_key, "10.0.0.22", Paths(odd_root))
    assert line.startswith('restrict,from="10.0.0.22",command="') and line.endswith(f'" {master.ha.pair_key}')
    assert '\\"quoted\\"' in line and "\\\\" not in line  # sshd's one escape; a backslash is not doubled


def test_odd_but_legal_values_are_written_as_they_are(tmp_path):
    config = config_for(TWO_ARM_NAT)
    config.hostname = "lb-01.example-site.net"
    config.nameservers = ["10.0.0.31", "2001:db8::53"]
    config.access.ssh_authorized_keys = [KEY.replace("admin@laptop", 'admin "ops" #1 caf\u00e9')]
    config.access.input_rules.append(InputRule(port=8443, comment='ops "console" \\ 1'))
    steps = plan.plan(config, Paths(tmp_path))
    transaction.run(steps)
    assert (tmp_path / "etc/hostname").read_text() == "lb-01.example-site.net\n"
    assert (tmp_path / "etc/resolv.conf").read_text().splitlines()[1:] == ["nameserver 10.0.0.31", "nameserver 2001:db8::53"]
    keys_text = Paths(tmp_path).authorized_keys.read_text()
    assert keys_text.splitlines()[1] == config.access.ssh_authorized_keys[0]
    rules = Paths(tmp_path).rules_v4.read_text()
    assert '--comment "ops \\"console\\" \\\\ 1"' in rules


def test_the_sysctl_file_is_name_equals_value_words():
    assert sysctl.file_text({"net.ipv4.ip_forward": "1"}).splitlines()[1] == "net.ipv4.ip_forward = 1"
    with pytest.raises(quoting.UnsafeValue, match=r"^net\.ipv4\.ip_forward: "):
        sysctl.file_text({"net.ipv4.ip_forward": "1\nkernel.modules_disabled = 1"})


def test_a_rule_comment_is_written_as_iptables_save_writes_it():
    rule = {"protocol": "tcp", "tcp": {"dport": "22"}, "comment": {"comment": "web admin's"}, "target": "ACCEPT"}
    assert firewall.rule_args(rule) == '-p tcp -m comment --comment "web admin\\\'s" -m tcp --dport 22 -j ACCEPT'


def test_the_banner_shows_a_names_escape_sequence_instead_of_sending_it(tmp_path, example_config):
    servers = [ServerStatus("RIP\x1b[2J1", "192.168.2.50:80", "online", "down")]
    statuses = [ServiceStatus("VIP\n0003  forged", "10.0.0.21:80", 4, "nat", "wlc", True, "single", "ok", servers)]
    text = motd.text(Paths(tmp_path), example_config, statuses, ClockState(True, "10.0.0.31", 3, 0.0001), [])
    assert "\x1b" not in text and "RIP\\x1b[2J1 down" in text
    assert "VIP\\n0003" in text and not any(line.startswith("0003") for line in text.splitlines())
