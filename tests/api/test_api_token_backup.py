"""The API's tokens are the unit's, not the configuration's: making one adds no history version, a backup
carries their hashes (0600), a restore brings them back (the same token works on the restored unit), and a
backup whose token file is not one lbctl wrote is refused."""

from __future__ import annotations

import io
import stat
import tarfile
from datetime import datetime

import pytest

from lbwizard.apply import backup_files
from lbwizard.config import api_tokens, backup, files
from lbwizard.config.backup import API_TOKENS_MEMBER, BackupError
from lbwizard.config.paths import Paths
from tests.api.conftest import lbctl, newest, set_up_root, token


def members_of(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {entry.name: entry for entry in archive.getmembers()}


def test_tokens_travel_in_a_backup_and_nowhere_in_history(tmp_path):
    (tmp_path / "unit").mkdir()
    (tmp_path / "fresh").mkdir()
    root = set_up_root(tmp_path / "unit")
    version = newest(root)
    made = token(root, "nms")
    assert newest(root) == version  # a token is no change of the configuration
    assert made not in "".join(p.read_text() for p in (root / "etc/lbwizard/history").iterdir())
    file = tmp_path / "unit.lbbackup"
    result = lbctl(root, "backup", str(file))
    assert result.returncode == 0, result.stdout + result.stderr
    entry = members_of(file.read_bytes())[API_TOKENS_MEMBER]
    assert stat.S_IMODE(entry.mode) == 0o600 and made not in file.read_bytes().decode(errors="replace")
    fresh = set_up_root(tmp_path / "fresh")
    assert api_tokens.find(Paths(fresh), made) is None
    result = lbctl(fresh, "restore", str(file))
    assert result.returncode == 0, result.stdout + result.stderr
    restored = api_tokens.token_file(Paths(fresh))
    assert stat.S_IMODE(restored.stat().st_mode) == 0o600
    assert api_tokens.find(Paths(fresh), made).name == "nms"


@pytest.mark.parametrize(
    "content",
    [
        b"{}",
        b'{"tokens": [{"name": "x", "sha256": "short", "read_only": false, "created": ""}]}',
        b'{"tokens": [{"name": "bad name", "sha256": "' + b"a" * 64 + b'", "read_only": false, "created": ""}]}',
        b'{"tokens": [{"name": "x", "sha256": "' + b"a" * 64 + b'", "read_only": "no", "created": ""}]}',
        b'{"tokens": [], "admin": true}',
        b"not json",
    ],
)
def test_a_backup_with_a_token_file_lbctl_did_not_write_is_refused(tmp_path, content):
    root = set_up_root(tmp_path)
    token(root, "nms")
    paths = Paths(root)
    members = backup_files.collect(paths, files.load_config(paths), host_keys=False)
    assert API_TOKENS_MEMBER in members
    backup.unpack(backup.pack(members, hostname="lbmaster", appliance_version=None, created=datetime(2026, 12, 7)))
    members[API_TOKENS_MEMBER] = (content, 0o600)
    crafted = backup.pack(members, hostname="lbmaster", appliance_version=None, created=datetime(2026, 12, 7))
    with pytest.raises(BackupError, match=r"api-tokens\.json is not the API's token file"):
        backup.unpack(crafted)
