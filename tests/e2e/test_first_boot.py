"""First boot of the appliance image: configured from an answers disk, and by typing into the wizard
on the serial console; the client is then served by the real server through IPVS NAT in the guest."""

from __future__ import annotations

import yaml

from image.lab import answers_disk
from tests.conftest import TWO_ARM_NAT
from tests.e2e.steps import BOOT, wait_configured, wait_served
from tests.tui.test_wizard_tui import NAT_SCREENS, PASSWORD


def test_answers_disk_configures_the_unit_unattended(guest_lab):
    disk = answers_disk(guest_lab.workdir / "answers.img", yaml.safe_dump(TWO_ARM_NAT))
    guest = guest_lab.boot(drives=[disk], disk_size="4G")
    wait_configured(guest)
    assert TWO_ARM_NAT["admin_password"].encode() not in guest.raw  # the password is never printed
    wait_served(guest_lab)
    guest.login(TWO_ARM_NAT["admin_password"])
    status, table = guest.shell("ipvsadm -Ln")
    assert status == 0
    assert "TCP  10.0.0.21:80 wlc" in table and "192.168.2.50:80" in table and "Masq" in table
    status, size = guest.shell("df --output=size -B1 / | tail -1")  # the root grew to fill the 4 GB disk
    assert status == 0 and int(size.split()[-1]) > 3.5e9
    # first boot made this unit's own TLS certificate (the image has none), readable by root only
    status, made = guest.shell("cd /etc/haproxy/certs && stat -c %a appliance.pem && grep -c 'PRIVATE KEY' appliance.pem; cd")
    assert status == 0 and made.split()[-2:] == ["600", "2"], made


def test_wizard_on_the_serial_console_then_a_reboot(guest_lab):
    guest = guest_lab.boot()
    guest.wait_screen("Press Enter to configure this load balancer", timeout=BOOT)
    guest.send("\r")
    guest.wait_screen("setup wizard", timeout=120)
    # the whole example in one burst, as a script on a serial line sends it
    guest.send("\r" + "".join(value + "\r" for _, values in NAT_SCREENS for value in values))
    screen = guest.wait_screen("make the changes permanent", timeout=120)
    assert "VIP1 10.0.0.21:80/tcp layer 4 NAT" in screen
    guest.send("\r")
    guest.wait_screen("Press Enter to leave", timeout=600)
    mark = len(guest.raw)
    guest.send("\r")
    guest.wait_output(rb"login: ", timeout=120, since=mark)  # configured: a normal login prompt
    wait_served(guest_lab)

    guest.login(PASSWORD)
    status, table = guest.shell("ipvsadm -Ln")
    assert status == 0 and "192.168.2.50:80" in table and "Masq" in table
    status, vga = guest.shell("cat /dev/vcs1")  # the VGA console (tty1) as its screen shows it
    assert "Setup is in progress on ttyS0" in vga  # while the wizard ran on the serial console
    assert vga.rstrip().endswith("login:")  # and a normal login prompt once it was done

    # only SSH (and the virtual services) reach the unit itself: a server started on it stays hidden
    guest.shell("(setsid python3 -m http.server 8081 >/dev/null 2>&1 < /dev/null &)")
    listening = "for i in $(seq 100); do ss -ltnH | grep -q ':8081 ' && break; sleep 0.2; done; ss -ltnH | grep -c ':8081 '"
    assert guest.shell(listening)[1].strip() == "1"
    assert guest_lab.fetch("client", "http://10.0.0.21:8081/") is None
    ssh = guest_lab.run("client", "curl", "-s", "--max-time", "5", "telnet://10.0.0.21:22", check=False, timeout=20)
    assert ssh.stdout.startswith("SSH-2.0-OpenSSH")

    mark = len(guest.raw)
    guest.send("systemctl reboot\r")
    guest.wait_output(rb"login: ", timeout=BOOT, since=mark)
    wait_served(guest_lab)


def test_the_disk_boots_with_uefi_too(guest_lab):
    guest = guest_lab.boot(uefi=True)
    guest.wait_screen("Press Enter to configure this load balancer", timeout=BOOT)
