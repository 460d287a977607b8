"""The admin password as a crypt(3) hash, made by the system's libcrypt.

Python's crypt module is deprecated (gone in 3.13), so we call libxcrypt directly: crypt_gensalt()
picks the library's preferred method (yescrypt on Debian 12, as passwd(1) does) with salt from the
kernel, and the hash goes straight into /etc/shadow via chpasswd -e. The clear text is never stored.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache


@cache
def _libcrypt() -> ctypes.CDLL:
    name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
    lib = ctypes.CDLL(name, use_errno=True)
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    return lib


def hash_password(password: str, prefix: str | None = None) -> str:
    """A new salted hash of password; prefix like '$6$' forces a method, None takes the system's best."""
    lib = _libcrypt()
    setting = lib.crypt_gensalt(prefix.encode() if prefix else None, 0, None, 0)
    if not setting:
        raise OSError(ctypes.get_errno(), "crypt_gensalt failed")
    hashed = lib.crypt(password.encode(), setting)
    if not hashed or hashed.startswith(b"*"):
        raise OSError(ctypes.get_errno(), "crypt failed")
    return hashed.decode()


def password_matches(password: str, hashed: str) -> bool:
    """Whether password is the one hashed (crypt with the hash as setting gives the hash back)."""
    result = _libcrypt().crypt(password.encode(), hashed.encode())
    return result is not None and result.decode() == hashed


def is_crypt_hash(text: str) -> bool:
    """Whether text is a hash this system's crypt(3) can check a password against (yescrypt, SHA-512, ...):
    an admin_password_hash that is not would lock the console for good."""
    if not text.startswith("$") or any(c in text for c in ":\n\r \t"):
        return False
    result = _libcrypt().crypt(b"probe", text.encode())
    return bool(result) and not result.startswith(b"*") and result.split(b"$")[1] == text.encode().split(b"$")[1]
