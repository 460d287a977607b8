"""The roles' second wall (lb_quoting.py): every value of every variable a template writes, given each character
its daemon treats specially, a control character or an over-long text, fails the role naming it, and is never
rendered; and each template passes every variable it reads through its daemon's filter before any line."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import jinja2
import jinja2.meta
import jinja2.nodes
import pytest

from lbwizard.config.model import AcmeAccount, Certificate, HealthCheck, Persistence
from lbwizard.render.rolevars import role_vars
from tests.quoting_table import MAX_BYTES, SPECIAL
from tests.roles.render import FILTERS, ROLES, _defaults, quoting_plugin
from tests.roles.test_handover import example

TEMPLATES = {
    "keepalived": ("keepalived.conf.j2", "lb_keepalived_word", "keepalived"),
    "haproxy": ("haproxy.cfg.j2", "lb_haproxy_word", "haproxy"),
    "chrony": ("chrony.conf.j2", "lb_chrony_word", "chrony"),
    "rsyslog": ("rsyslog.conf.j2", "lb_rsyslog_string", "rsyslog"),
    "node_exporter": ("prometheus-node-exporter.j2", "lb_shell_word", "shell"),
}
CONTROLS = ["\n", "\r", "\x00", "\x1b"]
Refused = quoting_plugin().AnsibleFilterError


def rich_config():
    """One config whose variables hold every kind of value the templates write: both layers, an HA pair,
    checks, persistence, sorry servers, TLS, QoS, transparency, metrics, NTP and a syslog server."""
    config = example()
    l4, l7 = config.virtual_services
    l4.persistence, l4.sorry_server, l4.quorum = Persistence("source-ip", 600, netmask="24"), "192.168.2.60:80", 1
    l4.health_check, l4.agent_port, l4.idle_timeout = HealthCheck("http", path="/health", expect=200), 3333, 900
    l7.tls, l7.tos, l7.scheduler, l7.scheduler_param = True, 184, "hdr", "Host"
    l7.sorry_server, l7.transparent = "192.168.2.61:8080", True
    l7.health_check = HealthCheck("http", path="/ready", expect=204)
    misc = copy.deepcopy(l4)
    misc.name, misc.port, misc.agent_port = "MISC", 81, None
    misc.health_check = HealthCheck("misc", script="/usr/local/bin/check")
    misc.persistence = misc.sorry_server = misc.quorum = None
    config.virtual_services.append(misc)
    config.metrics.enabled = True
    config.time.ntp_servers = ["10.0.0.31", "ntp1.example.net"]
    config.logging.syslog_server = "logs.example.net:1514"
    config.certificates = [Certificate("shop", "a" * 64)]  # issue 39: a store certificate, ACME's answers
    l7.certificates, config.acme = ["shop"], AcmeAccount("T" * 43)
    return config


@functools.cache
def _variables(role: str) -> dict:
    names = read_variables(role)
    return {name: value for name, value in (_defaults(role) | role_vars(rich_config())).items() if name in names}


def variables(role: str) -> dict:
    """The variables the role's template reads, as the hand-over gives them (defaults, then lbwizard's)."""
    return copy.deepcopy(_variables(role))


def read_variables(role: str) -> set[str]:
    template, _, _ = TEMPLATES[role]
    env = jinja2.Environment()
    env.filters.update(FILTERS)
    return jinja2.meta.find_undeclared_variables(env.parse((ROLES / role / "templates" / template).read_text()))


@functools.cache
def compiled(role: str) -> jinja2.Template:
    """The role's template as render.py compiles it (once: the matrix renders it thousands of times)."""
    template, _, _ = TEMPLATES[role]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ROLES / role / "templates"),
        trim_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(FILTERS)
    return env.get_template(template)


def render(role: str, values: dict) -> str:
    return compiled(role).render(**(_defaults(role) | values))


def leaves(value: object, path: str):
    """(path, value) of every scalar that is written as text: strings and numbers, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}[{index}]")
    elif value is not None and not isinstance(value, bool):
        yield path, value


def replaced(values: dict, path: str, new: object) -> dict:
    """A deep copy of values with the scalar at path replaced."""
    values = copy.deepcopy(values)
    name, *steps = path.replace("[", ".[").split(".")
    holder, key = values, name
    for step in steps:
        holder = holder[key]
        key = int(step[1:-1]) if step.startswith("[") else step
    holder[key] = new
    return values


def cases(role: str):
    _, _, rule = TEMPLATES[role]
    hostile = [*SPECIAL[rule], *CONTROLS]
    for path, value in sorted(leaves(variables(role), "")):
        command = path.endswith(".script")  # a command line: words separated by single spaces
        yield from ((role, path[1:], f"{value}{char}x") for char in hostile if not (command and char == " "))
        yield role, path[1:], "9" * (MAX_BYTES[rule] + 1)


CASES = [case for role in TEMPLATES for case in cases(role)]


def test_every_template_variable_holds_values_to_try():
    """The matrix below is as wide as the templates: every variable they read, most with several values."""
    counted = {role: len(list(leaves(variables(role), ""))) for role in TEMPLATES}
    assert counted["keepalived"] > 60 and counted["haproxy"] > 40 and min(counted.values()) >= 2, counted


@pytest.mark.parametrize("role", sorted(TEMPLATES))
def test_the_rich_config_renders(role):
    assert render(role, variables(role))


@pytest.mark.parametrize(("role", "path", "value"), CASES, ids=[f"{r}:{p}:{v[-2:]!r}" for r, p, v in CASES])
def test_a_value_its_daemon_would_read_as_more_fails_the_role_naming_it(role, path, value):
    with pytest.raises(Refused) as refused:
        render(role, replaced(variables(role), path, value))
    assert str(refused.value).startswith(f"{path}: "), str(refused.value)
    assert "refused before rendering" in str(refused.value)


def test_a_dict_key_the_template_writes_is_checked_too():
    values = variables("keepalived") | {"keepalived_lvs_timeouts": {"tcp 1 udp": 600}}
    with pytest.raises(Refused, match=r"^keepalived_lvs_timeouts\.tcp 1 udp: 'tcp 1 udp' has a space"):
        render("keepalived", values)


@pytest.mark.parametrize("role", sorted(TEMPLATES))
def test_each_template_passes_every_variable_it_reads_through_its_filter_first(role):
    """Before any other statement: `{% set NAME = NAME | lb_<daemon>_...('NAME') %}` for each variable the
    template reads, so a variable added to a template without its filter fails here."""
    template, filter_name, _ = TEMPLATES[role]
    body = jinja2.Environment().parse((ROLES / role / "templates" / template).read_text()).body
    checked = []
    for node in body:
        if isinstance(node, jinja2.nodes.Output) and all(isinstance(part, jinja2.nodes.TemplateData) for part in node.nodes):
            continue  # the file's first line
        if not isinstance(node, jinja2.nodes.Assign):
            break
        target, value = node.target, node.node
        assert isinstance(value, jinja2.nodes.Filter) and value.name == filter_name, f"{role}: {target.name}"
        assert isinstance(value.node, jinja2.nodes.Name) and value.node.name == target.name
        assert value.args and value.args[0].value == target.name  # the name a refusal shows
        checked.append(target.name)
    assert sorted(checked) == sorted(read_variables(role))


def test_the_filters_are_the_roles_own_and_every_role_can_see_them():
    """lb_files holds the plugin, and every role that renders a template depends on lb_files."""
    assert Path(quoting_plugin().__file__).parent == ROLES / "lb_files/filter_plugins"
    for role in TEMPLATES:
        assert "role: lb_files" in (ROLES / role / "meta/main.yml").read_text()
