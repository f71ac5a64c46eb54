"""`nox -s capacity -- --validate`: run real load on the local prod-sim, calibrate on one step,
predict held-out steps at another load and with one replica per service, and say how good the
predictions were.

The steps (each a `python -m scenarios.cli load` run in its own process against the deployment
this command made in its own run directory, with accounts registered before each step — fresh
ones, so no step pays for sign-ups or inherits another step's trips and cached itineraries —
after a warm-up that fills the shared caches):

1. calibration — prod-sim's replicas, `--users` users;
2. held-out load — the same replicas, `--held-out-users` users;
3. held-out replicas — every replica but the first of each service stopped (one per service
   left; the data stores untouched), `--users` users.

Beside each run: the load generator's CPU (its process tree's rusage), the machine's busy CPU
(/proc/stat), and, sampled every second from every replica's /metrics, requests in service, busy
database connections and the requests each service counted. Pod start-up is timed by starting
stopped replicas again (process start to ready). Whatever happens, the deployment is stopped
at the end.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from runs.folders import latest_results
from runs.results import LoadResults
from simulation.capacity.workload import StepExtras
from simulation.platforms.local import LocalPlatform
from simulation.platforms.local_plan import LocalLayout, LocalPlan
from simulation.platforms.readiness import is_ready
from simulation.platforms.supervisor import SupervisorClient
from simulation.state import load_state

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS_ENV = "TRIPGEN_JOURNEY_ACCOUNTS"
PASSWORD = "capacity-Validation-7"


class ValidationRunError(RuntimeError):
    """A validation step could not run (the message says which and why)."""


def machine_busy_s() -> tuple[float, float]:
    """(busy CPU-seconds, elapsed CPU-seconds) of the whole machine from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:9]
    ticks = [int(v) for v in fields]
    hz = os.sysconf("SC_CLK_TCK")
    idle = ticks[3] + ticks[4]
    return (sum(ticks) - idle - ticks[7]) / hz, sum(ticks) / hz


def _scrape(client: httpx.Client, url: str) -> dict[str, float]:
    """in_flight, busy DB connections and /api requests counted, from one replica."""
    out = {"in_flight": 0.0, "db_busy": 0.0, "requests": 0.0}
    text = client.get(f"{url.rstrip('/')}/metrics").text
    size = available = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "http_requests_in_flight":
                out["in_flight"] = max(sample.value - 1, 0.0)  # the scrape itself is in flight
            elif sample.name == "db_pool_connections":
                if sample.labels.get("state") == "size":
                    size = sample.value
                elif sample.labels.get("state") == "available":
                    available = sample.value
            elif sample.name == "http_requests_total" and sample.labels.get("route", "").startswith(
                "/api/"
            ):
                out["requests"] += sample.value
    out["db_busy"] = max(size - available, 0.0)
    return out


# pid → (parent pid, CPU-seconds, runnable weight: 0 unless runnable, else its CFS weight
# relative to a nice-0 task)
ProcTable = dict[int, tuple[int, float, float]]


def cfs_weight(nice: int) -> float:
    """A task's share of the cores relative to a nice-0 task (the kernel's weight table steps
    by 1.25 per nice level: nice 10 ≈ 0.107, nice 19 ≈ 0.014)."""
    return float(1.25 ** (-nice))


def proc_table() -> ProcTable:
    """Every process on the machine: its parent, CPU-seconds (user + system, reaped children
    included) and, when runnable (state R: running or waiting for a core), its CFS weight."""
    table: ProcTable = {}
    hz = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        cpu = sum(int(v) for v in fields[11:15]) / hz
        runnable = cfs_weight(int(fields[16])) if fields[0] == "R" else 0.0
        table[int(entry.name)] = (int(fields[1]), cpu, runnable)
    return table


def descendants(table: ProcTable, roots: Sequence[int]) -> set[int]:
    """`roots` and every process below them that is still in `table`."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    seen: set[int] = set()
    frontier = [r for r in roots if r in table]
    while frontier:
        pid = frontier.pop()
        if pid not in seen:
            seen.add(pid)
            frontier += children.get(pid, [])
    return seen


def tree_cpu_s(root: int, table: ProcTable | None = None) -> float:
    """CPU-seconds (user + system, reaped children included) of `root` and its descendants."""
    table = table if table is not None else proc_table()
    return sum(table[pid][1] for pid in descendants(table, [root]))


def other_runnable(table: ProcTable, ours: Sequence[int]) -> float:
    """Runnable processes that are neither under `ours` nor this process, each counted by its
    CFS weight (a niced test run competes far less than a nice-0 task): the other work on the
    machine competing for its cores right now, in nice-0 tasks (what the local model's
    contention needs; their busy cores alone do not say how many tasks share the cores)."""
    mine = descendants(table, [*ours, os.getpid()])
    return sum(runnable for pid, (_, _, runnable) in table.items() if pid not in mine)


@dataclass
class Round:
    at: float  # epoch seconds
    busy_s: float
    total_s: float
    loadgen_s: float
    in_flight: dict[str, float]
    db_busy: dict[str, float]
    counted: dict[str, float]  # replica URL → /api requests counted so far
    others_runnable: float = 0.0  # nice-0 equivalent tasks


class Sampler:
    """Every second: the machine's CPU, the load generator's CPU, the other processes' runnable
    tasks, and every replica's /metrics."""

    def __init__(
        self,
        replicas: dict[str, list[str]],
        interval_s: float = 1.0,
        deployment: Sequence[int] = (),
    ) -> None:
        self.replicas = replicas
        self.interval_s = interval_s
        self.deployment = list(deployment)  # the deployment's process ids (trees)
        self.root: int | None = None
        self.rounds: list[Round] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capacity-sampler", daemon=True)

    def _round(self, client: httpx.Client) -> None:
        in_flight: dict[str, float] = {}
        db_busy: dict[str, float] = {}
        counted: dict[str, float] = {}
        for service, urls in self.replicas.items():
            for url in urls:
                try:
                    values = _scrape(client, url)
                except (httpx.HTTPError, ValueError):
                    continue  # a stopped replica has nothing to say
                in_flight[service] = in_flight.get(service, 0.0) + values["in_flight"]
                db_busy[service] = db_busy.get(service, 0.0) + values["db_busy"]
                counted[url] = values["requests"]
        busy, total = machine_busy_s()
        table = proc_table()
        loadgen = tree_cpu_s(self.root, table) if self.root else 0.0
        ours = [*self.deployment, *([self.root] if self.root else [])]
        self.rounds.append(
            Round(
                time.time(),
                busy,
                total,
                loadgen,
                in_flight,
                db_busy,
                counted,
                other_runnable(table, ours),
            )
        )

    def _run(self) -> None:
        with httpx.Client(timeout=2.0) as client:
            while not self._stop.wait(self.interval_s):
                self._round(client)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def extras(self, start: float, end: float) -> StepExtras:
        """The step's figures over the rounds inside [start, end] (epoch seconds)."""
        inside = [r for r in self.rounds if start <= r.at <= end]
        if len(inside) < 2:
            raise ValidationRunError("fewer than two metric samples inside the run's window")
        first, last = inside[0], inside[-1]
        services = {s for r in inside for s in r.in_flight}
        cores = os.cpu_count() or 1
        span = last.at - first.at
        served = {
            service: sum(last.counted.get(u, 0.0) - first.counted.get(u, 0.0) for u in urls)
            * (end - start)
            / span
            for service, urls in self.replicas.items()
        }
        return StepExtras(
            loadgen_cpu_s=(last.loadgen_s - first.loadgen_s) * (end - start) / span,
            machine_busy_cores=(last.busy_s - first.busy_s)
            / (last.total_s - first.total_s)
            * cores,
            in_flight={
                s: sum(r.in_flight.get(s, 0.0) for r in inside) / len(inside) for s in services
            },
            db_busy_connections={
                s: sum(r.db_busy.get(s, 0.0) for r in inside) / len(inside) for s in services
            },
            server_requests=served,
            other_runnable=sum(r.others_runnable for r in inside) / len(inside),
        )


@dataclass(frozen=True)
class StepRun:
    results: Path
    extras: StepExtras


def make_accounts(base_url: str, count: int, path: Path) -> Path:
    """Register and log in `count` accounts at `base_url` (a user replica, which believes a
    loopback caller's X-Forwarded-For: each account from its own address, so the anonymous
    routes' per-address limit is not hit); the journeys' accounts file."""
    rng = random.Random()
    # A block of addresses of its own per call: steps a minute apart must not share a limit.
    block = rng.randrange(1, 255)

    def one(index: int) -> dict[str, str]:
        email = f"capacity-{os.getpid()}-{index}-{rng.randrange(1 << 30)}@capacity.tripgen.dev"
        headers = {"X-Forwarded-For": f"10.{block}.{index // 250}.{index % 250 + 1}"}
        with httpx.Client(base_url=base_url, timeout=30, headers=headers) as client:
            body = {"email": email, "password": PASSWORD, "name": "Capacity"}
            made = client.post("/api/users/register", json=body)
            if made.status_code != 201:
                raise ValidationRunError(f"register: HTTP {made.status_code} {made.text[:200]}")
            login = client.post("/api/users/login", json={"email": email, "password": PASSWORD})
            if login.status_code != 200:
                raise ValidationRunError(f"login: HTTP {login.status_code} {login.text[:200]}")
            tokens = login.json()
        return {
            "email": email,
            "password": PASSWORD,
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
        }

    with ThreadPoolExecutor(max_workers=4) as pool:
        accounts = list(pool.map(one, range(count)))
    path.write_text(json.dumps({"accounts": accounts}), encoding="utf-8")
    return path


def run_step(
    run_dir: Path,
    users: int,
    duration_s: float,
    accounts: Path,
    replicas: dict[str, list[str]],
    log: Callable[[str], None],
    deployment: Sequence[int] = (),
) -> StepRun:
    """One load run in its own process, measured alongside (`deployment`: its process ids)."""
    command = [
        sys.executable,
        "-m",
        "scenarios.cli",
        "--run-dir",
        str(run_dir),
        "load",
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--duration",
        f"{duration_s:g}s",
    ]
    env = {**os.environ, ACCOUNTS_ENV: str(accounts)}
    with Sampler(replicas, deployment=deployment) as sampler:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        sampler.root = process.pid
        try:
            stdout, stderr = process.communicate(timeout=duration_s + 300)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise ValidationRunError(f"the load run ({users} users) did not finish") from None
    if process.returncode != 0:
        raise ValidationRunError(
            f"load run ({users} users) exited {process.returncode}: " + (stderr or stdout)[-1500:]
        )
    results = latest_results(runs_root=run_dir / "runs")
    if results is None:
        raise ValidationRunError(f"the load run wrote no results under {run_dir / 'runs'}")
    loaded = LoadResults.load(results)
    extras = sampler.extras(loaded.started_at.timestamp(), loaded.ended_at.timestamp())
    log(f"  {users} users for {duration_s:g} s → {results}")
    return StepRun(results=results, extras=extras)


def deployment_processes(platform: LocalPlatform) -> list[tuple[str, int]]:
    """(name, pid) of every replica and dependency process of the deployment right now."""
    status = platform.status()
    roots = [(r.service, r.pid) for r in status.replicas if r.pid]
    return roots + [(d.name, d.pid) for d in status.dependencies if d.pid]


def measure_idle(
    platform: LocalPlatform, replicas: dict[str, list[str]], seconds: float = 20.0
) -> dict[str, float]:
    """Cores each service replica (mean over its replicas) and each dependency burns with no
    load, while the same metric scrapes as during a step go on."""
    roots = deployment_processes(platform)
    with Sampler(replicas):
        before = {pid: tree_cpu_s(pid) for _, pid in roots}
        started = time.monotonic()
        time.sleep(seconds)
        after = {pid: tree_cpu_s(pid) for _, pid in roots}
        elapsed = time.monotonic() - started
    per_name: dict[str, list[float]] = {}
    for name, pid in roots:
        per_name.setdefault(name, []).append(max(after[pid] - before[pid], 0.0) / elapsed)
    return {name: sum(values) / len(values) for name, values in per_name.items()}


def _plan(run_dir: Path) -> LocalPlan:
    state = load_state(run_dir)
    if state is None or "plan" not in state.details:
        raise ValidationRunError(f"no local deployment recorded in {run_dir}")
    return LocalPlan.from_dict(state.details["plan"])


def supervisor(run_dir: Path) -> SupervisorClient:
    """The deployment's process supervisor: replicas are stopped and started one by one
    (a zone outage would also take down the data stores' members of that zone)."""
    return SupervisorClient(LocalLayout(run_dir).supervisor.socket)


def time_replica_start(run_dir: Path, name: str, timeout_s: float = 90.0) -> float:
    """Seconds from starting a stopped replica's process until it answers ready."""
    replica = _plan(run_dir).replica(name)
    client = supervisor(run_dir)
    client.stop(name, wait=True)
    started = time.monotonic()
    client.start(name, wait=False)
    with httpx.Client(timeout=1.0) as http:
        while not is_ready(http, replica.url):
            if time.monotonic() - started > timeout_s:
                raise ValidationRunError(f"{name} not ready {timeout_s:g} s after its start")
            time.sleep(0.05)
    return time.monotonic() - started


def keep_one_replica_each(run_dir: Path) -> list[str]:
    """Stop every replica but the first of each service; the names stopped."""
    stopped = [r.name for r in _plan(run_dir).replicas if r.index > 1]
    client = supervisor(run_dir)
    for name in stopped:
        client.stop(name, wait=True)
    return stopped
