"""lb_template: ansible.builtin.template, with the install done in the controller on `connection: local`.

The appliance's hand-over runs its roles on the unit itself. The builtin template action renders in
the controller and then runs the stat and copy modules, each a Python process of its own: on a QEMU
guest under TCG that is seconds per file for every change. This action renders with the very same
code (it is the builtin template action; only its final copy is replaced), then compares, validates
and installs the file right here, as the copy module would: a file whose bytes and mode are already
right is left alone and not validated; otherwise the new content goes to a temporary file beside
the destination, `validate` (with %s) must accept it, and it replaces the old file in one rename
(fsynced, so a power cut leaves the old or the new file, never half of one). Missing parent
directories are made (0755), and no remote temporary directory is made for it (the builtin action makes
and removes one with shell commands). On any other connection it is the builtin template action unchanged.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.plugins.action.template import ActionModule as TemplateAction


def install(rendered: str, dest: str, mode: str | None, validate: str | None, check_mode: bool) -> dict:
    """Put the rendered file (a local path) at dest: unchanged, or validated and renamed into place."""
    with open(rendered, "rb") as handle:
        content = handle.read()
    wanted_mode = int(mode, 8) if mode else 0o644
    try:
        with open(dest, "rb") as handle:
            same_content = handle.read() == content
        same_mode = (os.stat(dest).st_mode & 0o7777) == wanted_mode
    except FileNotFoundError:
        same_content = same_mode = False
    if same_content and same_mode:
        return {"changed": False, "dest": dest}
    if check_mode:
        return {"changed": True, "dest": dest}
    if same_content:  # only the mode differs: nothing new to validate
        os.chmod(dest, wanted_mode)
        return {"changed": True, "dest": dest}
    directory = os.path.dirname(dest) or "."
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(dest)}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fchmod(handle.fileno(), wanted_mode)
            os.fsync(handle.fileno())
        if validate:
            if "%s" not in validate:
                raise AnsibleActionFail(f"validate must contain %s: {validate}")
            checked = subprocess.run(shlex.split(validate % temp), capture_output=True, text=True, check=False)
            if checked.returncode != 0:
                raise AnsibleActionFail(
                    "failed to validate",
                    result={"exit_status": checked.returncode, "stdout": checked.stdout, "stderr": checked.stderr},
                )
        os.replace(temp, dest)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    dir_fd = os.open(directory, os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return {"changed": True, "dest": dest}


class _LocalInstall:
    """Stands where the builtin template action asks for the copy action: installs the rendered file here."""

    def __init__(self, task) -> None:
        self.task = task

    def run(self, tmp=None, task_vars=None) -> dict:
        args = self.task.args
        return install(args["src"], args["dest"], args.get("mode"), args.get("validate"), bool(self.task.check_mode))


class _ActionLoader:
    def __init__(self, loader) -> None:
        self._loader = loader

    def get(self, name: str, *args, **kwargs):
        if name == "ansible.legacy.copy":
            return _LocalInstall(kwargs["task"])
        return self._loader.get(name, *args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._loader, name)


class _SharedLoaders:
    """The shared plugin loaders, but with the copy action replaced by the local install."""

    def __init__(self, shared) -> None:
        self._shared = shared
        self.action_loader = _ActionLoader(shared.action_loader)

    def __getattr__(self, name: str):
        return getattr(self._shared, name)


class ActionModule(TemplateAction):
    def _early_needs_tmp_path(self) -> bool:
        """No remote temporary directory on `connection: local`: the install needs none, and making and removing
        one is three shell commands a file (about 0.1 s each on the host, far more under TCG)."""
        return self._connection.transport != "local" and super()._early_needs_tmp_path()

    def run(self, tmp=None, task_vars=None):
        if self._connection.transport == "local":
            self._shared_loader_obj = _SharedLoaders(self._shared_loader_obj)
        return super().run(tmp, task_vars)
