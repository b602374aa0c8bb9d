"""`python -m dnsserver -conf Corefile [-dns.port N]`: CoreDNS's command line for this server."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from dnsserver.app import App, new_loop
from dnsserver.corefile import DEFAULT_PORT, CorefileError, parse


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dnsserver", description=__doc__)
    p.add_argument("-conf", default="Corefile", help="Corefile to load (default: ./Corefile)")
    p.add_argument("-dns.port", dest="port", type=int, default=DEFAULT_PORT, help="default port (53)")
    p.add_argument("-dns.host", dest="host", default="", help="address to bind (default: all)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] %(message)s", stream=sys.stdout)
    try:
        text = Path(args.conf).read_text()
        blocks = parse(text, args.port)
    except (OSError, CorefileError) as err:
        print(f"dnsserver: {err}", file=sys.stderr)
        return 1
    loop = new_loop()
    asyncio.set_event_loop(loop)
    app = App(blocks, args.host)
    try:
        loop.run_until_complete(app.start())
    except OSError as err:
        print(f"dnsserver: cannot listen: {err}", file=sys.stderr)
        return 1
    for port, bound in app.ports.items():
        print(f"dns://:{bound}" if port else f"dns://:{bound} (port 0)", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    loop.run_until_complete(app.stop())
    return 0


if __name__ == "__main__":
    sys.exit(main())
