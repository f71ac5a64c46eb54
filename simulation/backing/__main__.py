"""`python -m simulation.backing ensure|run`: install (as root) or check the server binaries (and
the prod simulation's parts, which the tests use too); start both servers and wait for Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from simulation.backing.binaries import TOOLS, Binaries, ensure_binaries, ensure_tools
from simulation.backing.errors import BackingServiceError
from simulation.backing.services import BackingServices


def _cmd_ensure(args: argparse.Namespace) -> int:
    binaries = Binaries.from_env()
    before = binaries.missing()
    ensure_binaries(install=args.install)
    if before:
        print("installed: " + " ".join(sorted({item.package for item in before})))
    for name, version in binaries.versions().items():
        print(f"{name}: {version}")
    print(f"PostgreSQL binaries: {binaries.pg_bindir}")
    print(f"PostGIS + pg_trgm:   {binaries.pg_extension_dir}")
    print(f"redis-server:        {binaries.redis_server}")
    if args.prod_sim:
        why = "prod-sim's failover, backups, monitoring and chaos"
        found = ensure_tools(list(TOOLS), why=why, install=args.install)
        for name, path in found.items():
            print(f"{name + ':':<20} {path}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    ensure_binaries(install=args.install)
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    workdir = Path(args.workdir) if args.workdir else None
    with BackingServices(workdir, keep_workdir=args.keep) as services:
        postgres, redis_server = services.postgres, services.redis
        print(f"PostgreSQL + PostGIS on {postgres.host}:{postgres.port} pid {postgres.pid}")
        print(f"Redis on {redis_server.host}:{redis_server.port} pid {redis_server.pid}")
        print(f"work directory {services.workdir}; ready in {services.ready_s:.2f} s")
        for name, value in services.environment().items():
            print(f"{name}={value}")
        print("Ctrl-C stops both.", flush=True)
        while not stop_requested.wait(0.5):
            for name, server in (("PostgreSQL", services.postgres), ("Redis", services.redis)):
                if not server.is_running():
                    print(f"{name} exited unexpectedly; stopping", file=sys.stderr)
                    return 1
    print("stopped")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulation.backing",
        description="Real PostgreSQL 15 + PostGIS and Redis on free loopback ports.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    install = argparse.ArgumentParser(add_help=False)
    install.add_argument(
        "--install",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="install missing packages with apt-get (needs root); default: only when root "
        "and CI=true or TRIPGEN_AUTO_INSTALL=1",
    )
    ensure = commands.add_parser(
        "ensure",
        parents=[install],
        help="check (or install) the PostgreSQL, PostGIS and Redis binaries and print them",
    )
    ensure.add_argument(
        "--prod-sim",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also the prod simulation's parts: pg_auto_failover, Redis Sentinel, pgBackRest, "
        "Prometheus + promtool, the exporters, iptables (default: yes)",
    )
    ensure.set_defaults(handler=_cmd_ensure)
    run = commands.add_parser(
        "run",
        parents=[install],
        help="start both servers, print TRIPGEN_DATABASE_URL / TRIPGEN_REDIS_URL, wait for Ctrl-C",
    )
    run.add_argument(
        "--workdir",
        help="directory for data and logs (default: a new one under /dev/shm or the temp dir); "
        "as root, the unprivileged service account must be able to reach it",
    )
    run.add_argument("--keep", action="store_true", help="keep the work directory on exit")
    run.set_defaults(handler=_cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except BackingServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
