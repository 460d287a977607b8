"""The server's certificate: the unit's own (made at first boot, HAProxy's too), or for a dry run one
made here under the root, self-signed for the address it listens on."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

from ..config.model import APPLIANCE_CERTIFICATE
from ..config.paths import Paths


def dry_run_files(paths: Paths) -> tuple[Path, Path]:
    folder = paths.config_dir / "api"
    return folder / "certificate.pem", folder / "key.pem"


def for_dry_run(paths: Paths, host: str) -> tuple[Path, Path]:
    """(certificate, key) under the root, made once (openssl, a P-256 key, a year), naming host and localhost."""
    certificate, key = dry_run_files(paths)
    if certificate.is_file() and key.is_file():
        return certificate, key
    certificate.parent.mkdir(parents=True, exist_ok=True)
    names = ["DNS:localhost", "IP:127.0.0.1", "IP:::1"]
    try:
        ipaddress.ip_address(host)
        names.append(f"IP:{host}")
    except ValueError:
        names.append(f"DNS:{host}")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "365",
         "-subj", "/CN=lbwizard API (dry run)", "-addext", "subjectAltName=" + ",".join(dict.fromkeys(names)),
         "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    key.chmod(0o600)
    return certificate, key


def unit_files(paths: Paths) -> tuple[Path, Path | None]:
    """The unit's own certificate: one PEM with the key (HAProxy's form)."""
    return paths.root / APPLIANCE_CERTIFICATE, None
