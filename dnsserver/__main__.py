"""`python -m dnsserver -conf Corefile [-dns.port N] [-processes N]`: the CoreDNS command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from dnsserver import processes
from dnsserver.app import App, new_loop
from dnsserver.corefile import DEFAULT_PORT, CorefileError, parse


def _count(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"'{value}' is not a number of processes (1 or more)")
    return int(value)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dnsserver", description=__doc__)
    p.add_argument("-conf", default="Corefile", help="Corefile to load (default: ./Corefile)")
    p.add_argument("-dns.port", dest="port", type=int, default=DEFAULT_PORT, help="default port (53)")
    p.add_argument("-dns.host", dest="host", default="", help="address to bind (default: all)")
    p.add_argument(
        "-processes",
        type=_count,
        default=os.environ.get("DNSSERVER_PROCESSES") or None,
        help="server processes sharing the port (default: $DNSSERVER_PROCESSES, else the CPUs usable)",
    )
    args = p.parse_args(argv)
    n = args.processes if args.processes is not None else processes.usable_cpus()
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] %(message)s", stream=sys.stdout)
    try:
        text = Path(args.conf).read_text()
        blocks = parse(text, args.port)
    except (OSError, CorefileError) as err:
        print(f"dnsserver: {err}", file=sys.stderr)
        return 1
    if n > 1:
        return processes.run(blocks, args.host, n)
    loop = new_loop()
    asyncio.set_event_loop(loop)
    app = App(blocks, args.host)
    try:
        loop.run_until_complete(app.start())
    except CorefileError as err:  # a setting found wrong when it is used (e.g. an etcd TLS file)
        print(f"dnsserver: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"dnsserver: cannot listen: {err}", file=sys.stderr)
        return 1
    for port, bound in app.ports.items():
        print(f"dns://:{bound}" if port else f"dns://:{bound} (port 0)", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    loop.run_until_complete(processes.lameduck(blocks))
    loop.run_until_complete(app.stop())
    return 0


if __name__ == "__main__":
    sys.exit(main())
