"""A certificate with its chain and private key, as the store keeps it: read from PEM and judged.

What HAProxy will serve is decided here, before anything is stored: the file holds certificates and one
private key and no other kind of block; the key is the first certificate's; each certificate of the chain
issued the one before it (its signature checked, each issuer a CA's), up to a CA's certificate (a root, or
an intermediate a root issued: public CAs issue no server certificate from a root, so a server certificate
alone that is not self-signed is missing its chain), each once; the first is for servers (serverAuth, when its
extended key usage is given); none has expired or is not valid yet; no key or signature is one
OpenSSL refuses at Debian's security level 2 (RSA under 2048 bits, a curve under 224, SHA-1 or MD5), which
HAProxy would otherwise refuse only at the hand-over, or at the swap of a live certificate. Every refusal is
a PemError naming the field the admin gave (`--pem`, `--key`, `--chain`).

What is kept is canonical: the certificate, its chain in order, then the key as PKCS #8, so one content has
one SHA-256, the store's name for it (certstore.py). Pure: bytes in, a Bundle out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .kinds import printable_text

FILE_LIMIT = 1024 * 1024  # a PEM of a long chain is a few KiB
MAX_CERTIFICATES = 10
RSA_MIN_BITS = 2048  # what OpenSSL's default security level takes
EC_MIN_BITS = 224  # security level 2: 112 bits, so P-224 and up
WEAK_SIGNATURES = ("md5", "sha1")  # 39 and 63 bits to OpenSSL 3: 'ca md too weak', 'ee md too weak'
CLOCK_SKEW = timedelta(minutes=5)  # a CA's clock a little ahead of this unit's is no reason to refuse
CERTIFICATE_LABEL = "CERTIFICATE"
KEY_LABELS = ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY")
_MARK = re.compile(r"-----(BEGIN|END) ")
_HEADER = re.compile(r"-----BEGIN ([A-Z0-9 ]{1,40})-----\r?\n")
_FOOTER = re.compile(r"-----END ([A-Z0-9 ]{1,40})-----")


class PemError(ValueError):
    """A certificate file refused: field is the option (or answer) it came from, message says why."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Block:
    label: str
    der: bytes
    line: int  # where it begins, for a message


def blocks(data: bytes, field: str) -> list[Block]:
    """Every PEM block of a file, each whole and of base64; text between blocks (openssl's 'Bag
    Attributes', comments) is not kept. PemError for a file that is not PEM text.

    One pass over the BEGIN and END marks in order: a pattern searched from each BEGIN line to its END
    rescanned the rest of the file for every BEGIN line without one (minutes of CPU for 1 MiB of them)."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise PemError(
            field, "is not a PEM file (it is not ASCII text: a DER or PKCS #12 file? openssl x509 -inform der ...)"
        ) from None
    found: list[Block] = []
    opened: tuple[str, int, int] | None = None  # the open block's label, line, and where its body begins
    line, counted = 1, 0
    for mark in _MARK.finditer(text):
        line += text.count("\n", counted, mark.start())
        counted = mark.start()
        if mark.group(1) == "BEGIN":
            if opened is not None:
                raise PemError(field, f"the {opened[0]} block at line {opened[1]} has no END line before the next block begins")
            header = _HEADER.match(text, mark.start())
            if header is None:
                raise PemError(field, f"the BEGIN line at line {line} is not one of a PEM block (-----BEGIN LABEL-----)")
            opened = (header.group(1), line, header.end())
            continue
        footer = _FOOTER.match(text, mark.start())
        if opened is None or footer is None:  # an END outside a block is text between blocks; a broken one, body
            continue
        (begin, start, body_start), end = opened, footer.group(1)
        found.append(_block(begin, end, text[body_start : mark.start()], start, field))
        opened = None
    if opened is not None:
        raise PemError(field, "its last block has no END line")
    if not found:
        raise PemError(field, "holds no PEM block (-----BEGIN CERTIFICATE----- ...)")
    return found


def _block(begin: str, end: str, body: str, line: int, field: str) -> Block:
    if "ENCRYPTED" in body.split("\n\n", 1)[0] and "Proc-Type:" in body:
        raise PemError(field, _encrypted(line))
    if begin != end:
        raise PemError(field, f"the block at line {line} begins as {begin} and ends as {end}")
    try:
        der = base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise PemError(field, f"the {begin} block at line {line} is not base64") from None
    return Block(begin, der, line)


def _refuse_other_kinds(found: list[Block], field: str) -> None:
    for block in found:
        if block.label == "ENCRYPTED PRIVATE KEY":
            raise PemError(field, _encrypted(block.line))
        if block.label not in (CERTIFICATE_LABEL, *KEY_LABELS):
            raise PemError(
                field,
                f"holds a block of another kind, {block.label} (line {block.line}); only certificates and one "
                "private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY) belong in it",
            )


def _encrypted(line: int) -> str:
    """An encrypted key, PKCS #8's ENCRYPTED PRIVATE KEY or the legacy Proc-Type: 4,ENCRYPTED header."""
    return (
        f"the private key at line {line} is encrypted; HAProxy starts unattended and cannot ask for "
        "its passphrase: decrypt it first (openssl pkey -in KEY -out PLAIN)"
    )


@dataclass(frozen=True)
class Bundle:
    """A server certificate, its chain (each certificate's issuer next) and its private key, checked."""

    leaf: Any  # cryptography's x509.Certificate
    chain: tuple[Any, ...]
    key: Any

    def pem(self) -> bytes:
        """The stored form: certificate, chain, key (PKCS #8), one content, one SHA-256."""
        from cryptography.hazmat.primitives import serialization

        parts = [c.public_bytes(serialization.Encoding.PEM) for c in (self.leaf, *self.chain)]
        parts.append(
            self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        return b"".join(parts)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.pem()).hexdigest()


def _certificate(block: Block, field: str, number: int) -> Any:
    from cryptography import x509

    try:
        return x509.load_der_x509_certificate(block.der)
    except ValueError as exc:
        raise PemError(field, f"certificate {number} (line {block.line}) cannot be read: {exc}") from None


def _key(block: Block, field: str) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    try:  # as PEM again: cryptography tells PKCS #1 and SEC 1 keys by their label
        key = serialization.load_pem_private_key(_pem(block), password=None)
    except (ValueError, TypeError) as exc:
        raise PemError(field, f"the private key (line {block.line}) cannot be read: {exc}") from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < RSA_MIN_BITS:
            raise PemError(field, f"the RSA key is {key.key_size} bits; use {RSA_MIN_BITS} or more (OpenSSL refuses less)")
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.key_size < EC_MIN_BITS:
            raise PemError(
                field,
                f"the private key is EC {key.curve.name} ({key.curve.key_size} bits); OpenSSL refuses curves under "
                f"{EC_MIN_BITS} bits: use P-256 (prime256v1) or P-384",
            )
        return key
    raise PemError(field, f"the private key (line {block.line}) is a {type(key).__name__}; use an RSA or EC (ECDSA) key")


def _pem(block: Block) -> bytes:
    body = base64.encodebytes(block.der).decode()
    return f"-----BEGIN {block.label}-----\n{body}-----END {block.label}-----\n".encode()


def _public(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def subject_text(certificate: Any) -> str:
    """A certificate's subject (or issuer) as a person reads it, printable and bounded."""
    return printable_text(certificate.subject.rfc4514_string())[:200] or "(empty subject)"


def _issuer_text(certificate: Any) -> str:
    return printable_text(certificate.issuer.rfc4514_string())[:200] or "(empty issuer)"


def _issued(child: Any, parent: Any) -> bool:
    """Whether parent's key signed child, and parent's subject is child's issuer."""
    try:
        child.verify_directly_issued_by(parent)
        return True
    except Exception:  # InvalidSignature, or a key type it cannot check: not its issuer
        return False


def _is_ca(certificate: Any) -> bool:
    from cryptography import x509

    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def self_signed(certificate: Any) -> bool:
    return certificate.issuer == certificate.subject and _issued(certificate, certificate)


def _issuer_order(leaf: Any, others: list[Any]) -> list[Any]:
    """The given certificates that lead up from leaf, each the issuer of the one before, as far as they go."""
    found, left = [], list(others)
    current = leaf
    while parent := next((c for c in left if _issued(current, c)), None):
        found.append(parent)
        left.remove(parent)
        current = parent
    return found


def _check_chain(leaf: Any, chain: list[Any], field: str) -> None:
    """Each certificate issued by the next, ending at a CA's certificate (or a self-signed server certificate)."""
    order = [leaf, *chain]
    for number, (child, parent) in enumerate(itertools.pairwise(order), 1):
        if _issued(child, parent):
            continue
        right = _issuer_order(leaf, chain)
        if len(right) == len(chain):
            listed = ", then ".join(subject_text(c) for c in right)
            raise PemError(
                field,
                f"the chain is out of order (certificate {number + 1}, {subject_text(parent)}, did not issue certificate "
                f"{number}): give the server's certificate, then {listed}",
            )
        raise PemError(
            field,
            f"certificate {number + 1} ({subject_text(parent)}) did not issue certificate {number} "
            f"({subject_text(child)}) and belongs to no chain of it; give the server's certificate, then its issuer, "
            "then that one's issuer",
        )
    last = order[-1]
    if len(order) == 1 and not self_signed(last):
        raise PemError(
            field,
            f"the chain is missing: the certificate is issued by {_issuer_text(last)}, whose certificate is not given "
            "(add the intermediate certificates the CA sent: --chain FILE, or after the certificate in --pem)",
        )
    if len(order) > 1 and not _is_ca(last):
        raise PemError(field, f"the chain ends at {subject_text(last)}, which is not a CA's certificate")


def _check_issuers(chain: list[Any], field: str) -> None:
    """What clients take of the issuers in the middle: each a CA's, each allowed to issue what it did."""
    for number, issuer in enumerate(chain[:-1], 2):  # a client takes no chain through a server's certificate
        if not _is_ca(issuer):
            raise PemError(
                field,
                f"certificate {number} ({subject_text(issuer)}) issued certificate {number - 1} but is not a CA's "
                "certificate (CA:FALSE): every client refuses a chain through it; give the CA's intermediates",
            )
    for number, issuer in enumerate(chain, 2):
        _check_issuer_limits(issuer, number, field)


def _check_issuer_limits(issuer: Any, number: int, field: str) -> None:
    """What an issuer's own certificate allows, as every client checks it: signing certificates (key usage), and
    how many CA certificates may stand between it and the server's (path length)."""
    from cryptography import x509

    try:
        usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.key_cert_sign:
            raise PemError(
                field,
                f"certificate {number} ({subject_text(issuer)}) may not sign certificates (its key usage has no "
                "keyCertSign): every client refuses what it issued",
            )
    except x509.ExtensionNotFound:
        pass
    try:
        limit = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length
    except x509.ExtensionNotFound:
        return
    below = number - 2  # the CA certificates between it and the server's
    if limit is not None and below > limit:
        raise PemError(
            field,
            f"certificate {number} ({subject_text(issuer)}) allows {limit} CA certificates below it and the chain "
            f"has {below} (its path length): every client refuses this chain",
        )


def _which(number: int, certificate: Any) -> str:
    return "the certificate" if number == 1 else f"certificate {number} of the chain ({subject_text(certificate)})"


def _check_once(certificates: list[Any], fields: list[str]) -> None:
    """No certificate twice: a self-signed root given again 'issued' itself, so the chain looked whole."""
    for number, certificate in enumerate(certificates, 1):
        first = certificates.index(certificate) + 1
        if first != number:
            raise PemError(
                fields[number - 1],
                f"certificate {number} ({subject_text(certificate)}) is certificate {first} again; give each certificate once",
            )


def _check_strength(certificates: list[Any], fields: list[str]) -> None:
    """What OpenSSL (security level 2) refuses to load, said here: a short key of an issuer, a weak signature."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    for number, certificate in enumerate(certificates, 1):
        what, field = _which(number, certificate), fields[number - 1]
        algorithm = certificate.signature_hash_algorithm
        root = number > 1 and number == len(certificates) and certificate.issuer == certificate.subject
        if algorithm is not None and algorithm.name in WEAK_SIGNATURES and not root:  # a root's own is never checked
            label = {"md5": "MD5", "sha1": "SHA-1"}[algorithm.name]
            raise PemError(
                field, f"{what} is signed with {label}, which OpenSSL and browsers refuse; have it issued again (SHA-256)"
            )
        key = certificate.public_key()
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < RSA_MIN_BITS:
            raise PemError(field, f"{what} has an RSA key of {key.key_size} bits; OpenSSL refuses less than {RSA_MIN_BITS}")
        if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < EC_MIN_BITS:
            raise PemError(field, f"{what} has an EC key on {key.curve.name}; OpenSSL refuses curves under {EC_MIN_BITS} bits")


def _check_purpose(leaf: Any, field: str) -> None:
    """A server certificate whose extended key usage leaves out serverAuth (a client's, a code signer's) is one
    HAProxy loads and every client refuses ('unsupported certificate purpose')."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return
    if ExtendedKeyUsageOID.SERVER_AUTH in usages or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usages:
        return
    known = {
        ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
        ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
        ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
        ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
        ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    }
    said = ", ".join(known.get(u, u.dotted_string) for u in usages) or "none"
    raise PemError(
        field,
        f"the certificate is for {'TLS clients only' if said == 'clientAuth' else said} (extended key usage "
        f"{said}, no serverAuth): no client takes it from a server; give a server certificate",
    )


def _check_dates(certificates: list[Any], field: str, now: datetime) -> None:
    for number, certificate in enumerate(certificates, 1):
        what = _which(number, certificate)
        if certificate.not_valid_after_utc <= now:
            raise PemError(
                field, f"{what} expired on {certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC; it would not be taken"
            )
        if certificate.not_valid_before_utc > now + CLOCK_SKEW:
            raise PemError(
                field,
                f"{what} is valid only from {certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC; no client takes it "
                "before: add it then (or check this unit's clock: lbctl status)",
            )


def bundle(
    cert_blocks: list[tuple[Block, str]], key_block: tuple[Block, str], now: datetime | None = None, *, judged: bool = True
) -> Bundle:
    """A Bundle from the certificate blocks (each with the field it came from, server certificate first) and
    the key's block, judged as the module's docstring says. judged False: a file of the store read back, whose
    dates and what clients take are not judged again (one stored before a rule came is still shown, with its
    expiry); its blocks, key and chain order are."""
    now = now or datetime.now(UTC)
    if not cert_blocks:
        raise PemError(key_block[1], "holds no certificate")
    if len(cert_blocks) > MAX_CERTIFICATES:
        raise PemError(
            cert_blocks[-1][1], f"{len(cert_blocks)} certificates; a chain of more than {MAX_CERTIFICATES} is no chain"
        )
    certificates = [_certificate(block, field, n) for n, (block, field) in enumerate(cert_blocks, 1)]
    key = _key(*key_block)
    leaf = certificates[0]
    if _public(leaf.public_key()) != _public(key.public_key()):
        mine = next((n for n, c in enumerate(certificates[1:], 2) if _public(c.public_key()) == _public(key.public_key())), None)
        message = (
            f"the private key is certificate {mine}'s, not the server certificate's: put the server certificate first"
            if mine
            else f"the private key does not belong to the certificate ({subject_text(leaf)}): give the key made with it"
        )
        raise PemError(key_block[1], message)
    fields = [field for _block, field in cert_blocks]
    chain_field = cert_blocks[1][1] if len(cert_blocks) > 1 else cert_blocks[0][1]
    if judged:
        _check_once(certificates, fields)
        _check_strength(certificates, fields)
    _check_chain(leaf, certificates[1:], chain_field)
    if judged:
        _check_issuers(certificates[1:], chain_field)
        _check_purpose(leaf, cert_blocks[0][1])
        if len(certificates) > 1 and _is_ca(leaf):  # a self-signed one alone is often CA:TRUE (openssl req -x509)
            raise PemError(
                cert_blocks[0][1],
                f"the server certificate is a CA's (CA:TRUE), {subject_text(leaf)}: Firefox refuses a CA's certificate "
                "from a server; give the server certificate the CA issued for it",
            )
        _check_dates(certificates, cert_blocks[0][1], now)
    return Bundle(leaf, tuple(certificates[1:]), key)


def _one_key(found: list[tuple[Block, str]]) -> tuple[Block, str]:
    keys = [(b, f) for b, f in found if b.label in KEY_LABELS]
    if not keys:
        field = found[0][1] if found else "--key"
        raise PemError(field, "holds no private key (PRIVATE KEY block)")
    if len(keys) > 1:
        raise PemError(keys[1][1], f"holds a second private key (line {keys[1][0].line}); give exactly one")
    return keys[0]


def from_pem(data: bytes, field: str = "--pem", now: datetime | None = None, *, judged: bool = True) -> Bundle:
    """One file with the certificate, its chain and its key (in any order of key and certificates)."""
    found = blocks(data, field)
    _refuse_other_kinds(found, field)
    tagged = [(block, field) for block in found]
    return bundle([t for t in tagged if t[0].label == CERTIFICATE_LABEL], _one_key(tagged), now, judged=judged)


def from_parts(cert: bytes, key: bytes, chain: bytes | None = None, now: datetime | None = None) -> Bundle:
    """The certificate (--cert, maybe with its chain after it), its key (--key) and its chain (--chain) apart."""
    parts = [("--cert", cert), ("--key", key)] + ([("--chain", chain)] if chain is not None else [])
    tagged: list[tuple[Block, str]] = []
    for field, data in parts:
        found = blocks(data, field)
        _refuse_other_kinds(found, field)
        for block in found:
            if (field == "--key") == (block.label == CERTIFICATE_LABEL):
                what = "a certificate" if block.label == CERTIFICATE_LABEL else "a private key"
                raise PemError(field, f"holds {what} (line {block.line}); {_belongs(field)}")
            tagged.append((block, field))
    certificates = [t for t in tagged if t[0].label == CERTIFICATE_LABEL]
    return bundle(certificates, _one_key(tagged), now)


def _belongs(field: str) -> str:
    return {
        "--key": "--key takes the private key only",
        "--cert": "--cert takes the certificate (and its chain), the key goes to --key",
        "--chain": "--chain takes the issuers' certificates only",
    }[field]


def stored(data: bytes, field: str = "store") -> Bundle:
    """A file of the store read back: its blocks, key and chain order checked as on add; not its dates (an expired
    one is still shown) nor what clients take (a file stored before a rule of add came is still shown)."""
    return from_pem(data, field, judged=False)


def names(certificate: Any) -> list[str]:
    """The DNS names a certificate is for (its SANs; its common name when it has none)."""
    from cryptography import x509

    try:
        found = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = [printable_text(n) for n in found.get_values_for_type(x509.DNSName)]
        addresses = [str(a) for a in found.get_values_for_type(x509.IPAddress)]
        return dns + addresses
    except x509.ExtensionNotFound:
        common = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return [printable_text(str(common[0].value))] if common else []


def describe(found: Bundle) -> dict[str, Any]:
    """What `lbctl cert list/show` says of a certificate."""
    leaf = found.leaf
    return {
        "subject": subject_text(leaf),
        "names": names(leaf),
        "issuer": _issuer_text(leaf),
        "not_before": leaf.not_valid_before_utc.isoformat(timespec="seconds"),
        "not_after": leaf.not_valid_after_utc.isoformat(timespec="seconds"),
        "serial": format(leaf.serial_number, "x"),
        "key": _key_text(found.key),
        "chain": [subject_text(c) for c in found.chain],
        "sha1": leaf.fingerprint(_sha1()).hex(),
    }


def _sha1() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA1()


def _key_text(key: Any) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, rsa.RSAPrivateKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"EC {key.curve.name}"
    return type(key).__name__
