"""Every field of appliance.yaml against hostile and careless values: each refused by its field, or taken
exactly as written. The fields are found by walking the declarations, so a new field is covered the day it
is declared; the values are what reaches a daemon's file, what YAML 1.1 reinterprets, what is too long.

A value goes in two ways: as a document (text, as the strict loader keeps YAML's scalars) and, where it
is not text, as a JSON value (the API's way); the YAML forms also go through the real reader.
"""

from __future__ import annotations

import copy
import re
from dataclasses import asdict

import pytest

from lbwizard.config import document, model
from lbwizard.config.declare import specs
from lbwizard.config.kinds import NO, YES, Listed, unprintable
from lbwizard.config.model import ConfigFormatError

CONTROL = ["x\ny", "x\ry", "x\x00y", "x\x1b[2Jy", "x\ty", "x\u2028y", "x\u202ey", "x\x7fy"]
SPECIAL = ["a#b", "a!b", 'a"b', "a'b", "a{b", "a}b", "a$b", "a\\b", "a;b", "a b", "a`b", "a%b", "a|b", "a\\057b", "a,b"]
YAML11 = ["0443", "1:20", "0x1bb", "0o17", "1_000", "+80", "-1", "1e3", ".inf", "yes", "no", "on", "off", "y", "n", "~"]
UNICODE = ["\u0664\u0664\u0663", "\uff14\uff14\uff13", "\u00a080", "80\u00a0", "\u2003", "\uff45\uff54\uff480"]
LONG = ["9" * 300, "a" * 100_000, "1." * 5000]
HOSTILE = CONTROL + SPECIAL + YAML11 + UNICODE + LONG + [" padded", "padded ", ""]


def base_document() -> dict:
    """A document with every optional part present, so every field has a place to be broken."""
    config = model.ApplianceConfig(
        hostname="lb1",
        topology="two-arm",
        interfaces={"eth0": model.Interface("10.0.0.21/24", "external"), "eth1": model.Interface("192.168.2.21/24", "internal")},
        gateway="10.0.0.31",
        nameservers=["10.0.0.31"],
        ha=model.HighAvailability(peer="10.0.0.22", floating=model.Floating("10.0.0.20", "192.168.2.20")),
        access=model.Access(["10.0.0.0/24"], [model.InputRule("161", "udp", "10.0.0.0/24", "snmp")], []),
        time=model.Clock(["10.0.0.31"]),
        logging=model.Logging("10.0.0.31:514"),
        virtual_services=[
            model.VirtualService(
                "WEB",
                "10.0.0.20",
                80,
                persistence=model.Persistence(netmask="24", name="SRV"),
                health_check=model.HealthCheck("http", path="/", expect=200, script="/bin/true"),
                real_servers=[model.RealServer("RIP1", "192.168.2.50", 80, nat_address="10.0.0.50", nat_ports="25")],
                sorry_server="192.168.2.99:80",
                quorum=1,
                tos=184,
                agent_port=3333,
                tls_certificate="/etc/haproxy/certs/web.pem",
                certificates=["web"],
                fwmark=5,
                scheduler_param="host",
            )
        ],
        certificates=[model.Certificate("web", "0" * 64, model.CertificateAcme(["www.example.com"], email="admin@example.com"))],
        acme=model.AcmeAccount("A" * 43),
    )
    return asdict(config)


def scalar_paths(cls: type, prefix: tuple = ()) -> list[tuple[tuple, object]]:
    """(path in the document, kind) of every scalar field, nested parts and first list items included."""
    found = []
    for spec in specs(cls):
        here = (*prefix, spec.name)
        if spec.shape == "one":
            found += scalar_paths(spec.target, here)
        elif spec.shape == "list":
            found += scalar_paths(spec.target, (*here, 0))
        elif spec.shape == "map":
            found += scalar_paths(spec.target, (*here, "eth0"))
        else:
            found.append((here, spec.kind))
    return found


FIELDS = scalar_paths(model.ApplianceConfig)


def field_name(path: tuple) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def put(doc: dict, path: tuple, value: object) -> dict:
    doc = copy.deepcopy(doc)
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return doc


def get(config: object, path: tuple) -> object:
    for part in path:
        config = config[part] if isinstance(part, int | str) and isinstance(config, list | dict) else getattr(config, part)
    return config


def test_the_base_document_loads_and_every_field_is_walked():
    model.from_dict(base_document())
    assert len(FIELDS) >= 71, len(FIELDS)  # every scalar field of today: none may go unwalked


def taken_as_written(text: str, value: object, kind: object) -> bool:
    """A value accepted from text is that text: the same string, the decimal it spells, or the yes/no it says."""
    if isinstance(kind, Listed):
        return isinstance(value, list) and all(isinstance(v, str) and not unprintable(v) for v in value)
    if isinstance(value, bool):
        return text.lower() in (YES if value else NO)
    if isinstance(value, int | float):
        return re.fullmatch(r"0|[1-9][0-9]*(\.[0-9]+)?", text) is not None and float(text) == value
    return value == text


@pytest.mark.parametrize(("path", "kind"), FIELDS, ids=[field_name(p) for p, _ in FIELDS])
def test_each_field_refuses_by_name_or_takes_as_written(path, kind):
    base = base_document()
    name = field_name(path)
    for text in HOSTILE:
        try:
            config = model.from_dict(put(base, path, text))
        except ConfigFormatError as exc:
            fields = [f for f, _ in exc.problems]
            assert any(f == name or f.startswith(f"{name}[") for f in fields), (name, text[:40], exc.problems)
            for field, message in exc.problems:
                assert len(message) < 400 and not unprintable(message), (field, message)
                assert not unprintable(field), field
            continue
        value = get(config, path)
        assert taken_as_written(text, value, kind), (name, text[:40], value)
        assert not (isinstance(value, str) and (unprintable(value) or value != value.strip() or len(value) > 4096)), (name, value)


@pytest.mark.parametrize(("path", "kind"), FIELDS, ids=[field_name(p) for p, _ in FIELDS])
def test_each_field_refuses_the_wrong_json_type_by_name(path, kind):
    """The API's way in: a list, a mapping, a float where an integer is meant, a boolean where text is."""
    base = base_document()
    name = field_name(path)
    for value in ([["x"]], {"x": 1}, 1.5, True, 10**30):
        try:
            config = model.from_dict(put(base, path, value))
        except ConfigFormatError as exc:
            assert any(f == name or f.startswith(f"{name}[") for f, _ in exc.problems), (name, value, exc.problems)
            continue
        got = get(config, path)
        assert type(got) is type(value) and got == value, (name, value, got)  # a yes/no field takes true as true


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("version: 1\nhostname: lb1\nhostname: lb2\n", "'hostname' is given twice"),
        ("version: 1\nhostname: &h lb1\ntopology: *h\n", "an anchor (&h) is not allowed"),
        ("version: 1\nhostname: !!str lb1\n", "a tag (tag:yaml.org,2002:str) is not allowed"),
        ("version: 1\n<<: {hostname: lb1}\n", "unknown setting"),
        ("version: 1\nvirtual_services:\n- {name: W, address: 10.0.0.21, port: 0443}\n", "write it without leading zeros"),
        ("version: 1\nvirtual_services:\n- {name: W, address: 10.0.0.21, port: 1:20}\n", "'1:20' is not a port"),
        ("version: 1\n" + "a: " + "[" * 40 + "]" * 40 + "\n", "nested more than 16 deep"),
        ('version: 1\nhostname: "lb\\n1"\n', "'lb\\n1' is not a host name"),
        ('version: 1\n"host\\u001bname": lb1\n', "'host\\x1bname': unknown setting"),
    ],
    ids=["duplicate_key", "alias", "tag", "merge_key", "octal_port", "sexagesimal_port", "deep", "newline", "escape_key"],
)
def test_yaml_11_forms_aliases_and_duplicates_are_refused(text, words):
    with pytest.raises(ConfigFormatError) as caught:
        model.loads(text)
    assert words in str(caught.value), caught.value


def test_a_name_yaml_reads_as_a_boolean_or_a_number_stays_the_text_written():
    config = model.loads("version: 1\nhostname: no\ninterfaces: {eth0: {address: 10.0.0.21/24}}\n")
    assert config.hostname == "no"
    config = model.loads("version: 1\nhostname: '0443'\n")
    assert config.hostname == "0443"


def test_an_alias_bomb_is_refused_before_it_grows():
    """662 bytes that PyYAML expands past 2 GB: refused at the first anchor, in microseconds."""
    rows = ["a: &a [x,x,x,x,x,x,x,x,x]"] + [
        f"{c}: &{c} [{','.join('*' + p for _ in range(9))}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    with pytest.raises(ConfigFormatError, match="an anchor"):
        model.loads("\n".join(rows))


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("hostname: lb\n".encode("utf-16"), "not UTF-8 text (it looks like UTF-16)"),
        ("hostname: lb\u00e9\n".encode("latin-1"), "not UTF-8 text"),
        (b"hostname: lb\x00\n", "NUL"),
        (b"a: " + b"x" * (document.ANSWERS_LIMIT + 1), "larger than 1024 KiB"),
    ],
    ids=["utf16", "latin1", "nul", "too_big"],
)
def test_a_file_that_is_not_bounded_utf8_text_is_refused(tmp_path, data, words):
    path = tmp_path / "answers.yaml"
    path.write_bytes(data)
    with pytest.raises(document.DocumentError, match=re.escape(words)):
        document.load_file(path, document.ANSWERS_LIMIT, "answers")


def test_reading_stops_at_the_limit_on_an_endless_file():
    with pytest.raises(document.DocumentError, match="larger than"):
        document.read_bounded(__import__("pathlib").Path("/dev/zero"), 1024, "answers")
