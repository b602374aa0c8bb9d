"""The `extdns` command line."""

from __future__ import annotations

import argparse
import sys

import extdns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="extdns",
        description="Event-driven DNS names for Kubernetes Services and Ingresses.",
    )
    parser.add_argument("--version", action="version", version=f"extdns {extdns.__version__}")
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
