"""A hostile administrator's review of the configuration path (issue 34), for what the matrix of
test_hostile_input_cli and tests/unit/test_hostile_*.py did not reach: lbctl arguments read outside the
declared options, values valid alone that clash with this unit's own addresses, a value the first wall took
and the second wall (the daemon's quoting rule) refused at the hand-over (exit 1, no field), and two
spellings of one address. Each bad input exits 2 with `field: message`, and nothing under the root changes.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli.test_answers_cli import LBWIZARD, run_wizard
from tests.cli.test_hostile_input_cli import refused
from tests.cli.test_lbctl_dry_run import LBCTL, snapshot
from tests.conftest import HA_MASTER_TWO_ARM, TWO_ARM_NAT


def lbctl(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*LBCTL, "--dry-run", "--root", str(root), *args], capture_output=True, timeout=120, env=dict(os.environ)
    )


def made(tmp_path_factory, answers: dict) -> Path:
    """A unit set up once per module from answers; each test takes a copy (the wizard's run is most of a test)."""
    result, root = run_wizard(tmp_path_factory.mktemp("template"), copy.deepcopy(answers))
    assert result.returncode == 0, result.stdout + result.stderr
    return root


@pytest.fixture(scope="module")
def unit_template(tmp_path_factory) -> Path:
    return made(tmp_path_factory, TWO_ARM_NAT)


@pytest.fixture(scope="module")
def pair_template(tmp_path_factory) -> Path:
    return made(tmp_path_factory, HA_MASTER_TWO_ARM)


@pytest.fixture
def unit(tmp_path, unit_template) -> Path:
    root = tmp_path / "unit"
    shutil.copytree(unit_template, root, symlinks=True)
    return root


def assert_refused(root: Path, args: tuple[str, ...], first: str) -> str:
    before = snapshot(root)
    out = refused(lbctl(root, *args), first)
    assert snapshot(root) == before, out
    return out


def assert_applied_edit_refused(root: Path, tmp_path: Path, old: str, new: str, first: str) -> None:
    """appliance.yaml with old replaced by new, given to `lbwizard apply --config`: refused by field, nothing changed."""
    text = (root / "etc/lbwizard/appliance.yaml").read_text()
    assert old in text
    other = tmp_path / "other.yaml"
    other.write_text(text.replace(old, new))
    before = snapshot(root)
    result = subprocess.run(
        [*LBWIZARD, "apply", "--config", str(other), "--dry-run", "--root", str(root)], capture_output=True, timeout=120
    )
    refused(result, first)
    assert snapshot(root) == before


# `lbctl api port` and `lbctl metrics ports` took argparse's int(): 0443, +8080, 8_080, " 8080" and Unicode
# digits were read as a port, where every declared port option refuses them (README, "Values are read as
# written").
@pytest.mark.parametrize(
    ("args", "first"),
    [
        (("api", "port", "0443"), "api.port: '0443' is not a port"),
        (("api", "port", "\u0669\u0664\u0664\u0664"), "api.port: '\u0669\u0664\u0664\u0664' is not a port"),
        (("api", "port", "+9444"), "api.port: '+9444' is not a port"),
        (("metrics", "ports", "--node", "\u0668\u0660\u0668\u0660"), "metrics.node_port: '\u0668\u0660\u0668\u0660' is not"),
        (("metrics", "ports", "--node", "8_080"), "metrics.node_port: '8_080' is not a port"),
        (("metrics", "ports", "--haproxy", " 8405"), "metrics.haproxy_port: ' 8405' has spaces around it"),
    ],
    ids=["api_leading_zero", "api_unicode_digits", "api_plus", "node_unicode_digits", "node_underscore", "haproxy_space"],
)
def test_a_port_argument_is_read_by_the_port_kind(unit, args, first):
    assert_refused(unit, args, first)


def test_a_port_argument_written_plainly_is_taken(unit):
    assert lbctl(unit, "api", "port", "9444").returncode == 0
    assert lbctl(unit, "metrics", "ports", "--node", "9101", "--haproxy", "8406").returncode == 0
    text = (unit / "etc/lbwizard/appliance.yaml").read_text()
    assert "port: 9444" in text and "node_port: 9101" in text and "haproxy_port: 8406" in text


# A sorry server is a destination like a real server: on the VIP itself (a loop), on this unit's own
# address or on the router, it takes nothing off the servers and was accepted where a real server is not.
@pytest.mark.parametrize(
    "sorry",
    ["10.0.0.21:80", "192.168.2.21:80", "10.0.0.31"],
    ids=["the_vip_itself", "the_units_internal_address", "the_gateway"],
)
def test_a_sorry_server_on_this_unit_or_the_router_is_refused(unit, sorry):
    out = assert_refused(unit, ("vs", "set", "VIP1", "--sorry-server", sorry), "virtual_services[0].sorry_server: ")
    assert "use the sorry server's own address" in out


def test_a_sorry_server_on_a_real_servers_address_is_taken(unit):
    assert lbctl(unit, "vs", "set", "VIP1", "--sorry-server", "192.168.2.50:8080").returncode == 0


# The check path's kind took '(', ')' and ',', which haproxy.cfg's quoting rule refuses: a layer-7 service
# then failed at the hand-over (exit 1, the Ansible task's words) instead of at the option (exit 2).
@pytest.mark.parametrize("path", ["/a(b)", "/a,b"])
def test_a_check_path_haproxy_would_misread_is_refused_at_the_option(unit, path):
    layer7 = ("vs", "add", "W7", "--address", "10.0.0.21", "--port", "8080", "--layer", "7", "--check", "http")
    assert lbctl(unit, *layer7, "--check-path", "/health").returncode == 0
    assert_refused(unit, ("vs", "set", "W7", "--check-path", path), "--check-path: ")


# One IPv6 address, three spellings: the NTP servers' kind took them all, so chrony.conf listed one server
# three times (the addresses' own kind asks for RFC 5952's one spelling).
def test_an_ntp_server_written_two_ways_is_one_server(unit):
    out = assert_refused(unit, ("time", "servers", "2001:db8::1", "2001:DB8::1"), "servers: ")
    assert "2001:db8::1" in out


# ::ffff:10.0.0.0/120 looks like 10.0.0.0/24 but lands in ip6tables, which IPv4 packets never reach: the
# addresses' kind refuses IPv4-mapped addresses, the networks' kind took them.
def test_an_ipv4_mapped_management_network_is_refused(unit):
    out = assert_refused(unit, ("access", "networks", "10.0.0.0/24", "::ffff:10.0.0.0/120"), "networks: ")
    assert "IPv4-mapped" in out


# haproxy.cfg has sections of the unit's own (frontend lb_metrics, frontend lb_acme_challenge, peers lb_peers): a
# layer-7 service of that name failed haproxy -c at the hand-over (exit 1, HAProxy's alert) instead of at its name.
def test_a_layer7_service_named_like_the_units_own_haproxy_sections_is_refused(unit):
    assert lbctl(unit, "metrics", "on").returncode == 0
    args = ("vs", "add", "lb_metrics", "--address", "10.0.0.21", "--port", "8080", "--layer", "7")
    out = assert_refused(unit, args, "virtual_services[1].name: ")
    assert "lb_" in out


# An interface named lo is the loopback: its subnet's address went on lo (the internal side then routes to the
# unit itself) and the forwarding rule said -i lo; all and default are the kernel's sysctl names, not NICs.
@pytest.mark.parametrize("name", ["lo", "all", "default"])
def test_an_interface_named_like_the_loopback_or_a_sysctl_default_is_refused(unit, tmp_path, name):
    assert_applied_edit_refused(unit, tmp_path, "\n  eth1:\n", f"\n  {name}:\n", f"interfaces.{name}: ")


@pytest.fixture
def pair_unit(tmp_path, pair_template) -> Path:
    root = tmp_path / "pair"
    shutil.copytree(pair_template, root, symlinks=True)
    return root


# `lbctl pair join` read its secret with open().read(): /dev/zero until memory ran out (the process was
# killed), a non-UTF-8 file, a missing file or a folder ended in a traceback (exit 1), and a secret with
# control characters or of 2 MB was taken, where the answers file's pair_secret is one printable line of at
# most 256 characters. Now the file is read bounded and the secret judged by the same rule on both paths.
@pytest.mark.parametrize(
    ("data", "first"),
    [
        (None, "pair_secret: /dev/zero is larger than"),
        (b"sixteen-chars-\xe9\xe9\xe9", "pair_secret: the file is not UTF-8 text"),
        (b"sixteen-chars-ok\x1b[2J", "pair_secret: the pair secret is one line of at most 256 printable characters"),
        (b"sixteen-chars-ok\nsecond line", "pair_secret: the pair secret is one line of at most 256 printable characters"),
        (b"s" * 2_000_000, "pair_secret: "),
        (b"missing", "pair_secret: cannot read"),
    ],
    ids=["dev_zero", "latin1", "escape", "two_lines", "two_mb", "missing_file"],
)
def test_a_hostile_pair_secret_file_is_refused_by_field(pair_unit, tmp_path, data, first):
    path = Path("/dev/zero") if data is None else tmp_path / "secret"
    if data == b"missing":
        path = tmp_path / "no-such-file"
    elif data is not None:
        path.write_bytes(data)
    before = snapshot(pair_unit)
    refused(lbctl(pair_unit, "pair", "join", "--secret-file", str(path)), first)
    assert snapshot(pair_unit) == before


def test_a_pair_secret_on_standard_input_is_read_bounded_and_judged_alike(pair_unit):
    before = snapshot(pair_unit)
    for data in (b"sixteen-chars-ok\x00", b"x" * 3_000_000, b"sixteen-chars-\xff"):
        result = subprocess.run(
            [*LBCTL, "--dry-run", "--root", str(pair_unit), "pair", "join"], input=data, capture_output=True, timeout=120
        )
        refused(result, "pair_secret: ")
    assert snapshot(pair_unit) == before
    ok = subprocess.run(
        [*LBCTL, "--dry-run", "--root", str(pair_unit), "pair", "join"],
        input=b"sixteen-chars-ok\n",
        capture_output=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr


def _bounded_memory() -> None:
    """A regression must end in MemoryError, not in the machine's OOM killer."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))


# `lbctl access key add -` read standard input whole, and `--options-json FILE` read the file whole before
# cutting it to its limit: /dev/zero ended in MemoryError (a traceback, exit 1) or the OOM killer.
@pytest.mark.parametrize(
    ("args", "stdin", "first"),
    [
        (("access", "key", "add", "-"), "/dev/zero", "key: "),
        (("vs", "set", "VIP1", "--options-json", "/dev/zero"), None, "--options-json: "),
    ],
    ids=["key_from_stdin", "options_json_file"],
)
def test_an_endless_input_to_lbctl_is_read_only_to_its_bound(unit, args, stdin, first):
    before = snapshot(unit)
    with open(stdin or os.devnull, "rb") as feed:
        result = subprocess.run(
            [*LBCTL, "--dry-run", "--root", str(unit), *args],
            stdin=feed,
            capture_output=True,
            timeout=120,
            preexec_fn=_bounded_memory,
        )
    refused(result, first)
    assert snapshot(unit) == before


# keepalived.conf reads include, includer, includem, includew, includeb and includea as an include of a file;
# its quoting rule refuses them, but the host name (keepalived's router_id) and an interface name (a pair's
# track_interface) took them, so the change failed at the hand-over (exit 1) instead of at the field.
@pytest.mark.parametrize("name", ["include", "includeb"])
def test_a_host_name_keepalived_reads_as_an_include_is_refused_by_field(tmp_path, answers, name):
    result, root = run_wizard(tmp_path, answers["two_arm_nat"] | {"hostname": name})
    assert result.returncode == 2 and result.stdout.startswith("hostname: "), result.stdout + result.stderr
    assert list(root.rglob("*")) == []


def test_an_interface_name_keepalived_reads_as_an_include_is_refused_by_field(pair_unit, tmp_path):
    assert_applied_edit_refused(pair_unit, tmp_path, "\n  eth1:\n", "\n  include:\n", "interfaces.include: ")


# Found by rendering every field's accepted values through the roles' filters: a service or real server named
# include (keepalived_virtual_servers goes whole through keepalived's rule), a check program or a layer-4 check
# path of 256-1024 characters (keepalived reads a line 1023 bytes at a time; its rule takes 255) passed their
# kinds and failed at the hand-over, exit 1.
@pytest.mark.parametrize(
    ("args", "first"),
    [
        (("rs", "add", "VIP1", "192.168.2.51", "--name", "includeb"), "--name: "),
        (("vs", "add", "include", "--address", "10.0.0.21", "--port", "81"), "virtual_services[1].name: "),
        (("vs", "set", "VIP1", "--check", "misc", "--check-script", "/" + "a" * 300), "--check-script: "),
        (("vs", "set", "VIP1", "--check", "http", "--check-path", "/" + "a" * 300), "--check-path: "),
    ],
    ids=["server_name", "service_name", "long_check_program", "long_check_path"],
)
def test_a_value_keepalived_conf_refuses_is_refused_at_its_field(unit, args, first):
    assert_refused(unit, args, first)


# A two-arm pair runs its internal side's VRRP instance as vrrp_id + 1: ha.vrrp_id 255 (the kind's top) made
# virtual_router_id 256, which keepalived -t refuses at the hand-over (exit 1).
def test_a_two_arm_pairs_vrrp_id_leaves_room_for_the_internal_instance(pair_unit, tmp_path):
    assert_applied_edit_refused(pair_unit, tmp_path, "vrrp_id: 51\n", "vrrp_id: 255\n", "ha.vrrp_id: ")


# -- the two walls agree --------------------------------------------------------------------------------------
# Every value a field's kind and verify() take must pass the roles' quoting filters (lb_quoting.py, applied in
# each template to whole variables), or the change fails at the hand-over with exit 1 instead of by field.
# Three services give every service field a place where it reaches a daemon: a layer-7 http service
# (haproxy.cfg), a layer-4 misc check and a layer-4 http check (keepalived.conf).


def _filters() -> dict:
    import importlib.util
    import re

    roles = Path(__file__).resolve().parents[2] / "ansible/roles"
    spec = importlib.util.spec_from_file_location("lb_quoting", roles / "lb_files/filter_plugins/lb_quoting.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = {}
    pattern = r"\{% set (\w+) = \w+ \| (lb_\w+)\('[\w.]+'(?:, commands=\[([^\]]*)\])?\) %\}"
    for template in roles.glob("*/templates/*.j2"):
        for match in re.finditer(pattern, template.read_text()):
            commands = [c.strip(" '") for c in (match.group(3) or "").split(",") if c.strip()]
            found[match.group(1)] = (getattr(module, match.group(2)), commands)
    return found


def _three_services_document() -> dict:
    import copy

    from tests.unit.test_hostile_values import base_document

    document = base_document()
    web = document["virtual_services"][0]
    web.update(layer=7, forwarding="snat", scheduler="hdr", scheduler_param="Host", tls=False, tls_certificate=None)
    web.update(fwmark=None, agent_port=None, quorum=None, certificates=[])
    web["persistence"].update(mode="server-cookie", netmask=None, name="SRV", timeout=300)
    web["health_check"].update(type="http", script=None)
    web["real_servers"][0].update(nat_address=None, nat_ports="")
    misc = copy.deepcopy(web)
    misc.update(name="L4", port=81, layer=4, forwarding="nat", scheduler="wlc", scheduler_param=None, tos=None, quorum=1)
    misc["persistence"].update(mode="source-ip", netmask="24", name=None)
    misc["health_check"].update(type="misc", path=None, expect=None, script="/bin/true")
    misc["real_servers"][0].update(nat_address="10.0.0.50", nat_ports="25", port=81)
    http = copy.deepcopy(misc)
    http.update(name="L4H", port=82)
    http["health_check"].update(type="http", path="/", expect=200, script=None)
    http["real_servers"][0].update(nat_address=None, nat_ports="", port=82)
    document["virtual_services"] = [web, misc, http]
    document["certificates"] = []
    return document


def test_every_value_a_field_takes_passes_its_daemons_quoting_rule():
    from lbwizard.config import model
    from lbwizard.config.model import ConfigFormatError
    from lbwizard.config.verify import verify
    from lbwizard.render.rolevars import role_vars
    from tests.unit.test_hostile_values import FIELDS, field_name, put

    filters = _filters()
    assert {"keepalived_virtual_servers", "haproxy_services", "chrony_servers", "rsyslog_server"} <= set(filters)

    def refusals(config) -> list[str]:
        variables = role_vars(config, "/tmp/root")
        found = []
        for name, (check, commands) in filters.items():
            if name in variables:
                try:
                    check(variables[name], name, commands) if commands else check(variables[name], name)
                except Exception as exc:  # the filter's AnsibleFilterError, whatever Ansible calls it
                    found.append(str(exc)[:200])
        return found

    base = _three_services_document()
    config = model.from_dict(base)
    assert [str(p) for p in verify(config)] == [] and refusals(config) == []
    special = [chr(code) for code in range(33, 127)]
    paths = []
    for path, _ in FIELDS:
        for index in range(3) if path[0] == "virtual_services" else [None]:
            paths.append(path if index is None else (path[0], index, *path[2:]))
    wrong = []
    for path in paths:
        try:
            current = base
            for part in path:
                current = current[part]
        except (IndexError, KeyError, TypeError):
            continue  # a part the three services leave out (a certificate's fields: the store's own tests)
        if not isinstance(current, str):
            continue
        values = [current + c for c in special] + [c + current for c in special]
        values += ["include", "includeb", "lb_metrics", current * 40, "a" * 1024, "/" + "a" * 1023]
        for value in values:
            try:
                changed = model.from_dict(put(base, path, value))
            except ConfigFormatError:
                continue
            if any(True for _ in verify(changed)):
                continue
            if found := refusals(changed):
                wrong.append((field_name(path), value[:40], found[0]))
    assert wrong == [], wrong[:10]


# An answers file or a backup may be a FIFO (a pipe feeds it); with no writer the read waits, and Ctrl-C or
# SIGTERM there (outside any transaction) printed a KeyboardInterrupt traceback.
@pytest.mark.parametrize("command", ["lbwizard", "lbctl"])
def test_an_interrupt_while_waiting_on_a_fifo_is_said_in_words(unit, tmp_path, command):
    import signal
    import time

    fifo = tmp_path / "feed"
    os.mkfifo(fifo)
    args = (
        [*LBWIZARD, "--answers", str(fifo), "--dry-run", "--root", str(unit)]
        if command == "lbwizard"
        else [*LBCTL, "--dry-run", "--root", str(unit), "restore", str(fifo)]
    )
    before = snapshot(unit)
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.5)  # the interpreter starts and blocks in open(): nothing to await from outside
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    text = (out + err).decode(errors="replace")
    assert process.returncode == 130 and "Traceback" not in text and "interrupted" in text, text[-2000:]
    assert snapshot(unit) == before
