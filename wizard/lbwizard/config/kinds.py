"""One parser per kind of value: what each setting may hold, judged the same on every path.

A kind reads a value two ways. From text (an answers file or appliance.yaml, whose scalars the strict
loader keeps as written; an lbctl argument; a form field) it parses with its own grammar, so YAML 1.1 never
decides what `0443`, `no` or `1:20` mean. From a typed value (JSON, a config built in code) it checks the
type and the bounds. Either way it refuses what no daemon should see: control characters, a scope id where
no interface is meant, anything beyond its length. Its message says what would be right and never echoes a
value whole (shown()). Each kind also states its JSON Schema, from which `lbwizard schema` and the API's
documents are made, and its lbctl metavar.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

SHOWN_MAX = 40  # characters of a refused value a message quotes


class KindError(ValueError):
    """A value that is not of its kind; the message is the whole sentence to show beside the field.
    index: which item of a list it is about, so the field named is `ntp_servers[2]`."""

    def __init__(self, message: str, index: int | None = None, near: bool = False):
        super().__init__(message)
        self.index = index
        self.near = near  # the value has the kind's shape, only a detail is wrong (host bits, a range)


def shown(value: object, limit: int = SHOWN_MAX) -> str:
    """A value as a message may quote it: repr-escaped (no control character reaches a terminal) and cut
    to `limit` characters, saying how long it was when cut."""
    text = repr(value)
    if len(text) <= limit + 2:
        return text
    length = f" ({len(value)} characters)" if isinstance(value, str | bytes | list | dict) else ""
    return f"{text[:limit]}...{length}"


def key_text(key: object) -> str:
    """A document's key as a field name may show it: a plain word as it is, anything else quoted and cut,
    so no key can forge a line or an escape sequence in a message."""
    if isinstance(key, str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", key):
        return key
    return shown(key, 30)


def unprintable(text: str) -> str | None:
    """The first character no config file or terminal should get (control, format, line separators), as
    U+XXXX, or None. Tabs and newlines count: no setting is more than one line."""
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            return f"U+{ord(char):04X}"
    return None


def printable_text(text: str) -> str:
    """Text for a person's terminal: every character unprintable() names shown as an escape instead."""
    return "".join(
        char if unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") else repr(char)[1:-1]
        for char in text
    )


@dataclass(frozen=True)
class Kind:
    """The base: text is parsed by parse_text, anything else checked by check; json_schema says both."""

    what: str = "a value"  # "a port", as a message names it
    metavar: str = "VALUE"
    max_length: int = 255

    def parse(self, value: object) -> Any:
        """From a document or an argument: text by the kind's grammar, typed values as they are."""
        if isinstance(value, str):
            return self.parse_text(_plain(value, self.what, self.max_length))
        return self.check(value)

    def parse_text(self, text: str) -> Any:
        raise NotImplementedError

    def check(self, value: object) -> Any:
        """A typed value (JSON, or a config built in code): of the right type and within bounds."""
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:
        raise NotImplementedError


def _plain(text: str, what: str, max_length: int) -> str:
    """Text as every textual kind takes it: one printable line, no spaces around it, bounded."""
    if len(text) > max_length:
        raise KindError(f"{shown(text)} is too long for {what}: at most {max_length} characters")
    if bad := unprintable(text):
        raise KindError(f"{shown(text)} has a control character ({bad}); {what} is one line of printable text")
    if text != text.strip():
        raise KindError(f"{shown(text)} has spaces around it; write {shown(text.strip())}")
    return text


@dataclass(frozen=True)
class Text(Kind):
    """Text matching a pattern (names, tokens, paths), or any printable line when there is none."""

    pattern: str | None = None
    rule: str = ""  # what the pattern allows, in words
    max_length: int = 255
    min_length: int = 0
    metavar: str = "TEXT"

    def parse(self, value: object) -> Any:
        return self.parse_text(value) if isinstance(value, str) else self.check(value)

    def parse_text(self, text: str) -> str:
        """Too long, spaces around, the pattern, then any control character: the most helpful first."""
        if len(text) > self.max_length or text != text.strip():
            _plain(text, self.what, self.max_length)
        if len(text) < self.min_length:
            raise KindError(f"{self.what} needs at least {self.min_length} characters" if text else f"{self.what} is required")
        if self.pattern is not None and not re.fullmatch(self.pattern, text):
            raise KindError(f"{shown(text)} is not {self.what}; {self.rule}")
        return _plain(text, self.what, self.max_length)

    def check(self, value: object) -> str:
        if not isinstance(value, str):
            raise KindError(f"{shown(value)} is not {self.what}: expected text")
        return self.parse(value)

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "maxLength": self.max_length}
        if self.min_length:
            schema["minLength"] = self.min_length
        if self.pattern is not None:
            schema["pattern"] = f"^(?:{self.pattern})$"
        return schema


DECIMAL = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class Integer(Kind):
    """A whole number in a range, written in decimal digits only: `0443` (YAML 1.1's octal 291), `1:20`
    (sexagesimal 80), `0x1bb`, `4_43`, `+443`, `٤٤٣` and booleans are refused, not reinterpreted."""

    low: int = 0
    high: int = 2**31 - 1
    rule: str = ""  # overrides "use LOW-HIGH"
    metavar: str = "N"

    def _range(self) -> str:
        return self.rule or f"use {self.low}-{self.high}"

    def parse_text(self, text: str) -> int:
        if len(text) > 20 or not DECIMAL.fullmatch(text):
            hint = "; write it without leading zeros" if text[:1] == "0" and text.isascii() and text.isdigit() else ""
            raise KindError(f"{shown(text)} is not {self.what}; {self._range()}{hint}")
        return self.check(int(text))

    def check(self, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise KindError(f"{shown(value)} is not {self.what}; {self._range()}")
        if not self.low <= value <= self.high:
            raise KindError(f"{shown(value)} is not {self.what}; {self._range()}", near=True)
        return value

    def json_schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.low, "maximum": self.high}


@dataclass(frozen=True)
class Decimal(Kind):
    """A number with an optional decimal fraction (seconds), in a range."""

    low: float = 0.0
    high: float = 1.0
    unit: str = ""
    metavar: str = "N"

    def _range(self) -> str:
        return f"use {self.low:g}-{self.high:g}{' ' + self.unit if self.unit else ''}"

    def parse_text(self, text: str) -> float:
        if len(text) > 20 or not re.fullmatch(r"(0|[1-9][0-9]*)(\.[0-9]+)?", text):
            raise KindError(f"{shown(text)} is not {self.what}; {self._range()}")
        return self.check(float(text) if "." in text else int(text))

    def check(self, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not self.low <= value <= self.high:
            raise KindError(f"{shown(value)} is not {self.what}; {self._range()}")
        return value

    def json_schema(self) -> dict[str, Any]:
        return {"type": "number", "minimum": self.low, "maximum": self.high}


YES = ("yes", "y", "true", "on")
NO = ("no", "n", "false", "off")


@dataclass(frozen=True)
class Boolean(Kind):
    """Yes or no, as the wizard asks it (y, yes, true, on; n, no, false, off) or a JSON boolean."""

    what: str = "yes or no"
    metavar: str = "yes|no"

    def parse_text(self, text: str) -> bool:
        lowered = text.lower()
        if lowered in YES:
            return True
        if lowered in NO:
            return False
        raise KindError(f"{shown(text)} is not yes or no")

    def check(self, value: object) -> bool:
        if not isinstance(value, bool):
            raise KindError(f"{shown(value)} is not yes or no: expected true or false")
        return value

    def json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Choice(Kind):
    """One of a fixed set of words (or numbers: layer 4 or 7)."""

    choices: tuple[Any, ...] = ()
    verb: str = "choose"  # "choose one of", as a message ends
    metavar: str = ""
    rule: str = ""  # overrides the list of choices in a message

    def _hint(self) -> str:
        if self.rule:
            return self.rule
        words = [str(c) for c in self.choices]
        listed = " or ".join(words) if len(words) <= 2 else f"one of {', '.join(words)}"
        return f"{self.verb} {listed}"

    def parse_text(self, text: str) -> Any:
        for choice in self.choices:
            if text == str(choice):
                return choice
        raise KindError(f"{shown(text)} is not {self.what}; {self._hint()}")

    def check(self, value: object) -> Any:
        if isinstance(value, bool) or value not in self.choices:
            raise KindError(f"{shown(value)} is not {self.what}; {self._hint()}")
        return value

    def json_schema(self) -> dict[str, Any]:
        return {"enum": list(self.choices)}


@dataclass(frozen=True)
class Either(Kind):
    """The first of several kinds that takes the value (a QoS class name or a ToS byte)."""

    kinds: tuple[Kind, ...] = ()
    rule: str = ""

    def _first(self, value: object, parse: Callable[[Kind, Any], Any]) -> Any:
        """The first kind that takes it; else the message of a kind the value nearly was, or the rule."""
        near = None
        for kind in self.kinds:
            try:
                return parse(kind, value)
            except KindError as exc:
                near = near or (exc if exc.near else None)
        if near is not None:
            raise near
        raise KindError(f"{shown(value)} is not {self.what}; {self.rule}")

    def parse_text(self, text: str) -> Any:
        return self._first(text, lambda kind, value: kind.parse_text(value))

    def check(self, value: object) -> Any:
        return self._first(value, lambda kind, v: kind.check(v))

    def json_schema(self) -> dict[str, Any]:
        return {"anyOf": [kind.json_schema() for kind in self.kinds]}


# -- addresses, networks and ports ------------------------------------------------------------------------

IPV4_TEXT = r"[0-9]{1,3}(\.[0-9]{1,3}){3}"


def ipv4(text: str, what: str = "an IPv4 address") -> ipaddress.IPv4Address:
    """A dotted quad, nothing ipaddress would guess at (no shorthand, no leading zeros, no scope)."""
    if len(text) > 15 or not re.fullmatch(IPV4_TEXT, text):
        raise KindError(f"{shown(text)} is not {what}; write four numbers 0-255, like 10.0.0.21")
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise KindError(f"{shown(text)} is not {what}; each of its four numbers must be 0-255, without leading zeros") from None


def ipv6(text: str, what: str = "an IPv6 address") -> ipaddress.IPv6Address:
    """An IPv6 address as RFC 5952 writes it (lowercase, the longest run of zero groups compressed, no
    leading zeros): one address has one spelling, so what is written is what every file gets and a
    duplicate is seen as one. No scope id or zone: the config names its interfaces itself (a scope id
    once carried a newline into chrony.conf)."""
    if "%" in text:
        raise KindError(f"{shown(text)} has a scope id; write {what} without %ZONE (the unit knows its interfaces)")
    if len(text) > 45 or ":" not in text or not re.fullmatch(r"[0-9A-Fa-f:.]+", text):
        raise KindError(f"{shown(text)} is not {what}; write it like 2001:db8::21")
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        raise KindError(f"{shown(text)} is not {what}; write eight groups of hex digits, like 2001:db8::21") from None
    if address.ipv4_mapped is not None:
        raise KindError(f"{shown(text)} is an IPv4-mapped address; write the IPv4 address {address.ipv4_mapped} itself")
    if text != str(address):
        raise KindError(f"{shown(text)} is written {address} (RFC 5952: lowercase, zeros compressed); write that", near=True)
    return address


def host_problem(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address can be no host's (unspecified, loopback, multicast, broadcast, reserved), or None."""
    for test, why in (
        (address.is_unspecified, "the unspecified address"),
        (address.is_loopback, "a loopback address, this unit itself"),
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),
        (str(address) == "255.255.255.255", "the broadcast address"),
    ):
        if test:
            return f"{address} is {why}; give a host's address"
    return None


@dataclass(frozen=True)
class Address(Kind):
    """A host's IPv4 address (dotted quad), written canonically."""

    what: str = "an IPv4 address"
    metavar: str = "ADDRESS"

    def parse_text(self, text: str) -> str:
        if not text:
            raise KindError(f"{self.what} is required, for example 10.0.0.21")
        address = ipv4(text, self.what)
        if problem := host_problem(address):
            raise KindError(problem)
        return text

    def check(self, value: object) -> str:
        if not isinstance(value, str):
            raise KindError(f"{shown(value)} is not {self.what}: expected text like 10.0.0.21")
        return self.parse(value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "ipv4", "maxLength": 15}


@dataclass(frozen=True)
class Address6(Kind):
    """A host's IPv6 address, canonical (RFC 5952), without a scope id. A link-local one (fe80::/10) only
    where link_local allows it (a gateway, reached on the external interface)."""

    what: str = "an IPv6 address"
    metavar: str = "ADDRESS6"
    link_local: bool = False

    def parse_text(self, text: str) -> str:
        if not text:
            raise KindError(f"{self.what} is required, for example 2001:db8::21")
        address = ipv6(text, self.what)
        if problem := host_problem(address):
            raise KindError(problem)
        if address.is_link_local and not self.link_local:
            raise KindError(f"{text} is a link-local address, which means something on one link only; give a global one")
        return text

    def check(self, value: object) -> str:
        if not isinstance(value, str):
            raise KindError(f"{shown(value)} is not {self.what}: expected text like 2001:db8::21")
        return self.parse(value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "ipv6", "maxLength": 45}


@dataclass(frozen=True)
class IPAddress(Kind):
    """A host's address of either family: a dotted quad, or an IPv6 address (canonical, no scope id). The
    family is the text's own (a colon is IPv6), so each is judged by its own parser and message."""

    what: str = "an IP address"
    metavar: str = "ADDRESS"

    def parse_text(self, text: str) -> str:
        if not text:
            raise KindError(f"{self.what} is required, for example 10.0.0.21 or 2001:db8::21")
        if ":" in text:
            return Address6(what=self.what).parse_text(text)
        if not re.fullmatch(r"[0-9.]+", text):
            raise KindError(
                f"{shown(text)} is not {self.what}; write an IPv4 address like 10.0.0.21 or an IPv6 one like 2001:db8::21"
            )
        return Address(what=self.what).parse_text(text)

    def check(self, value: object) -> str:
        if not isinstance(value, str):
            raise KindError(f"{shown(value)} is not {self.what}: expected text like 10.0.0.21 or 2001:db8::21")
        return self.parse(value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}], "maxLength": 45}


@dataclass(frozen=True)
class OrNone(Kind):
    """An answer that may be left empty: nothing, "" or "none" is None (no such setting), anything else
    the item's kind judges. For the wizard's optional questions (the IPv6 step)."""

    item: Kind = field(default_factory=Kind)

    def parse(self, value: object) -> Any:
        if value is None or (isinstance(value, str) and value.lower() in ("", "none")):
            return None
        return self.item.parse(value)

    def parse_text(self, text: str) -> Any:
        return self.parse(text)

    def check(self, value: object) -> Any:
        return self.parse(value)

    def json_schema(self) -> dict[str, Any]:
        return {"anyOf": [self.item.json_schema(), {"type": "null"}, {"enum": ["", "none"]}]}


@dataclass(frozen=True)
class Prefix(Kind):
    """A netmask as 255.255.255.0, /24 or 24: a prefix length 1-30 (room for hosts), or 32 where asked."""

    what: str = "a netmask"
    high: int = 30
    metavar: str = "NETMASK"

    def parse_text(self, text: str) -> str:
        """The netmask as written (a setting keeps the admin's form); length() gives its prefix length."""
        self.length(text)
        return text

    def check(self, value: object) -> int | str:
        self.length(value)
        return value  # type: ignore[return-value]

    def length(self, value: object) -> int:
        """The prefix length of a netmask in any of its forms."""
        if isinstance(value, str):
            prefix = self._bits(_plain(value, self.what, 15))
        elif isinstance(value, bool) or not isinstance(value, int):
            raise KindError(f"{shown(value)} is not a netmask; write 255.255.255.0, /24 or 24")
        else:
            prefix = value
        if not 1 <= prefix <= self.high:
            raise KindError(
                f"a /{prefix} network has no room for hosts here; use a prefix from /1 to /{self.high} (e.g. /24)"
                if prefix > self.high
                else f"/{prefix} is not a netmask; use a prefix from /1 to /{self.high}",
                near=True,
            )
        return prefix

    @staticmethod
    def _bits(text: str) -> int:
        if not text:
            raise KindError("a netmask is required, for example 255.255.255.0 or /24")
        bits = text.removeprefix("/")
        if DECIMAL.fullmatch(bits) and len(bits) <= 2:
            return int(bits)
        if len(text) <= 15 and re.fullmatch(IPV4_TEXT, text):
            try:
                return ipaddress.IPv4Network(f"0.0.0.0/{text}").prefixlen
            except ValueError:
                raise KindError(f"{shown(text)} is not a netmask: its one-bits must be contiguous, like 255.255.255.0") from None
        raise KindError(f"{shown(text)} is not a netmask; write 255.255.255.0, /24 or 24")

    def json_schema(self) -> dict[str, Any]:
        return {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": self.high},
                {"type": "string", "pattern": rf"^(/?[0-9]{{1,2}}|{IPV4_TEXT})$", "maxLength": 15},
            ]
        }


def host_on_network(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, network: ipaddress.IPv4Network | ipaddress.IPv6Network
) -> str | None:
    """Why an address cannot be a host on the network (its network or broadcast address; in IPv6 the
    subnet-router anycast address, except on a /127 point-to-point link, RFC 6164), or None."""
    if address.version != network.version:
        return None
    if address.version == 6:
        if address == network.network_address and network.prefixlen < 127:
            return f"{address} is the subnet-router anycast address of {network}; choose a host address inside it"
        return None
    if address == network.network_address:
        return f"{address} is the network address of {network}; choose a host address inside it"
    if address == network.broadcast_address:
        return f"{address} is the broadcast address of {network}; choose a host address inside it"
    return None


@dataclass(frozen=True)
class InterfaceAddress(Kind):
    """An interface's address with its prefix, 10.0.0.21/24: a host address of that subnet."""

    what: str = "an interface address"
    metavar: str = "ADDRESS/PREFIX"

    def parse_text(self, text: str) -> str:
        address, slash, prefix = text.partition("/")
        if not slash:
            raise KindError(f"{shown(text)} needs its prefix length, like 10.0.0.21/24")
        host = Address(what="an IPv4 address").parse_text(address)
        bits = Prefix().length(prefix)
        interface = ipaddress.IPv4Interface(f"{host}/{bits}")
        if problem := host_on_network(interface.ip, interface.network):
            raise KindError(problem)
        return text

    def check(self, value: object) -> str:
        if not isinstance(value, str):
            raise KindError(f"{shown(value)} is not {self.what}: expected text like 10.0.0.21/24")
        return self.parse(value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": rf"^{IPV4_TEXT}/[0-9]{{1,2}}$", "maxLength": 18}


@dataclass(frozen=True)
class InterfaceAddress6(Kind):
    """An interface's IPv6 address with its prefix length, 2001:db8::21/64: a host address of that subnet."""

    what: str = "an IPv6 interface address"
    metavar: str = "ADDRESS6/PREFIX"

    def parse_text(self, text: str) -> str:
        address, slash, prefix = text.partition("/")
        if not slash:
            raise KindError(f"{shown(text)} needs its prefix length, like 2001:db8::21/64")
        host = Address6(what="an IPv6 address").parse_text(address)
        if not DECIMAL.fullmatch(prefix) or not 1 <= int(prefix) <= 128:
            raise KindError(f"{shown(text)}: the prefix length is 1-128 in decimal, like /64", near=True)
        interface = ipaddress.IPv6Interface(f"{host}/{prefix}")
        if problem := host_on_network(interface.ip, interface.network):
            raise KindError(problem)
        return text

    def check(self, value: object) -> str:
        if not isinstance(value, str):
            raise KindError(f"{shown(value)} is not {self.what}: expected text like 2001:db8::21/64")
        return self.parse(value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": r"^[0-9a-f:.]+/[0-9]{1,3}$", "maxLength": 49}


IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


@dataclass(frozen=True)
class Network(Kind):
    """A network in CIDR form, IPv4 or IPv6 (no scope id); a lone address is a /32 or /128. Host bits are
    refused, so what is written is what is meant (10.9.0.5/24 is a typo for 10.9.0.0/24 or 10.9.0.5/32)."""

    what: str = "a network"
    metavar: str = "NETWORK"

    def parse_text(self, text: str) -> str:
        wrong = f"{shown(text)} is not a network; write it like 10.9.0.0/24 or 2001:db8::/32"
        if not text or len(text) > 43 or not re.fullmatch(r"[0-9A-Fa-f:.]+(/[0-9]{1,3})?", text):
            raise KindError(wrong)
        try:
            interface = ipaddress.ip_interface(text)
        except ValueError:
            raise KindError(wrong) from None
        network = interface.network
        if network.version == 6 and network.subnet_of(IPV4_MAPPED):
            # ip6tables never sees IPv4 packets: ::ffff:10.0.0.0/120 would look like 10.0.0.0/24 and match nothing
            ipv4_form = f"; write the IPv4 network {interface.ip.ipv4_mapped}/{network.prefixlen - 96}"
            raise KindError(f"{shown(text)} is an IPv4-mapped network{ipv4_form} itself")
        if interface.ip != network.network_address:
            raise KindError(
                f"{shown(text)} has host bits set: the network is {network}, one host is {interface.ip}/{network.max_prefixlen}",
                near=True,
            )
        return str(network)

    def check(self, value: object) -> str:
        if not isinstance(value, str):
            raise KindError(f"{shown(value)} is not a network; write it like 10.9.0.0/24 or 2001:db8::/32")
        return self.parse(value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": r"^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$", "maxLength": 43}


LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_NAME = rf"(?=.{{1,253}}$){LABEL}(\.{LABEL})*"


@dataclass(frozen=True)
class Host(Kind):
    """A host name or an IP address (IPv4, or IPv6 without a scope id), as written: chrony and rsyslog
    resolve names through the DNS."""

    what: str = "a host"
    metavar: str = "HOST"

    def parse_text(self, text: str) -> str:
        wrong = f"{shown(text)} is not {self.what}; write a host name (ntp1.example.net) or an address"
        if not text or len(text) > 253 or unprintable(text) or text != text.strip():
            raise KindError(wrong)
        if re.fullmatch(r"[0-9A-Fa-f:.]+", text) and ":" in text:
            # the addresses' own parser: one spelling per address (2001:DB8::1 listed beside 2001:db8::1 was
            # one server twice in chrony.conf), and an IPv4-mapped one is its IPv4 address
            address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipv6(text, self.what)
        elif re.fullmatch(r"[0-9.]+", text):
            address = ipv4(text, self.what)
        elif re.fullmatch(HOST_NAME, text):
            return text
        else:
            raise KindError(wrong)
        if problem := host_problem(address):
            raise KindError(problem)
        return text

    def check(self, value: object) -> str:
        if not isinstance(value, str):
            raise KindError(f"{shown(value)} is not {self.what}; write a host name or an address")
        return self.parse(value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "maxLength": 253, "pattern": r"^[A-Za-z0-9.:-]+$"}


def split_port(text: str, what: str) -> tuple[str, str]:
    """HOST[:PORT] or [IPV6]:PORT -> (host, port text, empty when none); a bare IPv6 has no port."""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise KindError(f"{shown(text)} is not {what}; an IPv6 address with a port is [2001:db8::5]:514")
        return host, rest[1:]
    if text.count(":") > 1:
        return text, ""
    host, _, port = text.partition(":")
    return host, port


PORT = Integer(what="a port", low=1, high=65535, metavar="PORT")


@dataclass(frozen=True)
class Endpoint(Kind):
    """HOST[:PORT] ([IPV6]:PORT): a sorry server, a syslog server. The port stays optional; the host is
    the given kind (an address, or a host name too)."""

    host: Kind = field(default_factory=Address)
    metavar: str = "ADDRESS[:PORT]"

    def parse_text(self, text: str) -> str:
        _plain(text, self.what, 260)
        host, port = split_port(text, self.what)
        self.host.parse_text(host)
        if port or text.endswith(":"):
            PORT.parse_text(port)
        return text

    def check(self, value: object) -> str:
        if not isinstance(value, str):
            raise KindError(f"{shown(value)} is not {self.what}: expected text like {self.metavar}")
        return self.parse(value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "maxLength": 260, "pattern": r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.:-]+)(:[0-9]{1,5})?$"}


def port_ranges_of(text: str) -> list[tuple[int, int]]:
    """The reference's port lists: '8000-8080, 9002 80' -> [(8000, 8080), (9002, 9002), (80, 80)]."""
    ranges = []
    for item in re.split(r"[ ,]+", text.strip(" ,")):
        if not item:
            continue
        low, dash, high = item.partition("-")
        first = PORT.parse_text(low)
        last = PORT.parse_text(high) if dash else first
        if last < first:
            raise KindError(f"port range {shown(item)} runs backwards; write the lower port first")
        ranges.append((first, last))
    return ranges


@dataclass(frozen=True)
class PortList(Kind):
    """Ports and ranges separated by commas or spaces, "8000-8080, 9002"; empty where allowed."""

    what: str = "a port list"
    required: bool = False
    metavar: str = "PORTS"

    def parse_text(self, text: str) -> str:
        _plain(text, self.what, 4096)
        if not re.fullmatch(r"[0-9, -]*", text):
            raise KindError(f'{shown(text)} is not {self.what}; write ports and ranges like "8000-8080, 9002"')
        ranges = port_ranges_of(text)
        if self.required and not ranges:
            raise KindError("name the port or ports, e.g. 161 or 8000-8080")
        return text

    def check(self, value: object) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(PORT.check(value))
        if not isinstance(value, str):
            raise KindError(f'{shown(value)} is not {self.what}; write ports and ranges like "8000-8080, 9002"')
        return self.parse_text(value)

    def json_schema(self) -> dict[str, Any]:
        text = {"type": "string", "maxLength": 4096, "pattern": "^[0-9, -]*$"}
        return {"anyOf": [text, {"type": "integer", "minimum": 1, "maximum": 65535}]}


@dataclass(frozen=True)
class Listed(Kind):
    """A list of one kind, bounded; in text (an argument, a form field) separated by commas or spaces."""

    item: Kind = field(default_factory=Kind)
    max_items: int = 64
    unique: bool = True
    separators: str = r"[ ,]+"
    metavar: str = "LIST"

    def parse_text(self, text: str) -> list[Any]:
        _plain(text, self.what, 64 * 1024)
        return self.check([item for item in re.split(self.separators, text) if item])

    def check(self, value: object) -> list[Any]:
        items, errors = self.each(value)
        if errors:
            raise errors[0]
        return items

    def each(self, value: object) -> tuple[list[Any], list[KindError]]:
        """Every item parsed, and a KindError (with its index) for each that is not of the item's kind or is
        there twice: all of them, so a form or a file shows every problem at once."""
        if not isinstance(value, list):
            return [], [KindError(f"{self.what}: expected a list")]
        if len(value) > self.max_items:
            return [], [KindError(f"{len(value)} items in {self.what}; at most {self.max_items}")]
        items: list[Any] = []
        errors = []
        for index, item in enumerate(value):
            try:
                parsed = self.item.parse(item)
            except KindError as exc:
                errors.append(KindError(str(exc), index))
                continue
            if self.unique and parsed in items:
                errors.append(KindError(f"{parsed} is listed twice", index))
            items.append(parsed)
        return items, errors

    def json_schema(self) -> dict[str, Any]:
        schema = {"type": "array", "items": self.item.json_schema(), "maxItems": self.max_items}
        if self.unique:
            schema["uniqueItems"] = True
        return schema


def choice_of(values: Sequence[Any], what: str, verb: str = "choose") -> Choice:
    return Choice(what=what, choices=tuple(values), verb=verb, metavar="|".join(str(v) for v in values))


@dataclass(frozen=True)
class Parsed(Kind):
    """A kind made of a parsing function (text or typed alike) and its schema: an answer that takes a list or
    one line, or a word like "default" beside its values. The function raises ValueError; its message is
    the kind's."""

    read: Callable[[Any], Any] = field(default=lambda value: value)
    schema: dict[str, Any] = field(default_factory=dict)

    def parse(self, value: object) -> Any:
        if isinstance(value, str):
            _plain(value, self.what, self.max_length)
        return self.check(value)

    def parse_text(self, text: str) -> Any:
        return self.check(text)

    def check(self, value: object) -> Any:
        try:
            return self.read(value)
        except KindError:
            raise
        except ValueError as exc:
            raise KindError(str(exc)) from None

    def json_schema(self) -> dict[str, Any]:
        return dict(self.schema)
