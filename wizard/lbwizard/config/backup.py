"""The backup file: what `lbctl backup` writes and `lbctl restore` (or a first boot's `restore:` answer) reads.

One gzip'd tar. Its first member, lb-appliance-backup.json, says what it is (format, version, when, which
unit) and lists every other member with its SHA-256 and mode; the members are the unit's files by their
path under the root, and the admin password hash as admin-password.hash. Pure: bytes in, bytes out.

Unpacking trusts nothing it has not checked: the gzip stream to its last byte (our own header, whose
time is the manifest's and which carries a SHA-256 of the rest; the deflate data, CRC-32 and length),
the marker and the version, that the members are exactly those listed, each one's checksum, plain
files with relative paths only, that the configuration inside loads and verifies, and that every
history version loads. Each refusal says why; nothing is restored from a file that fails any of these.

What a backup may hold is a closed list (belongs()): appliance.yaml, the history versions and their
records, the certificates under /etc/haproxy/certs/ (the unit's own and those its TLS services name), the
pair's identity, the SSH host keys and the admin password hash. A configuration naming a certificate
anywhere else is refused, so a restore can never write a file the unit runs (a script, a binary) because a
backup said so. The modes a manifest lists are not taken: each member is written with the unit's own mode
for its kind (unit_mode()); the manifest's are only checked to be well formed. Refusing a wider mode
instead would make unrestorable a good backup of a unit whose admin once loosened a file, for something
the restore puts right anyway.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import struct
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from . import api_tokens, history, model
from .document import CONFIG_LIMIT
from .model import APPLIANCE_CERTIFICATE, ApplianceConfig, ConfigFormatError
from .password import is_crypt_hash
from .paths import Paths
from .verify import verify

MANIFEST = "lb-appliance-backup.json"
FORMAT = "lb-appliance-backup"
FORMAT_VERSION = 1
PASSWORD_MEMBER = "admin-password.hash"  # on the unit: root's field of /etc/shadow (a --root: Paths.admin_password_hash)
UNPACKED_LIMIT = 512 * 1024 * 1024  # a thousand versions of a thousand services stay well below it
FILE_LIMIT = UNPACKED_LIMIT + 2**20  # the file itself: deflate adds at most 5 bytes to 64 KiB it cannot shrink
# no member is larger than the largest file a backup holds: appliance.yaml or a history version (the loader's
# bound); checked before a member is read, so a few KiB that unpack to a huge member are refused unread
MEMBER_LIMIT = CONFIG_LIMIT
# the tar is unpacked into a spooled file, held in memory up to this and on disk past it: the memory an unpack
# takes is what the members hold, not the whole tar beside them (a gzip bomb read whole took 1.6 GB)
IN_MEMORY = 8 * 1024 * 1024
_IN_CHUNK, _OUT_CHUNK = 64 * 1024, 1024 * 1024
# the member names are the unit's paths relative to its root: Paths with an empty root gives them
_RELATIVE = Paths(Path(""))
CONFIG_MEMBER = str(_RELATIVE.appliance_yaml)
PAIR_MEMBERS = (str(_RELATIVE.pair_identity), str(_RELATIVE.pair_known_hosts))
# a version's number as history.path_of() writes it: ASCII digits, four at least, no other leading zero, from 1 up
# to nine digits (a unit making a change a second would need 30 years to pass it); another spelling of a number
# would be a second member for the same version, and a longer one a file name no file system takes
HISTORY_MEMBER = re.compile(re.escape(str(_RELATIVE.history_dir)) + r"/((?!0000)[0-9]{4}|[1-9][0-9]{4,8})\.(yaml|json)")
HOST_KEY_MEMBER = re.compile(r"etc/ssh/ssh_host_[a-z0-9]+_key(\.pub)?")
CERTIFICATE_DIR = PurePosixPath(APPLIANCE_CERTIFICATE).parent  # etc/haproxy/certs: the only place certificates go
# the certificate store's files (config/certstore.py), each named by the SHA-256 of its content
API_TOKENS_MEMBER = str(api_tokens.token_file(_RELATIVE))  # the API's tokens (hashes only): the unit's, not history's
STORE_MEMBER = re.compile(re.escape(str(_RELATIVE.certificate_store)) + r"/([0-9a-f]{64})\.pem")
# The unit's own modes, per kind of member (what the unit itself writes: make-appliance-certificate, ssh-keygen,
# pair/keys.py, config_files.py); a restore writes these whatever the manifest says.
PRIVATE_MODE, PUBLIC_MODE, CERTIFICATE_MODE = 0o600, 0o644, 0o640
# Our gzip header: magic, deflate, FEXTRA, MTIME (the manifest's time), XFL 2 (best), OS 255 (unknown),
# and one extra subfield "LB" holding the SHA-256 of all that follows it. Deflate data can take a flipped
# bit without a change in what it unpacks to (padding, unused codes), which CRC-32 cannot see; gzip
# tools skip the subfield, so the file stays a plain .tar.gz.
_GZIP_HEADER = struct.Struct("<4sIBBH2sH32s")
_GZIP_MAGIC = b"\x1f\x8b\x08\x04"
_GZIP_FIXED = (2, 255, 36, b"LB", 32)  # XFL, OS, XLEN, the subfield's id and length

Members = dict[str, tuple[bytes, int]]  # relative path -> (content, mode)


class BackupError(ValueError):
    """A file refused, with the reason in words for the admin."""


@dataclass(frozen=True)
class Backup:
    """A backup that passed every check: its manifest, its members and the configuration it holds."""

    manifest: dict
    members: Members
    config: ApplianceConfig

    @property
    def versions(self) -> list[int]:
        """The history versions it holds, oldest first."""
        return sorted(int(m.group(1)) for name in self.members if (m := HISTORY_MEMBER.fullmatch(name)) and m.group(2) == "yaml")

    @property
    def host_keys(self) -> list[str]:
        return sorted(name for name in self.members if HOST_KEY_MEMBER.fullmatch(name))

    def describe(self) -> str:
        """One line for the admin: which unit, when, what."""
        versions = self.versions
        held = f"{len(versions)} version(s)" + (f" (newest {versions[-1]:04d})" if versions else "")
        keys = "with SSH host keys" if self.host_keys else "without SSH host keys"
        return f"{shown(self.manifest.get('hostname'))}, made {shown(self.manifest.get('created'))}: {held}, {keys}"


def shown(value: object, limit: int = 64) -> str:
    """A manifest's word as it may reach a terminal: printable characters only (no escape sequence, no
    line of its own), bounded."""
    text = value if isinstance(value, str) else "?"
    return "".join(c if c.isprintable() else "?" for c in text[:limit]) or "?"


def history_member(number: int, kind: str = "yaml") -> str:
    """The member of history version number: its config (yaml) or its record of who made it (json)."""
    path = history.path_of(_RELATIVE, number) if kind == "yaml" else history.record_of(_RELATIVE, number)
    return str(path)


def in_certificate_dir(name: str) -> bool:
    """Whether name (relative to the root) is a plain path under etc/haproxy/certs/."""
    path = PurePosixPath(name)
    plain = str(path) == name and not {".", ".."} & set(path.parts)
    return (
        plain
        and len(path.parts) > len(CERTIFICATE_DIR.parts)
        and path.parts[: len(CERTIFICATE_DIR.parts)] == CERTIFICATE_DIR.parts
    )


def certificate_members(config: ApplianceConfig) -> set[str]:
    """The certificates a backup of a unit with this config holds: its own, and each PEM a TLS service names
    under /etc/haproxy/certs/ (certificate_problems() refuses any other)."""
    named = {s.tls_certificate.lstrip("/") for s in config.virtual_services if s.tls and s.tls_certificate}
    return {APPLIANCE_CERTIFICATE} | {name for name in named if in_certificate_dir(name)}


def certificate_problems(config: ApplianceConfig) -> list[str]:
    """TLS services naming a certificate outside /etc/haproxy/certs/: a backup holds none there, and a
    restore writes none there (it could be a script the unit runs as root)."""
    return [
        f"virtual service {s.name} names the certificate {s.tls_certificate}, outside /{CERTIFICATE_DIR}/ where a "
        f"backup holds certificates (move it there: lbctl vs set {s.name} --tls-certificate /{CERTIFICATE_DIR}/NAME.pem)"
        for s in config.virtual_services
        if s.tls and s.tls_certificate and not in_certificate_dir(s.tls_certificate.lstrip("/"))
    ]


def belongs(name: str, config: ApplianceConfig) -> bool:
    """Whether a backup of a unit with this config holds a member of that name (restore writes no other)."""
    return (
        name in (CONFIG_MEMBER, PASSWORD_MEMBER, API_TOKENS_MEMBER, *PAIR_MEMBERS)
        or name in certificate_members(config)
        or bool(HISTORY_MEMBER.fullmatch(name) or HOST_KEY_MEMBER.fullmatch(name) or STORE_MEMBER.fullmatch(name))
    )


def store_member(fingerprint: str) -> str:
    """The member of a store file: its path under the root, named by its content's SHA-256."""
    return f"{_RELATIVE.certificate_store}/{fingerprint}.pem"


def unit_mode(name: str) -> int:
    """The mode this unit gives a member of that name (one belongs() allows): private keys and the password
    hash 0600, certificates 0640 (HAProxy's group reads them), the rest 0644."""
    private_key = HOST_KEY_MEMBER.fullmatch(name) and not name.endswith(".pub")
    if name in (PASSWORD_MEMBER, API_TOKENS_MEMBER, PAIR_MEMBERS[0]) or private_key:
        return PRIVATE_MODE
    if in_certificate_dir(name) or STORE_MEMBER.fullmatch(name):
        return CERTIFICATE_MODE
    return PUBLIC_MODE


def pack(members: Members, *, hostname: str, appliance_version: str | None, created: datetime) -> bytes:
    """The backup file of these members (the manifest first), byte for byte the same for the same input."""
    for name in members:
        _refuse_unsafe(name)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": created.isoformat(timespec="seconds"),
        "hostname": hostname,
        "appliance_version": appliance_version,
        "host_keys": any(HOST_KEY_MEMBER.fullmatch(name) for name in members),
        "files": {name: {"sha256": _digest(data), "mode": mode} for name, (data, mode) in sorted(members.items())},
    }
    mtime = int(created.timestamp())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        _add(archive, MANIFEST, (json.dumps(manifest, indent=1) + "\n").encode(), 0o600, mtime)
        for name, (data, mode) in sorted(members.items()):
            _add(archive, name, data, mode, mtime)
    return _gzip(buffer.getvalue(), mtime)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _add(archive: tarfile.TarFile, name: str, data: bytes, mode: int, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime, info.uname, info.gname = len(data), mode, mtime, "root", "root"
    archive.addfile(info, io.BytesIO(data))


def _gzip(data: bytes, mtime: int) -> bytes:
    """RFC 1952 with a header of our own making, so every byte of the file is one unpack checks."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = compressor.compress(data) + compressor.flush()
    rest = body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return _GZIP_HEADER.pack(_GZIP_MAGIC, mtime, *_GZIP_FIXED, hashlib.sha256(rest).digest()) + rest


def _gunzip(data: bytes) -> tuple[BinaryIO, int | None]:
    """The tar inside (a spooled file at its start), and our header's time (None: a gzip header we do not
    write, a foreign file's or an altered one); BackupError unless the stream is whole."""
    if not data.startswith(_GZIP_MAGIC[:2]):
        raise BackupError("not a backup of this appliance (not a gzip'd tar)")
    if len(data) < _GZIP_HEADER.size:
        return _foreign_gunzip(data), None
    magic, mtime, *fixed, digest = _GZIP_HEADER.unpack(data[: _GZIP_HEADER.size])
    if magic != _GZIP_MAGIC or tuple(fixed) != _GZIP_FIXED:
        return _foreign_gunzip(data), None
    rest = memoryview(data)[_GZIP_HEADER.size :]
    spool = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115 (returned open, closed by unpack)
    try:
        trailer, crc, length = _inflate(rest, spool)
        if len(trailer) != 8:
            raise BackupError(f"damaged: not a gzip'd tar ({'truncated' if len(trailer) < 8 else 'bytes after its end'})")
        if struct.unpack("<II", trailer) != (crc, length & 0xFFFFFFFF):
            raise BackupError("damaged: not a gzip'd tar (its CRC-32 or length does not match the data)")
        if hashlib.sha256(rest).digest() != digest:
            raise BackupError("damaged: its bytes do not match the checksum in its gzip header")
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool, mtime


def _inflate(deflated: memoryview, spool: BinaryIO) -> tuple[bytes, int, int]:
    """Raw deflate data into spool, a bounded piece at a time: what follows it, and the CRC-32 and length of
    what it unpacked to. BackupError past UNPACKED_LIMIT, for a damaged or truncated stream, or no room."""
    decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
    crc = length = offset = 0
    try:
        while offset < len(deflated) and not decompressor.eof:
            piece = deflated[offset : offset + _IN_CHUNK]
            offset += len(piece)
            while piece and not decompressor.eof:
                out = decompressor.decompress(piece, _OUT_CHUNK)
                crc, length = zlib.crc32(out, crc), length + len(out)
                _refuse_large(length)
                spool.write(out)
                piece = decompressor.unconsumed_tail
    except zlib.error as exc:
        raise BackupError(f"damaged: not a gzip'd tar ({exc})") from None
    except OSError as exc:  # the spool's disk is full
        raise BackupError(f"cannot be unpacked here: {exc.strerror or exc}") from None
    if not decompressor.eof:
        raise BackupError("damaged: not a gzip'd tar (it ends too early: truncated)")
    return decompressor.unused_data + bytes(deflated[offset:]), crc, length


def _foreign_gunzip(data: bytes) -> BinaryIO:
    """Any gzip file, so one we did not write is named for what it holds (a tar without our manifest)."""
    spool = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115 (returned open, closed by unpack)
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            length = 0
            while piece := stream.read(_OUT_CHUNK):
                length += len(piece)
                _refuse_large(length)
                spool.write(piece)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        spool.close()
        raise BackupError(f"damaged: not a gzip'd tar ({exc})") from None
    except OSError as exc:
        spool.close()
        raise BackupError(f"cannot be unpacked here: {exc.strerror or exc}") from None
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def _refuse_large(unpacked: int) -> None:
    """Both inflaters stop at the same bound, with the same words."""
    if unpacked > UNPACKED_LIMIT:
        raise BackupError(f"damaged: it unpacks to more than {UNPACKED_LIMIT // 2**20} MiB")


def read_file(handle: BinaryIO) -> bytes:
    """A backup's bytes from handle (a file, a pipe, standard input): a stream that does not start as gzip
    (a device such as /dev/zero) is refused at its first two bytes, and none is read past FILE_LIMIT."""
    data = handle.read(len(_GZIP_MAGIC[:2]))
    if data != _GZIP_MAGIC[:2]:
        raise BackupError("not a backup of this appliance (not a gzip'd tar)")
    data += handle.read(FILE_LIMIT + 1 - len(data))
    if len(data) > FILE_LIMIT:
        raise BackupError(f"damaged: larger than {FILE_LIMIT // 2**20} MiB, more than any backup holds")
    return data


def unpack(data: bytes) -> Backup:
    """A backup checked whole (see the module's docstring); BackupError with the reason otherwise."""
    spool, mtime = _gunzip(data)
    try:
        with spool, tarfile.open(fileobj=spool, mode="r:") as archive:
            return _checked(archive, archive.getmembers(), mtime)
    except tarfile.TarError as exc:
        raise BackupError(f"damaged: not a gzip'd tar ({exc})") from None


def _checked(archive: tarfile.TarFile, entries: list[tarfile.TarInfo], mtime: int | None) -> Backup:
    """The members, each checked against the manifest, and the configuration they hold."""
    if not entries or entries[0].name != MANIFEST or not _plain(entries[0]):
        raise BackupError(f"not a backup of this appliance (no {MANIFEST})")
    manifest = _manifest(_read(archive, entries[0]))
    if _timestamp(manifest) != mtime:
        raise BackupError("damaged: its gzip header is not the one lbctl backup wrote (the time in it, or its flags)")
    listed = manifest["files"]
    for name in listed:  # named in every refusal below: printable ones only
        _refuse_unsafe(name)
    members: Members = {}
    for entry in entries[1:]:
        _refuse_unsafe(entry.name)
        if not entry.isreg():
            raise BackupError(f"refused: {entry.name} is a link, a device, a FIFO or a directory, not a plain file")
        if not _plain(entry):
            raise BackupError(f"refused: {entry.name} is a sparse file, not a plain file as lbctl backup writes it")
        if entry.name in members:
            raise BackupError(f"damaged: {entry.name} is there twice")
        if entry.name not in listed:
            raise BackupError(f"damaged: {entry.name} is not listed in {MANIFEST}")
        content = _read(archive, entry)
        if _digest(content) != listed[entry.name]["sha256"]:
            raise BackupError(f"damaged: {entry.name} does not match its checksum")
        members[entry.name] = (content, listed[entry.name]["mode"])
    if missing := sorted(set(listed) - set(members)):
        raise BackupError(f"damaged: {missing[0]} is listed in {MANIFEST} but not there")
    config = _config(members)
    return Backup(manifest, {name: (content, unit_mode(name)) for name, (content, _listed) in members.items()}, config)


def _plain(entry: tarfile.TarInfo) -> bool:
    """A plain file whose content is the data the archive holds. A sparse one (GNU or PAX sparse headers)
    reads as the size it declares, holes included: a few bytes of archive that read as a terabyte."""
    return entry.isreg() and not entry.issparse()


def _read(archive: tarfile.TarFile, entry: tarfile.TarInfo) -> bytes:
    if entry.size > MEMBER_LIMIT:  # judged by its header, before a byte of it is read
        raise BackupError(f"refused: {shown(entry.name)} is larger than any file a backup holds ({MEMBER_LIMIT // 2**20} MiB)")
    handle = archive.extractfile(entry)
    assert handle is not None  # a regular file always has content, maybe empty
    return handle.read()


def _refuse_unsafe(name: str) -> None:
    """A member's name that is a plain relative path, printable (a refusal shows it: no escape sequence or line
    of its own reaches the terminal); BackupError naming it escaped otherwise."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or str(path) != name or name in ("", ".", MANIFEST) or not name.isprintable():
        raise BackupError(f"refused: the member {name!r} is not a plain path under the unit's root")


def _manifest(text: bytes) -> dict:
    try:
        manifest = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested past Python's limit
        raise BackupError(f"damaged: {MANIFEST} is not JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"not a backup of this appliance ({MANIFEST} does not say format {FORMAT!r})")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise BackupError(f"damaged: {MANIFEST} has no format_version")
    if version > FORMAT_VERSION:
        raise BackupError(f"made by a newer format ({version}); this unit reads format {FORMAT_VERSION}")
    files = manifest.get("files")
    well_formed = lambda entry: (
        isinstance(entry, dict) and isinstance(entry.get("sha256"), str) and entry.get("mode") in range(0o10000)
    )
    if not isinstance(files, dict) or not all(well_formed(entry) for entry in files.values()):
        raise BackupError(f"damaged: {MANIFEST} does not list its files with a sha256 and a mode each")
    return manifest


def _timestamp(manifest: dict) -> int | None:
    try:
        return int(datetime.fromisoformat(manifest["created"]).timestamp())
    except (KeyError, TypeError, ValueError):
        return None


def history_problems(members: Members) -> dict[str, str]:
    """The history members that would not come back as versions, each with why: a version that does not
    load as a configuration (a rollback to it must be possible), a record that is not a JSON object."""
    found = {}
    for name, (content, _mode) in sorted(members.items()):
        if not (match := HISTORY_MEMBER.fullmatch(name)):
            continue
        number, kind = int(match.group(1)), match.group(2)
        if kind == "yaml" and (why := _load_problem(content)):
            found[name] = f"history version {number:04d}: does not load as a configuration: {why}"
        elif kind == "json" and not isinstance(_json_or_none(content), dict):
            found[name] = f"history version {number:04d}: its record {name} is not a JSON object"
    return found


_LOADED: dict[bytes, str | None] = {}  # digest -> why it does not load; a backup checked twice loads once


def _load_problem(content: bytes) -> str | None:
    digest = hashlib.sha256(content).digest()
    if digest not in _LOADED:
        try:
            model.loads(content.decode())
            _LOADED[digest] = None
        except (ConfigFormatError, UnicodeDecodeError) as exc:
            _LOADED[digest] = str(exc)
    return _LOADED[digest]


def _store_problem(config: ApplianceConfig, members: Members) -> str | None:
    """A store file whose content is not what its name says, or a certificate of the configuration whose
    file the backup lacks: a restore would hand HAProxy something else, or nothing."""
    for name, (content, _mode) in sorted(members.items()):
        if (match := STORE_MEMBER.fullmatch(name)) and _digest(content) != match.group(1):
            return f"refused: {name} is not the content its name (its SHA-256) says"
    for certificate in config.certificates:
        if (member := store_member(certificate.fingerprint)) not in members:
            return f"refused: certificate {certificate.name}'s file ({member}) is not in the backup"
    return None


def _json_or_none(content: bytes) -> object:
    try:
        return json.loads(content)
    except (ValueError, RecursionError):  # RecursionError: nested past Python's limit
        return None


def _one_crypt_hash(text: str) -> bool:
    """Root's password hash and nothing else: chpasswd takes it on a line of its own, where a second line
    would set another account's password."""
    hashed = text.removesuffix("\n")
    return "\n" not in hashed and is_crypt_hash(hashed)


def _config(members: Members) -> ApplianceConfig:
    """The configuration inside, which must load and verify; and no member a backup of it would not hold."""
    if CONFIG_MEMBER not in members:
        raise BackupError(f"holds no configuration ({CONFIG_MEMBER})")
    for name, (content, _mode) in members.items():
        try:
            content.decode()
        except UnicodeDecodeError:
            raise BackupError(f"damaged: {name} is not text") from None
    try:
        config = model.loads(members[CONFIG_MEMBER][0].decode())
    except ConfigFormatError as exc:
        raise BackupError(f"its configuration does not load: {exc}") from None
    if problems := verify(config):
        raise BackupError("its configuration does not verify: " + "; ".join(map(str, problems)))
    if outside := certificate_problems(config):
        raise BackupError(f"refused: {outside[0]}")
    if stray := _store_problem(config, members):
        raise BackupError(stray)
    if bad := history_problems(members):
        raise BackupError(next(iter(bad.values())))
    if PASSWORD_MEMBER in members and not _one_crypt_hash(members[PASSWORD_MEMBER][0].decode()):
        raise BackupError(f"refused: {PASSWORD_MEMBER} is not one crypt(3) hash on one line, as lbctl backup writes it")
    if API_TOKENS_MEMBER in members:
        try:
            api_tokens.strict(members[API_TOKENS_MEMBER][0].decode())
        except (ValueError, RecursionError, api_tokens.TokenError) as exc:
            why = f"is not the API's token file as lbctl api token writes it: {exc}"
            raise BackupError(f"refused: {API_TOKENS_MEMBER} {why}") from None
    if strays := sorted(name for name in members if not belongs(name, config)):
        raise BackupError(f"refused: {strays[0]} is not a file an appliance backup holds")
    return config
