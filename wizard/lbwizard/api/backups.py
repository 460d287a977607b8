"""Backup download and restore upload, for the web console and scripts.

A backup is `lbctl backup` run as every change is (under the change lock, briefly), into a private
temporary folder, and answered as a file (never cached: it holds the unit's secrets). A restore is first
checked here, read-only, with nothing changed: the file unpacked whole (config/backup.py's every check),
what it holds, what it would change, and the access guards for this caller; then `lbctl restore -` takes
the same bytes as one change, and says its steps as it runs.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import threading
from datetime import datetime
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from ..config import backup, files
from ..config.backup import BackupError
from ..config.model import ConfigFormatError
from ..config.paths import Paths
from ..config.verify_access import guards
from . import reads
from .auth import may_change
from .bodies import raw_body
from .call import Call, Endpoint, ref

BACKUP_LIMIT = 64 * 1024 * 1024  # a backup upload's size at most (a thousand versions of big configs pack well below)
BACKUP_MEDIA = "application/octet-stream"
# one restore check unpacks at a time: each may hold what a backup's members hold (up to backup.UNPACKED_LIMIT),
# and the server lives for months on a unit of 1.5 GB; a second waits its turn
_ONE_CHECK = threading.Semaphore(1)


def _yes(call: Call, name: str) -> bool:
    return call.request.query_params.get(name, "no") in ("yes", "true", "1")


async def download(call: Call) -> Response:
    may_change(call.who)  # it holds every secret of the unit: not for a read-only token
    folder = Path(tempfile.mkdtemp(prefix="lbwizard-backup-"))  # 0700: the backup holds secrets
    file = folder / "unit.lbbackup"
    try:
        made = await call.lbctl_read(["backup", *(["--with-host-keys"] if _yes(call, "host_keys") else []), "--", str(file)])
        data = await run_in_threadpool(file.read_bytes)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    hostname = re.sub(r"[^A-Za-z0-9.-]", "_", str(_json(made).get("hostname") or "unit"))
    name = f"{hostname}-{datetime.now().strftime('%Y%m%d-%H%M%S')}.lbbackup"
    return Response(data, media_type=BACKUP_MEDIA, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _json(response: Response) -> dict:
    try:
        found = json.loads(bytes(response.body))
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def check(paths: Paths, data: bytes, client: str) -> dict:
    """What a restore of data would do, and why it would be refused; nothing is changed."""
    try:
        with _ONE_CHECK:
            found = backup.unpack(data)
    except BackupError as exc:
        return {"ok": False, "refusals": [f"backup: {exc}"], "backup": None, "changes": []}
    try:
        previous = files.load_config(paths)
    except ConfigFormatError:
        previous = None
    refusals = [f"{field}: {message}" for field, message in guards(previous, found.config, client)]
    held = {
        "describe": found.describe(),
        "hostname": backup.shown(found.manifest.get("hostname")),
        "created": backup.shown(found.manifest.get("created")),
        "versions": len(found.versions),
        "newest": found.versions[-1] if found.versions else None,
        "services": len(found.config.virtual_services),
        "real_servers": sum(len(s.real_servers) for s in found.config.virtual_services),
        "host_keys": bool(found.host_keys),
    }
    before = previous.to_dict() if previous is not None else {}
    changes = reads.setting_changes(before, found.config.to_dict())
    return {"ok": not refusals, "refusals": refusals, "backup": held, "changes": changes}


async def check_restore(call: Call) -> Response:
    data = await raw_body(call.request, BACKUP_LIMIT)
    return JSONResponse(await run_in_threadpool(check, call.served.paths, data, call.who.address))


async def restore(call: Call) -> Response:
    data = await raw_body(call.request, BACKUP_LIMIT)
    options = [*(["--force"] if _yes(call, "force") else []), *(["--keep-host-keys"] if _yes(call, "keep_host_keys") else [])]
    return await call.change(["restore", *options, "--", "-"], data=data)


BACKUP_SCHEMAS = {
    "BackupFile": {"type": "string", "contentMediaType": BACKUP_MEDIA, "description": "a file lbctl backup wrote"},
    "RestoreCheck": {
        "type": "object",
        "description": "what a restore of the file would do; nothing was changed",
        "properties": {
            "ok": {"type": "boolean", "description": "false: the restore would be refused (refusals say why)"},
            "refusals": {"type": "array", "items": {"type": "string"}},
            "backup": {"type": ["object", "null"], "description": "what it holds: unit, date, versions, services"},
            "changes": {"type": "array", "items": {"type": "object"}, "description": "each setting it changes"},
        },
    },
}
BACKUP_ENDPOINTS = [
    Endpoint("GET", "/backup", download, "This unit in one file (lbctl backup; ?host_keys=yes with its SSH host keys)",
             ref("BackupFile"), answer_media=BACKUP_MEDIA),
    Endpoint("POST", "/restore/check", check_restore, "What restoring this backup would change, and whether it "
             "would be refused; nothing is changed", ref("RestoreCheck"), body="BackupFile", body_media=BACKUP_MEDIA),
    Endpoint("POST", "/restore", restore, "Make this unit what the backup holds, as one change (lbctl restore; "
             "?force=yes, ?keep_host_keys=yes)", ref("ChangeResult"), change=True, body="BackupFile",
             body_media=BACKUP_MEDIA, if_match=False),
]  # fmt: skip
