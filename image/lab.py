"""The QEMU lab: the appliance image booted with its NICs in host network namespaces.

    client (10.0.0.31/24)            rs1 (192.168.2.50/24, gateway 192.168.2.21, HTTP "rs1")
       | veth                           | veth
    br-ext ---- tap0 = guest eth0    br-int ---- tap1 = guest eth1       (bridges in the "sw" namespace)

The reference's two-arm NAT diagram, with the load balancer a QEMU guest (TCG) booted from a
throw-away qcow2 overlay of the built image, its serial console on a pseudo-terminal. The e2e tests
build on it and `make run` uses it so a new user can answer the wizard and curl the VIP. The guest
has no way out: its only NICs are these taps. close() stops QEMU and every server by PID and deletes
the namespaces, whatever happened.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pexpect
import pyte

# A real server: answers GET with its name (argv[3]) or, without one, with the caller's address; after
# argv[4] seconds, if given (a slow server, for check timeouts).
HTTP_SERVER = r"""
import http.server, socket, socketserver, sys, time
class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET  # an IPv6 server too
    def server_bind(self):  # no reverse DNS lookup of our own address (getfqdn hangs without DNS)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()
    do_PUT = do_POST
    def do_GET(self):
        time.sleep(float(sys.argv[4]) if len(sys.argv) > 4 else 0)
        # /hang-up/NAME: the server answering NAME closes the connection with no answer, as one that fails
        # in the middle of a request does (it may have carried the request out)
        if len(sys.argv) > 3 and self.path == f"/hang-up/{sys.argv[3]}":
            self.close_connection = True; return
        body = f"{sys.argv[3] if len(sys.argv) > 3 else self.client_address[0]}\n".encode()
        # /slow/S: ten copies of the answer spread over S seconds, a connection that stays busy that long
        slow = float(self.path.split("/")[2]) if self.path.startswith("/slow/") else 0
        parts = 10 if slow else 1
        self.send_response(200); self.send_header("Content-Length", str(len(body) * parts))
        if self.path.startswith("/set-cookie/"):  # /set-cookie/NAME: the application's own session cookie
            self.send_header("Set-Cookie", f"{self.path.split('/')[2]}={body.decode().strip()}-{time.monotonic_ns()}; Path=/")
        if not slow:  # head and body in one write: a server killed mid-answer leaves no half answer behind
            self._headers_buffer.append(b"\r\n" + body); self.flush_headers(); return
        self.end_headers()
        for _ in range(parts):
            self.wfile.write(body); self.wfile.flush(); time.sleep(slow / parts)
    def log_message(self, *args):
        pass
Server((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
"""

# A UDP real server (SIP, say): answers every datagram with its name (argv[3]).
UDP_SERVER = r"""
import socket, sys
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind((sys.argv[1], int(sys.argv[2])))
while True:
    data, peer = server.recvfrom(65535)
    server.sendto(f"{sys.argv[3]}\n".encode(), peer)
"""

# A TCP server that answers each connection with one line (argv[3]) and closes it: a real server's
# load agent, as HAProxy's agent-check and keepalived's misc_dynamic ask it ("75%", "down").
TEXT_SERVER = r"""
import socket, sys
listener = socket.create_server((sys.argv[1], int(sys.argv[2])))
while True:
    conn, _ = listener.accept()
    with conn:
        conn.sendall(f"{sys.argv[3]}\n".encode())
"""

# A TLS 1.2 server answering each connection with one line (argv[3]) from cert argv[4] and key argv[5]; it
# resumes sessions by session ID (no tickets), which is what ssl-session-id persistence can follow.
TLS_SERVER = r"""
import socket, ssl, sys
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.maximum_version = ssl.TLSVersion.TLSv1_2
context.options |= ssl.OP_NO_TICKET
context.load_cert_chain(sys.argv[4], sys.argv[5])
listener = socket.create_server((sys.argv[1], int(sys.argv[2])))
while True:
    conn, _ = listener.accept()
    try:
        with context.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(f"{sys.argv[3]}\n".encode())
            tls.unwrap()  # a session OpenSSL sees closed without close_notify is dropped from its cache
    except (OSError, ssl.SSLError):
        pass
"""

# A syslog collector (the admin's log server): every line received on UDP argv[2] or TCP argv[3] at argv[1]
# is appended to the file argv[4], prefixed with the transport it came by.
SYSLOG_SERVER = r"""
import socket, socketserver, sys, threading
address, udp_port, tcp_port, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
lock = threading.Lock()
def keep(transport, text):
    with lock, open(path, "a") as out:
        out.write(f"{transport} {text}\n")
class Lines(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            keep("tcp", line.decode(errors="replace").rstrip())
threading.Thread(target=socketserver.ThreadingTCPServer((address, tcp_port), Lines).serve_forever, daemon=True).start()
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind((address, udp_port))
while True:
    keep("udp", udp.recv(65535).decode(errors="replace").rstrip())
"""

# chronyd as the site's NTP server (chrony's "local" reference: its own clock, never changed, -x)
NTP_SERVER_CONF = """local stratum 8
allow all
bindaddress {address}
port 123
cmdport 0
pidfile {pidfile}
"""

ROOT = Path(__file__).resolve().parent.parent
IMAGE = ROOT / "build" / "lb-appliance.qcow2"
_END = re.compile(rb"__LB_END_(\d+)__")


def sh(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=timeout)


def _start_server(namespace: str, script: str, args: list[str], port: int, listing: str, what: str) -> subprocess.Popen:
    """A server script in a namespace; returns once `ss` (with `listing`: -ltnH, -lunH) shows its port."""
    command = ["ip", "netns", "exec", namespace, sys.executable, "-c", script, *args]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if f":{port} " in sh("ip", "netns", "exec", namespace, "ss", listing).stdout:
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"the {what} server in {namespace} did not start on {args[0]}:{port}")


def start_http_server(namespace: str, address: str, port: int, answer: str | None = None, delay: float = 0) -> subprocess.Popen:
    """HTTP_SERVER in a namespace (answering after `delay` seconds); returns once it listens (the caller
    stops it by PID)."""
    extra = ([answer] if answer else []) + ([str(delay)] if delay else [])
    return _start_server(namespace, HTTP_SERVER, [address, str(port), *extra], port, "-ltnH", "HTTP")


def start_udp_server(namespace: str, address: str, port: int, answer: str) -> subprocess.Popen:
    """UDP_SERVER in a namespace; returns once it is bound (the caller stops it by PID)."""
    return _start_server(namespace, UDP_SERVER, [address, str(port), answer], port, "-lunH", "UDP")


def start_text_server(namespace: str, address: str, port: int, answer: str) -> subprocess.Popen:
    """TEXT_SERVER in a namespace; returns once it listens (the caller stops it by PID)."""
    return _start_server(namespace, TEXT_SERVER, [address, str(port), answer], port, "-ltnH", "text")


def start_tls_server(namespace: str, address: str, port: int, answer: str, cert: Path, key: Path) -> subprocess.Popen:
    """TLS_SERVER in a namespace; returns once it listens (the caller stops it by PID)."""
    return _start_server(namespace, TLS_SERVER, [address, str(port), answer, str(cert), str(key)], port, "-ltnH", "TLS")


class ServerStarter:
    """The test servers of a lab (the netns lab and the guest lab alike): each runs in one of the lab's
    namespaces, waits until it listens, and is stopped by PID with the lab."""

    processes: list[subprocess.Popen]

    def ns(self, name: str) -> str:
        raise NotImplementedError

    def _started(self, proc: subprocess.Popen) -> subprocess.Popen:
        self.processes.append(proc)
        return proc

    def start_http(self, name: str, address: str, port: int, answer: str | None = None, delay: float = 0) -> subprocess.Popen:
        """HTTP_SERVER: answers with `answer` (default: the caller's address), after `delay` seconds."""
        return self._started(start_http_server(self.ns(name), address, port, answer, delay))

    def start_text(self, name: str, address: str, port: int, answer: str) -> subprocess.Popen:
        """TEXT_SERVER: answers every connection with one line (a load agent, say)."""
        return self._started(start_text_server(self.ns(name), address, port, answer))

    def start_tls(self, name: str, address: str, port: int, answer: str, cert: Path, key: Path) -> subprocess.Popen:
        """TLS_SERVER: TLS 1.2 with session-ID resumption, answers every connection with `answer`."""
        return self._started(start_tls_server(self.ns(name), address, port, answer, cert, key))

    def start_udp(self, name: str, address: str, port: int, answer: str) -> subprocess.Popen:
        """UDP_SERVER: answers every datagram with `answer`."""
        return self._started(start_udp_server(self.ns(name), address, port, answer))

    def start_syslog(self, name: str, address: str, udp_port: int, tcp_port: int, log: Path) -> subprocess.Popen:
        """SYSLOG_SERVER: every line received on udp_port or tcp_port goes to `log`, with its transport."""
        args = [address, str(udp_port), str(tcp_port), str(log)]
        return self._started(_start_server(self.ns(name), SYSLOG_SERVER, args, tcp_port, "-ltnH", "syslog"))

    def start_ntp(self, name: str, address: str, workdir: Path) -> subprocess.Popen:
        """chronyd serving NTP from its own clock on address:123 (udp), in the foreground; it never sets the
        machine's clock (-x), which the namespaces share."""
        conf = workdir / f"ntp-{name}.conf"
        conf.write_text(NTP_SERVER_CONF.format(address=address, pidfile=workdir / f"ntp-{name}.pid"))
        command = ["ip", "netns", "exec", self.ns(name), "chronyd", "-d", "-x", "-u", "root", "-f", str(conf)]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if ":123 " in sh("ip", "netns", "exec", self.ns(name), "ss", "-lunH").stdout:
                return self._started(proc)
            time.sleep(0.05)
        proc.kill()
        raise RuntimeError(f"chronyd did not start serving NTP on {address}:123 in {self.ns(name)}")


def stop_processes(processes: list[subprocess.Popen]) -> None:
    """Stop what a lab started, by PID: TERM, then KILL after 5 s."""
    for proc in processes:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def answers_disk(path: Path, answers_yaml: str, extra: dict[str, str | bytes] | None = None) -> Path:
    """A small FAT image labelled LBANSWERS holding answers.yaml (and `extra` files, text or bytes: a
    backup), made without mounting."""
    path.unlink(missing_ok=True)
    sh("mkfs.vfat", "-C", "-n", "LBANSWERS", str(path), "2048")
    for name, content in {"answers.yaml": answers_yaml, **(extra or {})}.items():
        source = path.with_name(f"{path.stem}-{name}")
        source.write_bytes(content if isinstance(content, bytes) else content.encode())
        sh("mcopy", "-i", str(path), str(source), f"::/{name}")
        source.unlink()
    return path


# QEMU's TCG (7.2, Debian 12) can lose the timer interrupt of an idle vCPU: the guest kernel's RCU then
# reports "rcu_preempt kthread timer wakeup didn't happen" with that CPU "idling at native_safe_halt",
# and the guest hangs. Seen once in about 150 boots (2026-12-05, a UEFI first boot), an emulator defect
# that no appliance code can cause or cure. A wait that sees it fails at once with GuestKernelStalled,
# which `make test` reruns once on a fresh boot (pytest-rerunfailures, --only-rerun GuestKernelStalled);
# any other failure is never rerun.
TCG_LOST_TIMER = re.compile(rb"rcu_\w+ kthread timer wakeup didn't happen")


class GuestKernelStalled(AssertionError):
    """The guest's kernel stalled on a timer interrupt the emulator lost (TCG_LOST_TIMER)."""


class Guest:
    """A booted guest: its serial console as a screen (for the TUI) and as a byte log (for the shell)."""

    def __init__(self, child: pexpect.spawn, log_path: Path) -> None:
        self.child = child
        self.screen = pyte.Screen(80, 24)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self.stalled: re.Match | None = None  # the emulator's lost timer, once seen (TCG_LOST_TIMER)
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed by stop()
        self.started = time.monotonic()
        self.command: list[str] = []  # how it was started, so the lab can switch it on again
        self.drives: list[str] = []  # its -drive arguments, which power_on_with swaps

    # reading -------------------------------------------------------------------------------------
    def pump(self, timeout: float = 0.5) -> bool:
        """Read what the console printed; False once QEMU has exited."""
        try:
            data = self.child.read_nonblocking(65536, timeout=timeout)
        except pexpect.TIMEOUT:
            return True
        except pexpect.EOF:
            return False
        self.raw += data
        if self.stalled is None:
            self.stalled = TCG_LOST_TIMER.search(bytes(self.raw[-(len(data) + 64) :]))
        self.log.write(data)
        self.log.flush()
        self.stream.feed(data)
        return True

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait_screen(self, *texts: str, timeout: float = 60) -> str:
        """Until every one of texts is on the 80x24 screen at once; the screen, or AssertionError showing it.
        Name all a check needs here: a screen arrives in several reads (tests/terminal.py says more)."""
        on_screen = lambda: all(text in self.text() for text in texts)
        return self._wait(on_screen, " and ".join(map(repr, texts)) + " on screen", timeout) and self.text()

    def wait_output(self, pattern: str | bytes, timeout: float = 60, since: int = 0) -> re.Match:
        """Until the byte log after offset `since` matches pattern; the match."""
        regex = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        found: list[re.Match] = []

        def matched() -> bool:
            match = regex.search(bytes(self.raw), since)
            if match:
                found.append(match)
            return match is not None

        self._wait(matched, f"{regex.pattern!r} in the console output", timeout)
        return found[0]

    def _wait(self, condition, what: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.stalled is not None:
                tail = bytes(self.raw[-3000:]).decode(errors="replace")
                raise GuestKernelStalled(
                    f"the guest's kernel stalled while waiting for {what}: QEMU's TCG lost an idle vCPU's timer "
                    f"interrupt ({self.stalled.group().decode()}), an emulator defect; last output:\n{tail}"
                )
            if time.monotonic() > deadline:
                tail = bytes(self.raw[-3000:]).decode(errors="replace")
                raise AssertionError(f"no {what} after {timeout:g} s; screen:\n{self.text()}\nlast output:\n{tail}")
            if not self.pump():
                if condition():
                    break
                raise AssertionError(f"QEMU exited while waiting for {what}")
        return True

    # typing --------------------------------------------------------------------------------------
    def send(self, keys: str) -> None:
        self.child.send(keys)

    def login(self, password: str, timeout: float = 120) -> None:
        """Log in as root on the serial console and quiet the shell for scripted commands."""
        mark = len(self.raw)
        self.send("\r")
        self.wait_output(rb"login: ", timeout, since=mark)
        mark = len(self.raw)
        self.send("root\r")
        self.wait_output(rb"Password: ", 30, since=mark)
        mark = len(self.raw)
        self.send(password + "\r")
        self.wait_output(rb"[#$] ", 60, since=mark)
        self.shell("stty -echo cols 200; export PS1='# ' TERM=dumb; dmesg -n 1", timeout=30)

    def shell(self, command: str, timeout: float = 60) -> tuple[int, str]:
        """Run a command in the logged-in shell; (exit status, output). The marker's $? is expanded by
        the shell, so the echoed command line can never match it."""
        mark = len(self.raw)
        self.send(f"{command}; echo __LB_END_$?__\r")
        match = self.wait_output(_END, timeout, since=mark)
        output = bytes(self.raw[mark : match.start()]).decode(errors="replace").replace("\r", "")
        self.wait_output(rb"# ", 30, since=match.end())  # the next prompt, so it is not in the next output
        return int(match.group(1)), output

    def stop(self) -> None:
        """Power off: QEMU signalled by its PID (HUP, INT, then KILL) and reaped, however busy the machine."""
        if self.child.isalive():
            self.child.terminate(force=True)
        if self.child.isalive():  # killed, but not gone within pexpect's short grace on a loaded machine
            self.child.wait()
        self.child.close(force=True)
        self.log.close()


OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")


def qemu_command(memory_mib: int = 1024, uefi_vars: Path | None = None, cpus: int = 2) -> list[str]:
    """QEMU under TCG with the serial console on stdio (Ctrl-C goes to the guest) and no display.

    uefi_vars: boot with OVMF (UEFI), this writable copy of its variable store; None boots SeaBIOS.
    cpus: virtual CPUs, each a host thread under TCG; two guests at once get one each, so neither
    waits for the other's second thread on a machine of two cores.
    """
    command = [
        "qemu-system-x86_64", "-accel", "tcg", "-m", str(memory_mib), "-smp", str(cpus),
        "-display", "none", "-monitor", "none",
        "-chardev", "stdio,id=console,signal=off", "-serial", "chardev:console",
        "-device", "virtio-rng-pci",
    ]  # fmt: skip
    if uefi_vars is not None:
        command += [
            "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,file={uefi_vars}",
        ]  # fmt: skip
    return command


def spawn(command: list[str], log_path: Path) -> Guest:
    """Start QEMU on a pseudo-terminal; the caller stops it (Guest.stop, by its PID)."""
    child = pexpect.spawn(command[0], command[1:], timeout=None, dimensions=(24, 80))
    return Guest(child, log_path)


@dataclass
class GuestLab(ServerStarter):
    """The namespaces, bridges and taps around one guest; boot() starts QEMU on them."""

    image: Path = IMAGE
    prefix: str = field(default_factory=lambda: f"lbq{os.getpid() % 100000}")
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="lb-e2e-")))
    processes: list[subprocess.Popen] = field(default_factory=list)
    guests: list[Guest] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)

    def ns(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def run(self, name: str, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", self.ns(name), *args, check=check, timeout=timeout)

    def _namespace(self, name: str) -> None:
        sh("ip", "netns", "add", self.ns(name))
        self.namespaces.append(name)
        self.run(name, "ip", "link", "set", "lo", "up")

    def add_host(self, name: str, bridge: str, address: str, gateway: str | None = None) -> None:
        """A namespace with eth0 on one of the switch's bridges."""
        self._namespace(name)
        port = f"{name}-port"
        sh("ip", "link", "add", "eth0", "netns", self.ns(name), "type", "veth", "peer", "name", port, "netns", self.ns("sw"))
        self.run("sw", "ip", "link", "set", port, "master", bridge, "up")
        self.run(name, "ip", "addr", "add", address, "dev", "eth0")
        self.run(name, "ip", "link", "set", "eth0", "up")
        if gateway:
            self.run(name, "ip", "route", "add", "default", "via", gateway)

    def build(self) -> GuestLab:
        self._namespace("sw")
        for bridge, tap in (("br-ext", "tap0"), ("br-int", "tap1")):
            self.run("sw", "ip", "link", "add", bridge, "type", "bridge")
            self.run("sw", "ip", "link", "set", bridge, "up")
            self.run("sw", "ip", "tuntap", "add", tap, "mode", "tap")
            self.run("sw", "ip", "link", "set", tap, "master", bridge, "up")
        self.add_host("client", "br-ext", "10.0.0.31/24")
        self.add_real_server("rs1", "192.168.2.50")
        return self

    def add_real_server(self, name: str, address: str, port: int = 80, gateway: str = "192.168.2.21") -> None:
        """A real server on the internal bridge, gateway the load balancer, answering with its name."""
        self.add_host(name, "br-int", f"{address}/24", gateway=gateway)
        self.start_http(name, address, port, name)

    def fetch(self, name: str, url: str, timeout: float = 3, source: str | None = None) -> str | None:
        """GET url from a namespace (from its address `source`, if given): the body, or None when it fails."""
        interface = ["--interface", source] if source else []
        result = self.run(name, "curl", "-sS", "--max-time", str(timeout), *interface, url, check=False, timeout=timeout + 10)
        return result.stdout if result.returncode == 0 else None

    @staticmethod
    def tap(guest: int, nic: int) -> str:
        """The tap device of a guest's NIC in the switch namespace (eth0 -> br-ext, eth1 -> br-int)."""
        return f"tap{2 * guest + nic}"

    def boot(
        self, drives: list[Path] = (), memory_mib: int = 1024, uefi: bool = False, disk_size: str = "", cpus: int = 2
    ) -> Guest:
        """Start QEMU (TCG) on a fresh overlay of the image, so the artifact itself stays clean.

        disk_size (e.g. "4G") makes the guest's disk bigger than the image, as a real disk would be.
        """
        overlay = self.workdir / f"guest{len(self.guests)}.qcow2"
        size = [disk_size] if disk_size else []
        sh("qemu-img", "create", "-q", "-f", "qcow2", "-b", str(self.image.resolve()), "-F", "qcow2", str(overlay), *size)
        uefi_vars = None
        if uefi:
            uefi_vars = self.workdir / f"guest{len(self.guests)}-vars.fd"
            shutil.copy(OVMF_VARS, uefi_vars)
        disks = ["-drive", f"file={overlay},if=virtio,format=qcow2"]
        for drive in drives:
            disks += ["-drive", f"file={drive},if=virtio,format=raw"]
        command = [*qemu_command(memory_mib, uefi_vars, cpus), *disks]
        number = len(self.guests)
        for index, bridge in enumerate(("br-ext", "br-int")):
            tap = self.tap(number, index)
            if number:  # the first guest's taps are made by build(); later guests (an HA pair) get their own
                self.run("sw", "ip", "tuntap", "add", tap, "mode", "tap")
                self.run("sw", "ip", "link", "set", tap, "master", bridge, "up")
            command += [
                "-netdev", f"tap,id=nic{index},ifname={tap},script=no,downscript=no",
                "-device", f"virtio-net-pci,netdev=nic{index},mac=52:54:00:00:{number:02x}:0{index + 1}",
            ]  # fmt: skip
        guest = spawn(["ip", "netns", "exec", self.ns("sw"), *command], self.workdir / f"console{len(self.guests)}.log")
        guest.command = ["ip", "netns", "exec", self.ns("sw"), *command]
        guest.drives = disks
        self.guests.append(guest)
        return guest

    def power_cycle(self, guest: Guest) -> Guest:
        """Pull the power (QEMU killed, nothing flushed by the guest) and switch the same machine on again:
        the same disk overlay, drives and NICs. The new console replaces the old in the lab."""
        guest.child.kill(9)
        guest.stop()
        return self.power_on(guest)

    def power_on(self, guest: Guest) -> Guest:
        """Switch a machine that was powered off (stop) on again: the same disk overlay, drives and NICs.
        The new console replaces the old in the lab."""
        return self.power_on_with(guest, guest.drives)

    def power_on_with(self, guest: Guest, drives: list[str]) -> Guest:
        """Switch a machine that was powered off on with other drives (QEMU -drive/-boot arguments): a new
        disk, an ISO in its tray. Its NICs, their MACs, its memory and firmware stay; the new console
        replaces the old in the lab."""
        number = self.guests.index(guest)
        old = guest.drives
        start = next(i for i in range(len(guest.command) + 1) if guest.command[i : i + len(old)] == old)
        command = [*guest.command[:start], *drives, *guest.command[start + len(old) :]]
        boots = len(list(self.workdir.glob(f"console{number}-again*.log")))
        again = spawn(command, self.workdir / f"console{number}-again{boots or ''}.log")
        again.command, again.drives = command, list(drives)
        self.guests[number] = again
        return again

    def close(self) -> None:
        try:
            for guest in self.guests:
                guest.stop()
            stop_processes(self.processes)
        finally:
            for name in reversed(self.namespaces):
                sh("ip", "netns", "del", self.ns(name), check=False)
        if not os.environ.get("LB_E2E_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)


def main() -> int:
    """`make run`: boot the appliance in the lab with its serial console on this terminal."""
    if os.geteuid() != 0:
        print("make run needs root (network namespaces and tap devices for the lab)", file=sys.stderr)
        return 1
    lab = GuestLab()
    try:
        lab.build()
        guest = lab.boot()
        print(
            "The appliance boots under QEMU (TCG: about 20 s to the banner). Its serial console is this terminal;\n"
            "Ctrl-] powers it off and removes the lab. Answer the wizard with the reference's two-arm NAT example\n"
            "(eth0 10.0.0.21/24, eth1 192.168.2.21/24, gateway 10.0.0.31, real server 192.168.2.50), then from\n"
            f"another terminal:  ip netns exec {lab.ns('client')} curl http://10.0.0.21/   (the real server answers rs1)\n"
        )
        guest.child.interact(escape_character="\x1d")
    finally:
        lab.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
