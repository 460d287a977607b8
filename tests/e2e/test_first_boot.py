"""First boot of the appliance image by typing into the wizard on the serial console, booted with UEFI
(every other guest of the tier boots the same disk with BIOS; the answers-disk first boot and a reboot
are scenarios of test_single_unit); the client is then served by the real server through IPVS NAT in
the guest."""

from __future__ import annotations

from tests.e2e.steps import BOOT, wait_served
from tests.tui.test_wizard_tui import NAT_SCREENS, PASSWORD


def test_wizard_on_the_serial_console_of_a_uefi_boot(guest_lab):
    guest = guest_lab.boot(uefi=True)
    guest.wait_screen("Press Enter to configure this load balancer", timeout=BOOT)
    guest.send("\r")
    guest.wait_screen("setup wizard", timeout=120)
    # the whole example in one burst, as a script on a serial line sends it
    guest.send("\r" + "".join(value + "\r" for _, values in NAT_SCREENS for value in values))
    guest.wait_screen("make the changes permanent", "VIP1 10.0.0.21:80/tcp layer 4 NAT", timeout=120)
    guest.send("\r")
    guest.wait_screen("Press Enter to leave", "default gateway to 192.168.2.21", timeout=600)
    mark = len(guest.raw)
    guest.send("\r")
    guest.wait_output(rb"login: ", timeout=120, since=mark)  # configured: a normal login prompt
    wait_served(guest_lab)

    guest.login(PASSWORD)
    assert guest.shell("test -d /sys/firmware/efi")[0] == 0  # booted by the firmware's UEFI, not BIOS
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
