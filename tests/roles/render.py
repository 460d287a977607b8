"""Render the roles' templates the way Ansible's template module does, and check them with the daemons.

Ansible renders with Jinja2, trim_blocks on and lstrip_blocks off; test_handover checks that this
fast path gives byte-for-byte what ansible-playbook writes, so the matrix can run hundreds of configs
in seconds.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import jinja2
import yaml

from lbwizard.config.model import ApplianceConfig
from lbwizard.render.rolevars import role_vars

ROLES = Path(__file__).resolve().parents[2] / "ansible/roles"
QUOTING_PLUGIN = ROLES / "lb_files/filter_plugins/lb_quoting.py"


def quoting_plugin():
    """The roles' filter plugin (lb_files), loaded as Ansible loads it: a file, not a package of lbwizard's."""
    spec = importlib.util.spec_from_file_location("lb_quoting", QUOTING_PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FILTERS = quoting_plugin().FilterModule().filters()


def _defaults(role: str) -> dict:
    data = yaml.safe_load((ROLES / role / "defaults/main.yml").read_text())
    data.pop("keepalived_validate", None)  # an Ansible-time expression, not needed to render
    return data


def render(role: str, config: ApplianceConfig, **overrides: object) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ROLES / role / "templates"),
        trim_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(FILTERS)
    template = {
        "keepalived": "keepalived.conf.j2",
        "haproxy": "haproxy.cfg.j2",
        "chrony": "chrony.conf.j2",
        "rsyslog": "rsyslog.conf.j2",
        "node_exporter": "prometheus-node-exporter.j2",
    }[role]
    return env.get_template(template).render(**(_defaults(role) | role_vars(config) | overrides))


def keepalived_check(path: Path, interfaces: list[str]) -> subprocess.CompletedProcess:
    script = ROLES / "keepalived/files/keepalived-check-isolated"
    return subprocess.run([str(script), "/usr/sbin/keepalived", str(path), *interfaces], capture_output=True, text=True)


def haproxy_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True)
