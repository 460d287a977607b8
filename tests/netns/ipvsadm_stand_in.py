"""A stand-in for ipvsadm over a table file: the host kernel has no IPVS (tests/roles uses a printing one).

It answers what lbwizard asks of ipvsadm (-Ln, -Sn, -Lnc, and -a/-d/-e of a destination) from a JSON
table, with ipvsadm's own refusals ("Destination already exists", "No such destination", "No such
service"), and logs every command. A test plays keepalived by writing the table, as keepalived's reload
rewrites the kernel's. The guest's real ipvsadm and IPVS run the same steps in the e2e tier.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SCRIPT = """#!{python}
# stand-in for ipvsadm (the host kernel has no IPVS): tests/netns/ipvsadm_stand_in.py over {table}
import sys
sys.path.insert(0, {here!r})
from ipvsadm_stand_in import main
sys.exit(main({table!r}, sys.argv[1:]))
"""
FORWARD = {"-m": "Masq", "-g": "Route", "-i": "Tunnel"}
HEADER = (
    "IP Virtual Server version 1.2.1 (size=4096)\n"
    "Prot LocalAddress:Port Scheduler Flags\n"
    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
)


def install(directory: Path, table: Path) -> Path:
    """bin/ipvsadm in directory, over table; put the directory first on the PATH of what should use it."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "ipvsadm"
    script.write_text(SCRIPT.format(python=sys.executable, here=str(Path(__file__).parent), table=str(table)))
    script.chmod(0o755)
    return script


def write_table(table: Path, services: dict[str, dict]) -> None:
    """services: {"TCP 10.0.0.21:80": {"scheduler": "wlc", "destinations": {"192.168.2.50:80": ["Masq", 1]}}}."""
    table.write_text(json.dumps(services, indent=1, sort_keys=True))


def read_table(table: Path) -> dict[str, dict]:
    return json.loads(table.read_text())


def table_of(virtual_servers: list[dict]) -> dict[str, dict]:
    """What keepalived loads from the role's keepalived_virtual_servers: each service with a real server."""
    services = {}
    for vs in virtual_servers:
        if not vs["real_servers"]:
            continue
        key = f"FWM {vs['fwmark']}" if vs["fwmark"] else f"{vs['protocol']} {vs['address']}:{vs['port']}"
        forward = {"NAT": "Masq", "DR": "Route", "TUN": "Tunnel"}[vs["lb_kind"]]
        destinations = {f"{rs['address']}:{rs['port']}": [forward, rs["weight"]] for rs in vs["real_servers"]}
        services[key] = {"scheduler": vs["lb_algo"], "destinations": destinations}
    return services


def _service_key(args: list[str]) -> str | None:
    for flag, protocol in (("-t", "TCP"), ("-u", "UDP"), ("-f", "FWM")):
        if flag in args:
            return f"{protocol} {args[args.index(flag) + 1]}"
    return None


def _option(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args and args.index(flag) + 1 < len(args) else None


def main(table_file: str, args: list[str]) -> int:
    table = Path(table_file)
    with (table.parent / "ipvsadm.log").open("a") as log:
        log.write(" ".join(args) + "\n")
    services = read_table(table)
    if args in (["-Ln"], ["-L", "-n"]):
        lines = [HEADER.rstrip("\n")]
        for key, service in sorted(services.items()):
            lines.append(f"{key.replace(' ', '  ', 1)} {service['scheduler']}")
            for real, (forward, weight) in sorted(service["destinations"].items()):
                lines.append(f"  -> {real:<28} {forward:<7} {weight:<6} 0          0")
        print("\n".join(lines))
        return 0
    if args == ["-Sn"]:
        flags = {"TCP": "-t", "UDP": "-u", "FWM": "-f"}
        back = {v: k for k, v in FORWARD.items()}
        for key, service in sorted(services.items()):
            protocol, where = key.split(" ", 1)
            print(f"-A {flags[protocol]} {where} -s {service['scheduler']}")
            for real, (forward, weight) in sorted(service["destinations"].items()):
                print(f"-a {flags[protocol]} {where} -r {real} {back[forward]} -w {weight}")
        return 0
    if args == ["-Lnc"]:
        print("IPVS connection entries\npro expire state       source             virtual            destination")
        return 0
    if args and args[0] in ("-a", "-d", "-e"):
        key, real = _service_key(args), _option(args, "-r")
        if key is None or real is None:
            print(f"ipvsadm stand-in: cannot read {args}", file=sys.stderr)
            return 2
        if key not in services:
            print("No such service", file=sys.stderr)
            return 1
        destinations = services[key]["destinations"]
        if args[0] == "-a" and real in destinations:
            print("Destination already exists", file=sys.stderr)
            return 1
        if args[0] in ("-d", "-e") and real not in destinations:
            print("No such destination", file=sys.stderr)
            return 1
        if args[0] == "-d":
            del destinations[real]
        else:
            forward = next((FORWARD[f] for f in FORWARD if f in args), destinations.get(real, ["Masq"])[0])
            destinations[real] = [forward, int(_option(args, "-w") or 1)]
        write_table(table, services)
        return 0
    print(f"ipvsadm stand-in: {' '.join(args)} is not something lbwizard asks", file=sys.stderr)
    return 2
