"""What the built image carries, read from the qcow2 artifact itself (debugfs: no mount, no boot).

Every unit made from this image must differ in its secrets: a shipped private key or password hash
would be the same on all of them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from image.lab import IMAGE

# a PEM or OpenSSH private key: the header, optional "Name: value" lines, then base64 (programs that
# only mention the header, like libssh2 or ssh-keygen, have a NUL or a quote after it)
PRIVATE_KEY = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----\r?\n(?:[\w-]+: [^\n]*\n|\r?\n)*[A-Za-z0-9+/]{40}")


def partition_offset(raw: Path, number: int) -> tuple[int, int]:
    info = subprocess.run(["sgdisk", f"--info={number}", str(raw)], capture_output=True, text=True, check=True).stdout
    first = int(re.search(r"First sector: (\d+)", info).group(1))
    last = int(re.search(r"Last sector: (\d+)", info).group(1))
    return first, last - first + 1


@pytest.fixture(scope="module")
def image_root(tmp_path_factory) -> Path:
    if os.geteuid() != 0:
        pytest.skip("needs root to keep owners while dumping the image")
    if not IMAGE.exists():
        pytest.fail(f"{IMAGE} is missing: `make test` builds it first")
    work = tmp_path_factory.mktemp("image")
    raw = work / "disk.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(IMAGE), str(raw)], check=True)
    first, count = partition_offset(raw, 3)
    root_fs = work / "root.ext4"
    subprocess.run(["dd", f"if={raw}", f"of={root_fs}", "bs=512", f"skip={first}", f"count={count}", "status=none"], check=True)
    raw.unlink()
    tree = work / "tree"
    tree.mkdir()
    subprocess.run(["debugfs", "-R", f"rdump / {tree}", str(root_fs)], check=True, capture_output=True)
    root_fs.unlink()
    return tree


def debian_shipped(image_root: Path) -> dict[str, str]:
    """{path: md5} of every file exactly as a Debian package shipped it (dpkg's md5sums)."""
    shipped = {}
    for sums in (image_root / "var/lib/dpkg/info").glob("*.md5sums"):
        for line in sums.read_text().splitlines():
            digest, name = line.split(maxsplit=1)
            shipped[name] = digest
    return shipped


def test_no_private_key_anywhere(image_root):
    """Keys made by the build or by a package's install script would be the same on every unit.
    Debian's own files are exempt only while unmodified: GnuTLS, for one, carries the public
    known-answer keys of its self-tests, identical on every Debian system."""
    shipped = debian_shipped(image_root)
    found = []
    for path in image_root.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        content = path.read_bytes()
        name = str(path.relative_to(image_root))
        if PRIVATE_KEY.search(content) and shipped.get(name) != hashlib.md5(content).hexdigest():
            found.append(name)
    assert not list((image_root / "etc/ssh").glob("ssh_host_*")), "SSH host keys are made at first boot"
    assert found == []


def test_every_account_is_locked_until_the_wizard_sets_the_admin_password(image_root):
    for line in (image_root / "etc/shadow").read_text().splitlines():
        user, hashed = line.split(":")[:2]
        assert hashed in ("*", "!", "!*") or hashed.startswith("!"), f"{user} has a usable password in the image"


def test_iptables_is_the_legacy_backend_python_iptables_writes_to(image_root):
    assert os.readlink(image_root / "etc/alternatives/iptables") == "/usr/sbin/iptables-legacy"


def test_each_unit_gets_its_own_identity(image_root):
    assert (image_root / "etc/machine-id").read_text() == ""
    assert not (image_root / "etc/haproxy/certs/appliance.pem").exists()
    ssh = (image_root / "etc/ssh/sshd_config.d/lb-appliance.conf").read_text()
    assert "PermitRootLogin prohibit-password" in ssh


def test_the_image_holds_no_trace_of_the_machine_that_built_it(image_root):
    """mmdebstrap copies the build host's resolver and host name in; a fresh unit would offer that
    nameserver as its default, and every unit would carry the build machine's name."""
    build_host = socket.gethostname()
    host_lines = Path("/etc/resolv.conf").read_text().splitlines()
    host_resolvers = {line.split()[1] for line in host_lines if line.startswith("nameserver ")}
    resolv = (image_root / "etc/resolv.conf").read_text()
    assert not [line for line in resolv.splitlines() if line.startswith("nameserver")], resolv
    assert not any(address in resolv for address in host_resolvers)
    assert (image_root / "etc/hostname").read_text().strip() == "lb-appliance" != build_host
    assert build_host not in {name for line in (image_root / "etc/hosts").read_text().splitlines() for name in line.split()[1:]}
    assert (image_root / "etc/machine-id").read_text() == ""
    apt_settings = "".join(p.read_text() for p in (image_root / "etc/apt").rglob("*") if p.is_file() and p.suffix != ".gpg")
    assert "proxy" not in apt_settings.lower()
    assert not [p for p in (image_root / "var/cache/apt").rglob("*") if p.is_file()]
    assert not [p for p in (image_root / "var/lib/apt/lists").rglob("*") if p.is_file() and p.name != "lock"]
    assert not (image_root / "root/.bash_history").exists()


def test_haproxy_starts_as_its_own_user_on_the_images_file(image_root):
    """Until the unit is set up HAProxy runs on the image's file; Debian's chroots, which the haproxy user
    (haproxy.service.d/unprivileged.conf) cannot do, so the image ships its own: checked as that user."""
    dropin = (image_root / "etc/systemd/system/haproxy.service.d/unprivileged.conf").read_text()
    assert "User=haproxy" in dropin and "CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_NET_ADMIN" in dropin
    cfg = (image_root / "etc/haproxy/haproxy.cfg").read_text()
    assert "\n    chroot" not in cfg and "\n    user " not in cfg
    with tempfile.NamedTemporaryFile("w", suffix=".cfg") as copy:  # in /tmp: a place the haproxy user may read
        copy.write(cfg)
        copy.flush()
        os.chmod(copy.name, 0o644)
        as_haproxy = ["setpriv", "--reuid=haproxy", "--regid=haproxy", "--clear-groups", "haproxy", "-c", "-f", copy.name]
        checked = subprocess.run(as_haproxy, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_image_says_what_it_is(image_root):
    version = (image_root / "etc/lb-appliance-version").read_text()
    assert re.search(r"^LB_APPLIANCE_VERSION=\d", version, re.M)
    manifest = (image_root / "usr/share/lbwizard/manifest.txt").read_text()
    for package in ("keepalived ", "haproxy ", "ipvsadm ", "linux-image-", "openssh-server ", "lbwizard=="):
        assert package in manifest
    grub = (image_root / "boot/grub/grub.cfg").read_text()
    assert "console=tty0 console=ttyS0,115200 net.ifnames=0" in grub


def test_what_an_appliance_does_not_need_is_stripped(image_root):
    assert not [path for path in (image_root / "usr/share/man").rglob("*") if path.is_file()]
    kernel_modules = next((image_root / "lib/modules").iterdir()) / "kernel"
    for unused in ("drivers/gpu", "drivers/media", "sound", "drivers/net/wireless", "drivers/infiniband"):
        assert not (kernel_modules / unused).exists(), unused
    assert (kernel_modules / "net/netfilter/ipvs").is_dir()
    assert (kernel_modules / "drivers/hid").is_dir()  # a USB keyboard on the console
    assert not list((image_root / "var/lib/apt/lists").glob("*_Packages"))


def stale_bytecode(tree: Path) -> list[str]:
    """The .pyc files under tree that Python would not use for their source (so it compiles the source
    again in every process that imports it): a timestamp .pyc whose source's mtime or size differs, or a
    hash-checked one whose source's hash differs."""
    stale = []
    for compiled in tree.rglob("__pycache__/*.pyc"):
        source = compiled.parent.parent / f"{compiled.name.split('.')[0]}.py"
        if not source.exists():
            continue
        header = compiled.read_bytes()[:16]
        flags = int.from_bytes(header[4:8], "little")
        if flags & 0b1:  # hash-based; bit 2 would say "checked"
            valid = header[8:16] == importlib.util.source_hash(source.read_bytes())
        else:
            status = source.stat()
            valid = header[8:16] == (int(status.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little") + (
                status.st_size & 0xFFFFFFFF
            ).to_bytes(4, "little")
        if not valid:
            stale.append(str(compiled.relative_to(tree)))
    return stale


def test_the_python_on_the_unit_runs_from_its_compiled_files(image_root):
    """The base stage's tar clamps mtimes; timestamp .pyc files pip wrote before that were all stale, so
    every hand-over compiled Ansible again (about 20 s of each one under TCG)."""
    site_packages = next((image_root / "opt/lbwizard/lib").glob("python3*/site-packages"))
    assert len(list(site_packages.rglob("__pycache__/*.pyc"))) > 1000  # Ansible, Textual, pyroute2, lbwizard
    assert stale_bytecode(site_packages) == []
