"""The one table of what each file's reader treats specially: the roles' filters (lb_quoting.py, for the daemons'
files) and lbwizard's own rules (lbwizard/render/quoting.py, for the files it writes itself) are both tested
against it, so the two implementations cannot drift apart. Each entry was read in the reader's source and
tried with its own check where it has one (the field notes of 2026-12-07).

SPECIAL: the printable ASCII characters a rule refuses anywhere in a value; every other printable ASCII
character is taken (the tests try all 95 both ways). LEADING: refused as a value's first character only.
EXTRA: non-ASCII characters a rule refuses although they print; ASCII_ONLY: rules that refuse them all.
MAX_BYTES: the longest value a rule takes.
"""

from __future__ import annotations

PRINTABLE_ASCII = [chr(code) for code in range(32, 127)]

# Refused by every rule: what str.isprintable() refuses (C0 and C1 controls, DEL, format characters such as
# the bidi override and the zero-width space, the Unicode line and paragraph separators, other spaces).
CONTROLS = ["\n", "\r", "\x00", "\x1b", "\t", "\x0b", "\x0c", "\x7f", "\x85", "\u2028", "\u2029", "\u202e", "\u200b", "\xa0"]

SHELL_SPECIAL = " \"'`\\$;&|<>()*?{}!#~^"

SPECIAL = {
    # the roles' filters
    "keepalived": " \"'\\!#{}$",
    "haproxy": " #\"'\\$,(){}",
    "chrony": " ",
    "rsyslog": '"\\',
    "shell": SHELL_SPECIAL,
    # lbwizard's own files
    "sh": SHELL_SPECIAL,
    "powershell": ' "`$',
    "cmd": ' ,;=%!^&|<>()"',
    "hostname": "".join(c for c in PRINTABLE_ASCII if not (c.isalnum() or c in "-.")),
    "resolver": " ",
    "sysctl": " =",
    "ssh_from": ' "\\,!*?/',
}
LEADING = {"keepalived": "@~", "chrony": "!;#%", "hostname": "."}
EXTRA = {"powershell": "\u201c\u201d\u201e"}
ASCII_ONLY = {"hostname"}  # refuses every non-ASCII character
RESERVED = {"keepalived": ["include", "includer", "includem", "includew", "includeb", "includea"]}
MAX_BYTES = {
    "keepalived": 255,  # a line is read 1023 bytes at a time; a line holds a keyword and a value or two
    "haproxy": 1024,
    "chrony": 255,
    "rsyslog": 255,
    "shell": 1024,
    "sh": 1024,
    "powershell": 1024,
    "cmd": 1024,
    "hostname": 64,
    "resolver": 255,
    "sysctl": 255,
    "ssh_from": 255,
}
