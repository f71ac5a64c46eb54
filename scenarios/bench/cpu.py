"""CPU per request of every process class during one benchmark case, read from /proc.

What the capacity model needs from a route is what it costs in CPU, not how fast it went on a
shared machine: CPU-seconds per class over the case ÷ the requests locust counted. Classes:
nginx, each service (user, trip, ai, location), PostgreSQL (nodes and monitor), Redis (nodes
and Sentinels), monitoring (Prometheus, exporters), the baseline's replicas, and locust itself
(its reaped process tree, from `getrusage(RUSAGE_CHILDREN)`); for a case the benchmark's own
process drives (AI generation), that process as `client` (`getrusage(RUSAGE_SELF)`), less the
usage meter's own sampling in it (`meter`). `other` is
the machine's busy CPU that none of them used: other work on a shared machine, which moves the
latency figures.

A deployment idles at a cost too (PostgreSQL's monitor and checkpointer, Sentinels, Prometheus
scrapes): `idle_rates` measures each class's CPU-seconds per second with no load before the cases,
and `net_of_idle` takes that rate × the case's span off, so a cached route is not charged for the
database's housekeeping. Both the gross and the net figures go into the JSON.

The processes are metered from just before locust starts to just after it ends, while locust
counts requests only after the users have spawned (`--reset-stats`, ~1 s at the benchmark's
spawn rate): per-request figures are therefore a few percent high, the same way for every case.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from scenarios.load.usage import MachineCpu, TreeCpu, children_cpu_s, cpu_by_class, self_cpu_s

CLASS_ORDER = (
    "nginx",
    "user",
    "trip",
    "ai",
    "location",
    "postgresql",
    "redis",
    "monitoring",
    "baseline",
    "locust",
    "client",
    "meter",
    "other",
)
# Classes that drive or surround the load rather than serve it: left out of the stack's total.
NOT_THE_STACK = ("locust", "client", "meter", "other")


@dataclass
class CaseCpu:
    """Started just before a case's locust run, stopped just after it (reaped)."""

    trees: TreeCpu | None
    locust_before_s: float
    machine_before: MachineCpu
    client_before_s: float | None = None  # set when this process itself drives the case
    started: float = field(default_factory=time.monotonic)
    span_s: float = 0.0

    @classmethod
    def start(cls, roots: Sequence[tuple[str, str, int]] = (), *, client: bool = False) -> CaseCpu:
        trees = TreeCpu(roots).start() if roots else None
        return cls(trees, children_cpu_s(), MachineCpu.read(), self_cpu_s() if client else None)

    def stop(self, deployment_cpu_s: Mapping[str, float]) -> tuple[dict[str, float], MachineCpu]:
        """CPU-seconds per class: `deployment_cpu_s` (per process, from the usage meter) plus
        the fixed trees, locust and the rest of the machine's busy time."""
        per_process = dict(deployment_cpu_s)
        if self.trees is not None:
            per_process.update(self.trees.stop())
        classes = cpu_by_class(per_process)
        classes["locust"] = round(children_cpu_s() - self.locust_before_s, 3)
        if self.client_before_s is not None:
            classes["client"] = round(self_cpu_s() - self.client_before_s, 3)
        machine = MachineCpu.read()
        self.span_s = time.monotonic() - self.started
        busy = machine.busy_s - self.machine_before.busy_s
        classes["other"] = round(max(0.0, busy - sum(classes.values())), 3)
        return classes, machine


def idle_rates(per_process: Mapping[str, float], seconds: float) -> dict[str, float]:
    """CPU-seconds per second of each class while nothing is asked of the deployment."""
    return {k: round(v / seconds, 4) for k, v in cpu_by_class(per_process).items() if seconds > 0}


def net_of_idle(
    classes: Mapping[str, float], idle: Mapping[str, float], span_s: float
) -> dict[str, float]:
    """Each class's CPU-seconds less what it would have used idle over `span_s` (never < 0)."""
    return {k: round(max(0.0, v - idle.get(k, 0.0) * span_s), 3) for k, v in classes.items()}


def per_request_ms(classes: Mapping[str, float], requests: int) -> dict[str, float]:
    if requests <= 0:
        return {}
    return {name: round(seconds * 1000 / requests, 3) for name, seconds in classes.items()}


def ordered_classes(rows: Sequence[Mapping[str, float]]) -> list[str]:
    present = {name for row in rows for name in row}
    return [c for c in CLASS_ORDER if c in present] + sorted(present - set(CLASS_ORDER))


def cpu_table(title: str, rows: Sequence[tuple[str, int, Mapping[str, float]]]) -> Table:
    """One row per case: the case, its requests (n) and ms of CPU per request per class; the
    total leaves out `other` (not the stack's work)."""
    classes = ordered_classes([r for _, _, r in rows])
    table = Table(title=title)
    table.add_column("case")
    table.add_column("n", justify="right")
    for name in classes:
        table.add_column(name, justify="right")
    table.add_column("stack total", justify="right")
    for case, requests, ms in rows:
        total = sum(v for k, v in ms.items() if k not in NOT_THE_STACK)
        table.add_row(
            case,
            f"{requests:,}",
            *(f"{ms[c]:.2f}" if c in ms else "—" for c in classes),
            f"{total:.2f}",
        )
    return table


def print_cpu(
    console: Console, title: str, rows: Sequence[tuple[str, int, Mapping[str, float]]]
) -> None:
    console.print(cpu_table(title, rows))
    console.print(
        "[dim]ms of CPU per request: /proc utime+stime of each class's process trees over the "
        "case, less the class's idle rate over the case's span; 'stack total' = every class "
        "but locust, client (the benchmark's own process driving a case), meter (its /proc "
        "and /metrics sampling) and other (the machine's busy time no metered process used)[/]"
    )
