"""The hand-over's Ansible parses its builtin routing table once (lbwizard.apply.routing_cache): the kept
table is Ansible's own parse of the same bytes, another Ansible's table is another file, and a kept file
that is damaged or cannot be written only costs a parse."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from ansible.utils.collection_loader._collection_meta import _meta_yml_to_dict

import ansible
from lbwizard.apply import routing_cache
from lbwizard.apply.playbook_process import playbook_env, ready_playbook_command

RUNTIME_YML = Path(ansible.__file__).parent / "config" / "ansible_builtin_runtime.yml"


class Counted:
    """Ansible's own parse, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, data, content_id) -> dict:
        self.calls += 1
        return _meta_yml_to_dict(data, content_id)


def test_the_kept_table_is_ansibles_own_parse_and_is_read_instead_of_parsed(tmp_path):
    raw = RUNTIME_YML.read_bytes()
    parse = Counted()
    routing = routing_cache.cached(parse, tmp_path)
    first = routing(raw, ("ansible.builtin", "runtime.yml"))
    second = routing(raw, ("ansible.builtin", "runtime.yml"))
    assert parse.calls == 1
    assert first == second == _meta_yml_to_dict(raw, None)
    assert "plugin_routing" in second and second["plugin_routing"]["modules"]  # the real table, not an empty one
    kept = list(tmp_path.iterdir())
    assert len(kept) == 1 and oct(kept[0].stat().st_mode & 0o777) == "0o600"  # mkstemp's mode: the user's own
    # another table (another Ansible, a collection's runtime.yml) is another file, parsed once
    other = b"plugin_routing:\n  modules:\n    old_name:\n      redirect: ns.coll.new_name\n"
    assert routing(other, ("ns.coll", "runtime.yml"))["plugin_routing"]["modules"]["old_name"]["redirect"] == "ns.coll.new_name"
    assert routing(other, ("ns.coll", "runtime.yml")) == _meta_yml_to_dict(other, None)
    assert parse.calls == 2 and len(list(tmp_path.iterdir())) == 2


def test_a_damaged_kept_table_is_parsed_again_and_replaced(tmp_path):
    raw = b"plugin_routing:\n  modules:\n    a:\n      redirect: b.c.d\n"
    parse = Counted()
    routing = routing_cache.cached(parse, tmp_path)
    routing(raw, None)
    (kept,) = tmp_path.iterdir()
    kept.write_text('{"plugin_routing": ')  # cut short, as by a full disk
    assert routing(raw, None) == _meta_yml_to_dict(raw, None) and parse.calls == 2
    assert routing(raw, None) == _meta_yml_to_dict(raw, None) and parse.calls == 2  # written whole again


def test_a_cache_that_cannot_be_written_only_costs_the_parse(tmp_path):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    parse = Counted()
    routing = routing_cache.cached(parse, blocked / "cache")
    raw = RUNTIME_YML.read_bytes()
    assert routing(raw, None) == routing(raw, None) == _meta_yml_to_dict(raw, None)
    assert parse.calls == 2


def test_the_cache_is_the_users_own(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert routing_cache.cache_dir() == tmp_path / "xdg" / "lbwizard" / "ansible-routing"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert routing_cache.cache_dir() == tmp_path / "home" / ".cache" / "lbwizard" / "ansible-routing"


def test_the_playbook_process_keeps_the_table_ansible_itself_reads(tmp_path):
    """The hand-over's own process (started ahead, here ended before any run): its Ansible parsed the table
    through the cache, and the next one reads it from there."""
    env = {**playbook_env(), "XDG_CACHE_HOME": str(tmp_path)}
    for _ in range(2):
        done = subprocess.run(ready_playbook_command(), input="", env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    (kept,) = (tmp_path / "lbwizard" / "ansible-routing").iterdir()
    assert json.loads(kept.read_text()) == _meta_yml_to_dict(RUNTIME_YML.read_bytes(), None)
