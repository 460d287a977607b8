"""lbwizard's own files' second wall: each value written into a file goes through the rule of whoever reads it.

verify() and the loader check every value by what it is (the first wall). A value that got past them anyway
must still not become a second line, a command or an option in a file lbwizard writes itself: the real
servers' scripts (sh, PowerShell, cmd), /etc/hostname, resolv.conf, the sysctl.d file, root's authorized_keys,
the rules.v4/rules.v6 record and the console's banner. A word that holds what its reader treats specially is
refused (UnsafeValue, `field: message`, and nothing is written); a comment, an option's quoted string and the
banner's text are quoted or escaped instead, as their readers unquote them. The roles' filters
(ansible/roles/lb_files/filter_plugins/lb_quoting.py) are the same wall for the daemons' files; the roles run
without lbwizard, so the two are kept apart, and tests/quoting_table.py holds both to one table.

What each reader treats specially (read in its source, tried where it can be; the field notes of 2026-12-07):

- sh (the real servers' NAME.sh, values inside "..." then split unquoted: `for vip in $DR_VIPS`): whitespace,
  quotes, `\\`, `$`, backquotes, the operators `; & | < > ( )`, the patterns `* ?`, `{ } ! # ~ ^`.
- PowerShell (NAME.ps1, values inside "..."): `"` and the typographic double quotes it also takes for one,
  the escape `` ` ``, `$` (a variable or `$(...)`); whitespace where a word is meant.
- cmd (NAME-2003.cmd, `set X=...`, `rem`, `echo`): `%` (expanded even in rem), `^` (escape; a line's end joins
  the next), `& | < >`, `( )` (blocks), `"`, `!` (delayed expansion), and the separators `space , ; =`.
- /etc/hostname: systemd takes letters, digits, `-` and `.` (no empty label), 64 bytes at most, and reads `#`
  as a comment; anything else makes it ignore the file.
- resolv.conf `nameserver`, sysctl.d `name = value`: a newline (another directive); whitespace ends the value.
- authorized_keys: a line that does not start with a key type starts with options (`command=`, `from=`);
  a quoted option value ends at `"` (only `\\"` is an escape); `from=` patterns: `,` `!` `*` `?` and `/`.
- iptables-restore: a comment is a word, or a quoted string in which `\\` escapes (as iptables-save writes it).
"""

from __future__ import annotations

import re
import unicodedata

from ..config.sshkeys import SSHKeyError, parse_key

SHOWN = 40  # characters of a refused value that a message shows
NAMES = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab", "\x00": "a NUL", "\x1b": "an escape", " ": "a space"}
UNPRINTABLE = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


class UnsafeValue(ValueError):
    """A value its file's reader would take for more than a value; the change writes nothing."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def describe(char: str) -> str:
    """A character as a message names it: 'a newline (U+000A)', "'#' (U+0023)"."""
    return f"{NAMES.get(char) or (repr(char) if char.isprintable() else 'a control character')} (U+{ord(char):04X})"


def shown(text: str) -> str:
    """A value as a message shows it: escaped (no control character reaches a terminal) and cut short."""
    return repr(text[:SHOWN]) + (f" (+{len(text) - SHOWN} more characters)" if len(text) > SHOWN else "")


class Syntax:
    """One reader's rule for a value written into its file as one word (or one quoted string)."""

    def __init__(
        self,
        file: str,
        special: dict[str, str],
        max_bytes: int,
        *,
        leading: dict[str, str] | None = None,
        ascii_only: bool = False,
    ) -> None:
        self.file, self.special, self.max_bytes = file, special, max_bytes
        self.leading, self.ascii_only = leading or {}, ascii_only
        self._search = re.compile("[" + re.escape("".join(special)) + "]").search

    def refused(self, text: str) -> bool:
        return not (
            text
            and text.isprintable()
            and self._search(text) is None
            and text[0] not in self.leading
            and len(text.encode()) <= self.max_bytes
            and (text.isascii() or not self.ascii_only)
        )

    def problem(self, text: str) -> str:
        if not text:
            return f"empty, where {self.file} expects a value"
        for at, char in enumerate(text, 1):
            if not char.isprintable():
                return f"{shown(text)} has {describe(char)} at character {at}, which ends or hides a line of {self.file}"
            if char in self.special:
                return f"{shown(text)} has {describe(char)} at character {at}, which {self.file} reads as {self.special[char]}"
            if self.ascii_only and not char.isascii():
                return f"{shown(text)} has {describe(char)} at character {at}, which {self.file} does not take"
        if text[0] in self.leading:
            return f"{shown(text)} starts with {describe(text[0])}, which {self.file} reads as {self.leading[text[0]]}"
        return f"{shown(text)} is {len(text.encode())} bytes, more than the {self.max_bytes} {self.file} takes in a value"

    def word(self, value: object, field: str) -> str:
        """The value as text, or UnsafeValue naming the field, the character and what the reader makes of it."""
        text = value if isinstance(value, str) else str(value)
        if self.refused(text):
            raise UnsafeValue(field, f"{self.problem(text)}; refused, nothing written")
        return text


WORD_END = "the end of a word"
OPERATOR = "one of the shell's operators"

SHELL = Syntax(
    "sh",
    {
        " ": WORD_END,
        '"': "a quote",
        "'": "a quote",
        "`": "a command to run",
        "\\": "an escape",
        "$": "a variable or a command to run",
        ";": OPERATOR,
        "&": OPERATOR,
        "|": OPERATOR,
        "<": "a redirection",
        ">": "a redirection",
        "(": "a subshell",
        ")": "a subshell",
        "*": "a file name pattern",
        "?": "a file name pattern",
        "{": "a brace expansion",
        "}": "a brace expansion",
        "!": "a negation or a history expansion",
        "#": "the start of a comment",
        "~": "a home directory",
        "^": "a pipe (Bourne shell)",
    },
    1024,
)

POWERSHELL = Syntax(
    "PowerShell",
    {
        " ": WORD_END,
        '"': "the end of the string",
        "\u201c": "the end of the string (a typographic quote is one too)",
        "\u201d": "the end of the string (a typographic quote is one too)",
        "\u201e": "the end of the string (a typographic quote is one too)",
        "`": "an escape",
        "$": "a variable or $(a command to run)",
    },
    1024,
)

CMD = Syntax(
    "cmd",
    {
        " ": "a separator",
        ",": "a separator",
        ";": "a separator",
        "=": "a separator",
        "%": "a variable (even in a rem line)",
        "!": "a variable (delayed expansion)",
        "^": "an escape (at a line's end it joins the next line)",
        "&": "the next command",
        "|": "a pipe",
        "<": "a redirection",
        ">": "a redirection",
        "(": "the start of a block",
        ")": "the end of a block",
        '"': "a quote",
    },
    1024,
)

HOST_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
HOST_NAME = Syntax(
    "/etc/hostname",
    {chr(code): "not a host name's character" for code in range(32, 127) if chr(code) not in HOST_NAME_CHARACTERS},
    64,
    leading={".": "an empty first label"},
    ascii_only=True,
)

RESOLVER = Syntax("resolv.conf", {" ": "the end of the nameserver's address"}, 255)
SYSCTL = Syntax("sysctl.d", {" ": WORD_END, "=": "the end of a setting's name"}, 255)

SSH_FROM = Syntax(
    "authorized_keys (from=)",
    {
        " ": WORD_END,
        '"': "the end of the option",
        "\\": "an escape",
        ",": "the next pattern (any host it names may log in)",
        "!": "a negated pattern",
        "*": "a wildcard",
        "?": "a wildcard",
        "/": "a network (every address in it may log in)",
    },
    255,
)


def shell_word(value: object, field: str) -> str:
    return SHELL.word(value, field)


def powershell_word(value: object, field: str) -> str:
    return POWERSHELL.word(value, field)


def cmd_word(value: object, field: str) -> str:
    return CMD.word(value, field)


def host_name(value: object, field: str) -> str:
    return HOST_NAME.word(value, field)


def resolver_word(value: object, field: str) -> str:
    return RESOLVER.word(value, field)


def sysctl_word(value: object, field: str) -> str:
    return SYSCTL.word(value, field)


def ssh_from_pattern(value: object, field: str) -> str:
    """An address for authorized_keys' from="...": the one address, never a pattern or a network."""
    return SSH_FROM.word(value, field)


def ssh_option_string(value: object, field: str) -> str:
    """A value for an authorized_keys option in double quotes (command="..."), quoted as sshd unquotes it:
    `\\"` is a quote and the only escape, so a quote is escaped and a trailing backslash (it would escape
    the closing quote) refused; a control character ends the line, and is refused."""
    text = value if isinstance(value, str) else str(value)
    if not text.isprintable() or text.endswith("\\"):
        bad = next((c for c in text if not c.isprintable()), "\\")
        raise UnsafeValue(field, f"{shown(text)} has {describe(bad)}, which ends authorized_keys' line or quote; refused")
    return text.replace('"', '\\"')


def authorized_key(value: object, field: str) -> str:
    """A key line for authorized_keys exactly as given: one line, a key type first (so no options), the key
    data whole; else UnsafeValue saying what sshd would make of it."""
    try:
        normal = parse_key(value)
    except SSHKeyError as exc:
        raise UnsafeValue(field, f"not one bare public key ({exc}); refused, nothing written") from None
    if normal != value:
        raise UnsafeValue(field, "not written as a public key's one line (type, data, comment); refused, nothing written")
    return normal


IPTABLES_PLAIN = re.compile(r"[A-Za-z0-9_-]+")
COMMENT_MAX_BYTES = 255  # the comment match keeps 256 bytes with the terminating NUL


def iptables_comment(value: object, field: str) -> str:
    """A rule's comment as iptables-save writes it (xtables_save_string): a plain word as it is, anything
    else in double quotes with `"`, `\\` and `'` escaped; iptables-restore reads it back as one argument.
    A control character ends the rule's line and is refused, as is a comment the kernel would cut."""
    text = value if isinstance(value, str) else str(value)
    bad = next((c for c in text if unicodedata.category(c) in UNPRINTABLE), None)
    if bad is not None:
        raise UnsafeValue(field, f"{shown(text)} has {describe(bad)}, which ends a line of iptables-restore's input; refused")
    if len(text.encode()) > COMMENT_MAX_BYTES:
        raise UnsafeValue(field, f"{shown(text)} is longer than the {COMMENT_MAX_BYTES} bytes of a rule's comment; refused")
    if IPTABLES_PLAIN.fullmatch(text):
        return text
    return '"' + re.sub(r"""(["\\'])""", r"\\\1", text) + '"'


def display(text: str) -> str:
    """Text for a person's terminal (the console's banner): each control or format character shown as its
    escape (\\x1b, \\n, \\u202e), so a name can neither move the cursor nor make a line of its own."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
