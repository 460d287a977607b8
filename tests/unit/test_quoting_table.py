"""Both second walls against the one table (tests/quoting_table.py): the roles' filters (lb_quoting.py) and
lbwizard's own rules (render/quoting.py) refuse exactly the characters the table says, every control
character, an empty value and an over-long one, and take everything else; a refusal names the field and
the character and never echoes a control character."""

from __future__ import annotations

import pytest

from lbwizard.render import quoting
from tests.quoting_table import ASCII_ONLY, CONTROLS, EXTRA, LEADING, MAX_BYTES, PRINTABLE_ASCII, RESERVED, SPECIAL
from tests.roles.render import quoting_plugin

PLUGIN = quoting_plugin()
RULES = {
    **{name: (syntax, PLUGIN.AnsibleFilterError) for name, syntax in PLUGIN.SYNTAXES.items()},
    "sh": (quoting.SHELL, quoting.UnsafeValue),
    "powershell": (quoting.POWERSHELL, quoting.UnsafeValue),
    "cmd": (quoting.CMD, quoting.UnsafeValue),
    "hostname": (quoting.HOST_NAME, quoting.UnsafeValue),
    "resolver": (quoting.RESOLVER, quoting.UnsafeValue),
    "sysctl": (quoting.SYSCTL, quoting.UnsafeValue),
    "ssh_from": (quoting.SSH_FROM, quoting.UnsafeValue),
}


def check(rule: str, value: str) -> str:
    """The rule applied as its callers apply it: the filter to a variable, lbwizard's rule to a field."""
    syntax, _ = RULES[rule]
    if hasattr(syntax, "check"):
        syntax.check({"item": [value]}, "variable")
        return value
    return syntax.word(value, "field")


def refusal(rule: str, value: str) -> str:
    _, error = RULES[rule]
    with pytest.raises(error) as raised:
        check(rule, value)
    return str(raised.value)


def test_the_table_covers_every_rule_of_both_walls():
    assert set(RULES) == set(SPECIAL) == set(MAX_BYTES)
    assert set(PLUGIN.SYNTAXES) <= set(SPECIAL)


@pytest.mark.parametrize("rule", sorted(SPECIAL))
def test_each_printable_ascii_character_is_refused_exactly_when_the_table_says(rule):
    refused = [c for c in PRINTABLE_ASCII if RULES[rule][0].refused(f"a{c}b")]
    assert "".join(refused) == "".join(c for c in PRINTABLE_ASCII if c in SPECIAL[rule])


@pytest.mark.parametrize("rule", sorted(SPECIAL))
@pytest.mark.parametrize("char", sorted(set(SPECIAL["haproxy"] + SPECIAL["sh"] + SPECIAL["cmd"] + SPECIAL["ssh_from"])))
def test_a_refusal_names_the_field_and_the_character(rule, char):
    if char not in SPECIAL[rule]:
        assert check(rule, f"a{char}b") == f"a{char}b"
        return
    message = refusal(rule, f"a{char}b")
    assert message.startswith(("variable.item[0]: ", "field: "))
    assert f"U+{ord(char):04X}" in message and "at character 2" in message


@pytest.mark.parametrize("rule", sorted(SPECIAL))
@pytest.mark.parametrize("char", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_every_control_character_is_refused_and_never_echoed(rule, char):
    message = refusal(rule, f"10.0.0.1{char}makestep 1 -1")
    assert f"U+{ord(char):04X}" in message and char not in message


@pytest.mark.parametrize("rule", sorted(SPECIAL))
def test_empty_and_over_long_values_are_refused_and_the_longest_is_taken(rule):
    assert "empty" in refusal(rule, "")
    longest = "a" * MAX_BYTES[rule]
    assert check(rule, longest) == longest
    message = refusal(rule, longest + "a")
    assert f"{MAX_BYTES[rule] + 1} bytes" in message and "more characters" in message and len(message) < 400
    if rule in ASCII_ONLY:
        assert "U+00E9" in refusal(rule, "caf\u00e9")
        return
    wide = "\u00e9" * (MAX_BYTES[rule] // 2) + "a" * (MAX_BYTES[rule] % 2 + 1)  # counted in bytes, not characters
    assert len(wide) <= MAX_BYTES[rule] and f"{MAX_BYTES[rule] + 1} bytes" in refusal(rule, wide)


@pytest.mark.parametrize(("rule", "chars"), sorted(LEADING.items()))
def test_line_start_characters_are_refused_first_and_taken_inside(rule, chars):
    for char in chars:
        assert "starts with" in refusal(rule, f"{char}a")
        assert check(rule, f"a{char}") == f"a{char}"


@pytest.mark.parametrize(("rule", "chars"), sorted(EXTRA.items()))
def test_non_ascii_characters_a_reader_takes_for_syntax_are_refused(rule, chars):
    for char in chars:
        assert f"U+{ord(char):04X}" in refusal(rule, f"a{char}b")
    assert check(rule, "caf\u00e9") == "caf\u00e9"


@pytest.mark.parametrize(("rule", "words"), sorted(RESERVED.items()))
def test_reserved_words_are_refused_whole_and_taken_inside_a_longer_word(rule, words):
    for word in words:
        assert "include" in refusal(rule, word)
        assert check(rule, word + "d") == word + "d"


def test_the_shell_rule_is_one_on_both_sides_of_the_wall():
    assert PLUGIN.SHELL.special.keys() == quoting.SHELL.special.keys()
    assert PLUGIN.SHELL.max_bytes == quoting.SHELL.max_bytes


def test_the_filters_walk_lists_and_dicts_and_name_the_path():
    servers = [{"name": "A", "address": "10.0.0.1", "checks": [{"port": 80, "script": "/x 1 2", "ok": True, "no": None}]}]
    assert PLUGIN.KEEPALIVED.check(servers, "keepalived_virtual_servers", ["script"]) is servers
    servers[0]["checks"][0]["port"] = "80\nnopreempt"
    with pytest.raises(PLUGIN.AnsibleFilterError, match=r"^keepalived_virtual_servers\[0\]\.checks\[0\]\.port: '80\\nnopreempt'"):
        PLUGIN.KEEPALIVED.check(servers, "keepalived_virtual_servers", ["script"])
    servers[0]["checks"][0]["port"] = 80
    servers[0]["checks"][0]["script"] = "/x 1  2"  # two spaces: an empty word between them
    with pytest.raises(PLUGIN.AnsibleFilterError, match=r"\.script: '/x 1  2', a command line: empty"):
        PLUGIN.KEEPALIVED.check(servers, "keepalived_virtual_servers", ["script"])
    with pytest.raises(PLUGIN.AnsibleFilterError, match=r"^v\.a b: 'a b' has a space"):
        PLUGIN.HAPROXY.check({"a b": 1}, "v")  # a key is written too (lvs_timeouts' protocol names)
    assert PLUGIN.HAPROXY.check({"tcp": 600, "weights": [1, 2.5], "on": False}, "v") == {
        "tcp": 600,
        "weights": [1, 2.5],
        "on": False,
    }


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("ssh", "ssh"),
        ("web_admin-2", "web_admin-2"),
        ("web admin", '"web admin"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("a\\b 'c'", "\"a\\\\b \\'c\\'\""),
    ],
)
def test_an_iptables_comment_is_quoted_as_iptables_save_writes_it(value, written):
    assert quoting.iptables_comment(value, "access.input_rules[0].comment") == written


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "\x1b[2J", "x" * 256])
def test_an_iptables_comment_that_ends_the_line_or_is_cut_is_refused(value):
    with pytest.raises(quoting.UnsafeValue, match=r"^access\.input_rules\[0\]\.comment: "):
        quoting.iptables_comment(value, "access.input_rules[0].comment")


def test_an_ssh_option_string_escapes_its_quotes_and_refuses_what_ends_it():
    assert quoting.ssh_option_string("/usr/bin/python3 -m x --root '/a\"b'", "f") == "/usr/bin/python3 -m x --root '/a\\\"b'"
    for bad in ("a\nb", "a\\"):
        with pytest.raises(quoting.UnsafeValue, match=r"^f: "):
            quoting.ssh_option_string(bad, "f")


def test_the_banner_shows_control_characters_as_escapes():
    assert quoting.display("VIP1  10.0.0.21:80") == "VIP1  10.0.0.21:80"
    assert quoting.display("a\x1b[2Jb\nc\u202ed") == "a\\x1b[2Jb\\nc\\u202ed"
