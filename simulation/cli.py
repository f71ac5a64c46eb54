"""`python -m simulation.cli COMMAND` — what the deploy nox sessions run.

    deploy --profile dev|prod [--platform local|kind|auto]   nox -s deploy-dev-sim / deploy-prod-sim
    status [--json]                                          nox -s status (replicas, data
                                                             stores with role and zone,
                                                             Prometheus, memory)
    down                                                     nox -s down
    cluster-up [--profile prod|dev]                          nox -s cluster-up
    cluster-down [--profile prod|dev]                        nox -s cluster-down
    deploy-aks --kube-context NAME [--values FILE]... [--set K=V]... [--force] [--dry-run]
    endpoints | kill-replica | zone-outage | restore | stop-dependency | start-dependency |
    primaries | kill-primary | heal                          chaos primitives, by hand

Mistakes a user can make (unknown profile, nothing deployed, a missing tool) end with one clear
`error:` line and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from simulation.platforms.aks import AksPlatform
from simulation.platforms.base import DeploymentStatus, HighAvailability, PlatformError
from simulation.platforms.kind import KindPlatform
from simulation.platforms.local import LocalPlatform
from simulation.platforms.runner import CommandFailed
from simulation.platforms.select import (
    CHOICES,
    choose_platform,
    current_platform,
    default_runner,
)
from simulation.platforms.supervisor import SupervisorError
from simulation.profiles import REPLICAS, SERVICES, UnknownProfile
from simulation.state import StateError, load_state, run_dir

console = Console(stderr=True, soft_wrap=True)  # messages stay whole lines: greppable
out = Console()


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _services(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in names if s not in SERVICES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown service(s) {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join(SERVICES)}"
        )
    return names


# --------------------------------------------------------------------------- commands


def cmd_deploy(args: argparse.Namespace) -> int:
    runner = default_runner()
    choice = choose_platform(args.platform, runner)
    console.print(f"platform: [bold]{choice.name}[/] ({choice.reason})")
    started = time.monotonic()
    if choice.name == "local":
        platform: LocalPlatform | KindPlatform = LocalPlatform(
            args.run_dir,
            console=console,
            ready_timeout_s=args.timeout,
            extra_env=dict(args.env),
            services=args.services,
            monitoring=args.monitoring,
        )
    else:
        if args.env or args.services != SERVICES or args.monitoring is not None:
            raise PlatformError(
                "--env, --services and --monitoring apply to the local platform only"
            )
        platform = KindPlatform(args.run_dir, runner=runner, console=console)
    endpoints = platform.deploy(args.profile)
    console.print(f"deploy took {time.monotonic() - started:.1f} s")
    out.print(endpoints.base_url)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    status = current_platform(args.run_dir, console=console).status()
    state = load_state(run_dir(args.run_dir))
    zones_down = state.details.get("zones_down", []) if state else []
    if args.json:
        out.print_json(json.dumps({**asdict(status), "zones_down": zones_down}))
    else:
        _print_status(status, zones_down)
    return 0


def _print_status(status: DeploymentStatus, zones_down: Sequence[str]) -> None:
    ready = sum(r.ready for r in status.replicas)
    title = (
        f"{status.platform} · profile {status.profile} · {status.base_url} · "
        f"{ready}/{len(status.replicas)} replicas ready"
        + (f" · zones down: {', '.join(zones_down)}" if zones_down else "")
    )
    table = Table(title=title)
    for column in ("service", "replica", "zone", "pid / pod", "state", "ready"):
        table.add_column(column)
    for r in status.replicas:
        table.add_row(
            r.service,
            r.replica,
            r.zone,
            str(r.pid) if r.pid else "—",
            r.state,
            "[green]yes[/]" if r.ready else "[red]no[/]",
        )
    out.print(table)
    if status.dependencies:
        deps = Table(title="data stores, front door, monitoring")
        for column in ("name", "role", "zone", "address", "pid", "state"):
            deps.add_column(column)
        for d in status.dependencies:
            deps.add_row(
                d.name, d.role or "—", d.zone or "—", d.address, str(d.pid) if d.pid else "—",
                d.state,
            )  # fmt: skip
        out.print(deps)
    for name, url in status.monitoring.items():
        out.print(f"{name}: {url}")
    if status.memory_bytes:
        parts = ", ".join(
            f"{group} {size / 2**20:,.0f} MiB"
            for group, size in status.memory_bytes.items()
            if group != "total"
        )
        total = status.memory_bytes.get("total", 0) / 2**20
        out.print(f"memory (PSS): [bold]{total:,.0f} MiB[/] in all — {parts}")


def cmd_down(args: argparse.Namespace) -> int:
    if load_state(run_dir(args.run_dir)) is None:
        console.print("nothing is deployed; nothing to stop")
        return 0
    current_platform(args.run_dir, console=console).down()
    return 0


def cmd_endpoints(args: argparse.Namespace) -> int:
    out.print_json(json.dumps(asdict(current_platform(args.run_dir, console=console).endpoints())))
    return 0


def _high_availability(args: argparse.Namespace) -> HighAvailability:
    platform = current_platform(args.run_dir, console=console)
    if not isinstance(platform, HighAvailability):
        raise PlatformError(f"the {platform.name} platform has no failover operations here")
    return platform


def cmd_primaries(args: argparse.Namespace) -> int:
    out.print_json(json.dumps(_high_availability(args).primaries()))
    return 0


def cmd_kill_primary(args: argparse.Namespace) -> int:
    out.print_json(json.dumps(asdict(_high_availability(args).kill_primary(args.name))))
    return 0


def cmd_heal(args: argparse.Namespace) -> int:
    out.print_json(json.dumps(_high_availability(args).heal(args.name)))
    return 0


def cmd_cluster_up(args: argparse.Namespace) -> int:
    KindPlatform(args.run_dir, runner=default_runner(), console=console).up(args.profile)
    return 0


def cmd_cluster_down(args: argparse.Namespace) -> int:
    kind = KindPlatform(args.run_dir, runner=default_runner(), console=console)
    deleted = kind.delete_clusters(args.profile)
    console.print(f"deleted: {', '.join(deleted)}" if deleted else "no TripGen kind cluster exists")
    return 0


def cmd_deploy_aks(args: argparse.Namespace) -> int:
    aks = AksPlatform(
        args.run_dir,
        runner=default_runner(),
        kube_context=args.kube_context,
        force=args.force,
        values_files=args.values,
        set_values=args.set_values,
        console=console,
    )
    if args.dry_run:
        out.print(str(aks.dry_run()))
    else:
        out.print(aks.deploy("prod").base_url)
    return 0


def cmd_kill_replica(args: argparse.Namespace) -> int:
    platform = current_platform(args.run_dir, console=console)
    out.print_json(json.dumps(asdict(platform.kill_replica(args.service, args.replica))))
    return 0


def cmd_zone_outage(args: argparse.Namespace) -> int:
    out.print_json(
        json.dumps(current_platform(args.run_dir, console=console).zone_outage(args.zone))
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    out.print_json(json.dumps(current_platform(args.run_dir, console=console).restore(args.zone)))
    return 0


def cmd_stop_dependency(args: argparse.Namespace) -> int:
    current_platform(args.run_dir, console=console).stop_dependency(args.name)
    console.print(f"{args.name} stopped")
    return 0


def cmd_start_dependency(args: argparse.Namespace) -> int:
    current_platform(args.run_dir, console=console).start_dependency(args.name)
    console.print(f"{args.name} started")
    return 0


# --------------------------------------------------------------------------- parser


def _add_deploy_aks(aks: argparse.ArgumentParser) -> None:
    aks.add_argument("--kube-context", required=True, metavar="NAME",
                     help="the AKS cluster's kube context (never the current one)")  # fmt: skip
    aks.add_argument("--force", action="store_true",
                     help="deploy even though the latest prod SLA gate did not pass")  # fmt: skip
    aks.add_argument("--values", type=Path, action="append", default=[], metavar="FILE",
                     help="values file layered after values-prod.yaml (repeatable): the "
                     "operator's registry, Key Vault ids, hosts, subnets")  # fmt: skip
    aks.add_argument("--set", action="append", default=[], dest="set_values",
                     metavar="KEY=VALUE", help="one value, as helm --set (repeatable)")  # fmt: skip
    aks.add_argument("--dry-run", action="store_true", help="only render the manifests")
    aks.set_defaults(handler=cmd_deploy_aks)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulation.cli",
        description="Deploy TripGen profiles on local, kind or AKS, and inspect or stop them.",
    )
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=None,
        help="run directory holding state.json and logs (default: $TRIPGEN_RUN_DIR or .tripgen)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    deploy = sub.add_parser("deploy", help="deploy a profile (dev: 1 replica each; prod: 3/3/2/2)")
    deploy.add_argument("--profile", required=True, choices=sorted(REPLICAS))
    deploy.add_argument("--platform", default="auto", choices=CHOICES,
                        help="auto picks kind where Docker and kind exist, else local")  # fmt: skip
    deploy.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                        help="local: how long replicas may take to become ready")  # fmt: skip
    deploy.add_argument("--env", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                        help="local: extra environment for every service (repeatable), e.g. "
                        "TRIPGEN_RATE_LIMIT_PER_MINUTE=0")  # fmt: skip
    deploy.add_argument("--services", type=_services, default=SERVICES, metavar="LIST",
                        help="local: deploy only these services (comma-separated)")  # fmt: skip
    deploy.add_argument("--monitoring", action=argparse.BooleanOptionalAction, default=None,
                        help="local: Prometheus + exporters with the SLA alert rules "
                        "(default: prod yes, dev no)")  # fmt: skip
    deploy.set_defaults(handler=cmd_deploy)

    status = sub.add_parser("status", help="replicas with zone, pid/pod, state and readiness")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(handler=cmd_status)

    sub.add_parser("down", help="stop the deployment and everything it started").set_defaults(
        handler=cmd_down
    )
    sub.add_parser("endpoints", help="print the deployment's URLs as JSON").set_defaults(
        handler=cmd_endpoints
    )

    cluster_up = sub.add_parser("cluster-up", help="create the kind cluster for a profile")
    cluster_up.add_argument("--profile", default="prod", choices=sorted(REPLICAS))
    cluster_up.set_defaults(handler=cmd_cluster_up)
    cluster_down = sub.add_parser("cluster-down", help="delete the kind cluster(s)")
    cluster_down.add_argument("--profile", default=None, choices=sorted(REPLICAS),
                              help="default: every TripGen kind cluster")  # fmt: skip
    cluster_down.set_defaults(handler=cmd_cluster_down)

    _add_deploy_aks(
        sub.add_parser("deploy-aks", help="helm upgrade --install --atomic prod to AKS")
    )

    kill = sub.add_parser("kill-replica", help="SIGKILL one replica (the platform restarts it)")
    kill.add_argument("service", choices=SERVICES)
    kill.add_argument("--replica", default=None, help="which one (default: first running)")
    kill.set_defaults(handler=cmd_kill_replica)
    for name, handler, text in (
        ("zone-outage", cmd_zone_outage, "stop every replica in a zone"),
        ("restore", cmd_restore, "bring a zone's replicas back"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("zone", help="zone-1..3 (or koreacentral-1..3)")
        p.set_defaults(handler=handler)
    sub.add_parser(
        "primaries", help="which member is each data store's primary (prod-sim)"
    ).set_defaults(handler=cmd_primaries)
    for name, handler, text in (
        ("stop-dependency", cmd_stop_dependency, "stop postgresql or redis"),
        ("start-dependency", cmd_start_dependency, "start postgresql or redis again"),
        ("kill-primary", cmd_kill_primary, "kill the primary of postgresql or redis (failover)"),
        ("heal", cmd_heal, "bring lost members of postgresql or redis back as standbys"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("name", choices=("postgresql", "redis"))
        p.set_defaults(handler=handler)
    return parser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM (CI cancelling a job, nox killed) cleans up like Ctrl-C


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return int(args.handler(args))
    except (PlatformError, CommandFailed, StateError, UnknownProfile, SupervisorError) as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 1
    except KeyboardInterrupt:
        if __name__ == "__main__":  # the program itself, not a caller that imported main
            # The clean-up is done. From here to the exit a second Ctrl-C (people press it
            # twice) must not turn the clean exit into death by signal: ignored at once, not
            # after main returns (a CI run saw one land in that gap).
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        console.print("[yellow]interrupted[/]")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
