"""Request-level discrete-event simulation of the local platform (SimPy): every request and every
CPU burst, on this machine's cores — what `--validate` predicts held-out runs with.

The machine: `cores` CPUs shared by every runnable task in 1 ms turns, as Linux's fair scheduler
shares them: the next turn goes to the runnable task that has had the least CPU (its virtual
runtime), and a task waking from sleep is placed at most WAKE_CREDIT_S behind the least-served
runnable task (CFS's sleeper placement; EEVDF keeps the lag a sleeper is owed, to the same
effect) and takes a core from the running task that has had the most (wakeup preemption).
So a request's short burst is stretched by other short bursts, while tasks that stay
runnable (planner processes, other processes' CPU-bound work) take what the wakers leave —
a round robin among all of them instead overstated the stretch on a shared machine.
Single-threaded processes (each service replica's event loop, nginx's worker, Redis, the load
generator) take one burst at a time; PostgreSQL runs a backend per connection (no thread limit).
Work beside the requests: each replica's and dependency's idle CPU (measured with no load) and the
other processes on the machine (measured during the step: their mean runnable tasks, each competing
for the cores like any task, else their busy cores). A request: the load generator sends it, nginx
routes it to the service's next replica (round robin), the replica runs half its CPU, the request's
share of PostgreSQL and Redis, the other half, nginx answers, the load generator reads it; each
route also waits a fixed non-CPU time fitted on the calibration step. Users are a closed loop
(think, request, wait for it). A request of a route that asks for an itinerary starts a generation
on the ai replicas' planner processes: its measured CPU per generation, cut off at the planner's
wall-time limit.

`mmc_check` simulates a plain M/M/c queue for comparison with Erlang C.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

Process = Generator[simpy.Event, Any, None]
QUANTUM_S = 0.001  # one turn on a core (CFS's minimum granularity is of this order)
# How far ahead of the least-served runnable task a waking task may be placed: CFS's
# GENTLE_FAIR_SLEEPERS credit, half the scheduling latency (6 ms × (1 + log2 2 CPUs) = 12 ms).
WAKE_CREDIT_S = 0.006
BURST_S = 0.02  # mean runnable stretch of another process's task (assumption)


@dataclass(frozen=True)
class RouteLoad:
    name: str
    service: str
    weight: float  # share of requests
    cpu_s: float  # service CPU per request
    offset_s: float = 0.0  # fitted non-CPU time
    starts_generation: bool = False


@dataclass(frozen=True)
class LocalSystem:
    cores: int
    replicas: dict[str, int]
    routes: tuple[RouteLoad, ...]
    users: float
    think_s: float
    nginx_s: float = 0.0  # CPU per request
    postgres_s: float = 0.0
    redis_s: float = 0.0
    loadgen_s: float = 0.0
    background_cores: float = 0.0  # other processes' busy cores (used when tasks are unknown)
    background_tasks: float | None = None  # other processes' mean runnable tasks
    planner_processes: int = 0  # per ai replica
    planner_limit_s: float = 0.0
    generation_cpu_s: float = 0.0  # planner CPU one generation asks for
    idle_cores: dict[str, float] = field(default_factory=dict)  # per replica / dependency


@dataclass
class LocalPrediction:
    duration_s: float
    requests: int
    throughput_rps: float
    mean_ms: float
    p95_ms: float
    route_mean_ms: dict[str, float]
    cpu_cores: dict[str, float]  # per process group: service names, nginx, postgresql, …
    machine_busy_cores: float
    generations: int
    latencies_ms: list[float] = field(default_factory=list, repr=False)


class _Machine:
    def __init__(self, env: simpy.Environment, system: LocalSystem, rng: np.random.Generator):
        self.env, self.system, self.rng = env, system, rng
        self.cores = simpy.PreemptiveResource(env, capacity=system.cores)
        self.threads: dict[str, simpy.Resource] = {}
        self.cpu: dict[str, float] = {}
        self.measuring = False
        # Fair scheduling: each task's virtual runtime, and the floor wakers are placed from
        # (the virtual runtime of the last turn handed out, which only grows, as CFS's does).
        self.vruntime: dict[str, float] = {}
        self.min_vruntime = 0.0
        self._anonymous = 0

    def thread(self, name: str) -> simpy.Resource:
        if name not in self.threads:
            self.threads[name] = simpy.Resource(self.env, capacity=1)
        return self.threads[name]

    def burn(
        self,
        group: str,
        work_s: float,
        thread: str | None,
        deadline: float = 0.0,
        task: str | None = None,
    ) -> Process:
        """Run `work_s` CPU in quanta (on `thread` when single-threaded); stop at `deadline`.

        `task` names the scheduled task when it is not the thread (a process that keeps its
        virtual runtime between bursts); without either, the burst is a task of its own (a
        PostgreSQL backend serving one statement)."""
        held = self.thread(thread).request() if thread else None
        if held is not None:
            yield held
        name = task or thread
        if name is None:
            self._anonymous += 1
            name = f"#{self._anonymous}"
        # Waking: no further back than the credit behind the least-served task.
        runtime = max(self.vruntime.get(name, 0.0), self.min_vruntime - WAKE_CREDIT_S)
        remaining, waking = work_s, True
        while remaining > 1e-12 and (not deadline or self.env.now < deadline):
            # Only a waking task preempts (the running task with the most CPU had), as CFS's
            # wakeup preemption does; a task that stays runnable waits for its turn.
            request = self.cores.request(priority=runtime, preempt=waking)  # type: ignore[arg-type]
            with request:
                waking, began = False, None
                try:
                    yield request
                    self.min_vruntime = max(self.min_vruntime, runtime)
                    began = self.env.now
                    yield self.env.timeout(min(QUANTUM_S, remaining))
                except simpy.Interrupt:
                    pass  # preempted by a waking task: back in line with what was run
                used = self.env.now - began if began is not None else 0.0
                remaining -= used
                runtime += used
                if self.measuring:
                    self.cpu[group] = self.cpu.get(group, 0.0) + used
        if task or thread:
            self.vruntime[name] = runtime
        if held is not None and thread is not None:
            self.thread(thread).release(held)


class LocalModel:
    def __init__(self, system: LocalSystem, seed: int = 11) -> None:
        self.system = system
        self.env = simpy.Environment()
        self.rng = np.random.default_rng(seed)
        self.machine = _Machine(self.env, system, self.rng)
        self._next_replica: dict[str, int] = {}
        self._weights = np.array([r.weight for r in system.routes])
        self._weights = self._weights / self._weights.sum()
        self.latencies: list[tuple[str, float]] = []
        self.generations = 0
        slots = system.replicas.get("ai", 0) * system.planner_processes
        self.planners = simpy.Resource(self.env, capacity=max(slots, 1)) if slots else None

    def _exp(self, mean: float) -> float:
        return float(self.rng.exponential(mean)) if mean > 0 else 0.0

    def _replica(self, service: str) -> str:
        count = max(self.system.replicas.get(service, 1), 1)
        index = self._next_replica.get(service, 0)
        self._next_replica[service] = (index + 1) % count
        return f"{service}-{index + 1}"

    def _request(self, route: RouteLoad) -> Process:
        s, m = self.system, self.machine
        yield from m.burn("loadgen", self._exp(s.loadgen_s / 2), "loadgen")
        started = self.env.now
        yield from m.burn("nginx", self._exp(s.nginx_s / 2), "nginx")
        replica = self._replica(route.service)
        yield from m.burn(route.service, self._exp(route.cpu_s / 2), replica)
        yield from m.burn("postgresql", self._exp(s.postgres_s), None)
        yield from m.burn("redis", self._exp(s.redis_s), "redis")
        yield from m.burn(route.service, self._exp(route.cpu_s / 2), replica)
        yield from m.burn("nginx", self._exp(s.nginx_s / 2), "nginx")
        if route.offset_s > 0:
            yield self.env.timeout(route.offset_s)
        yield from m.burn("loadgen", self._exp(s.loadgen_s / 2), "loadgen")
        if m.measuring:
            self.latencies.append((route.name, (self.env.now - started) * 1000))
        if route.starts_generation and self.planners is not None:
            self.env.process(self._generation())

    def _generation(self) -> Process:
        assert self.planners is not None
        with self.planners.request() as slot:
            yield slot
            deadline = self.env.now + self.system.planner_limit_s
            work = self.system.generation_cpu_s or self.system.planner_limit_s
            yield from self.machine.burn("ai", work, None, deadline)
        if self.machine.measuring:
            self.generations += 1

    def _user(self) -> Process:
        routes = self.system.routes
        while True:
            yield self.env.timeout(self._exp(self.system.think_s))
            route = routes[int(self.rng.choice(len(routes), p=self._weights))]
            yield from self._request(route)

    def run(self, duration_s: float, warmup_s: float = 10.0) -> LocalPrediction:
        users = max(1, round(self.system.users))
        for _ in range(users):
            self.env.process(self._user())
        self._start_background()
        for group, cores in self.system.idle_cores.items():
            # Per replica for a service (and once for a dependency, which has one "replica").
            for index in range(max(self.system.replicas.get(group, 1), 1) if cores > 0 else 0):
                task = f"{group}-idle-{index}"
                self.env.process(self._background_share(group, min(cores, 1.0), task))
        self.env.run(until=warmup_s)
        self.machine.measuring = True
        self.env.run(until=warmup_s + duration_s)
        return self._prediction(duration_s)

    def _start_background(self) -> None:
        """The other processes on the machine: `background_tasks` runnable tasks on average
        (each runnable for bursts, a fraction of the time, and then competing for the cores
        like any task), else `background_cores` busy cores."""
        tasks = self.system.background_tasks
        if tasks is not None and tasks > 0:
            count = max(1, math.ceil(tasks - 1e-9))
            for index in range(count):
                self.env.process(self._background_task(tasks / count, f"background-{index}"))
            return
        background, index = self.system.background_cores, 0
        while background > 0:
            task = f"background-{index}"
            self.env.process(self._background_share("background", min(background, 1.0), task))
            background, index = background - 1.0, index + 1

    def _background_task(self, runnable: float, task: str) -> Process:
        """Runnable a fraction `runnable` of the time, in bursts of BURST_S on average."""
        while True:
            until = self.env.now + self._exp(BURST_S)
            while self.env.now < until:
                yield from self.machine.burn("background", QUANTUM_S, None, task=task)
            if runnable < 1.0:
                yield self.env.timeout(self._exp(BURST_S * (1 - runnable) / runnable))

    def _background_share(self, group: str, busy: float, task: str) -> Process:
        """Hold a core `busy` of the time, a turn at a time (random gaps, not in lockstep)."""
        while True:
            yield from self.machine.burn(group, QUANTUM_S, None, task=task)
            yield self.env.timeout(self._exp(QUANTUM_S * (1 - busy) / busy))

    def _prediction(self, duration_s: float) -> LocalPrediction:
        values = [ms for _, ms in self.latencies]
        per_route: dict[str, list[float]] = {}
        for name, ms in self.latencies:
            per_route.setdefault(name, []).append(ms)
        cpu = {k: v / duration_s for k, v in self.machine.cpu.items()}
        return LocalPrediction(
            duration_s=duration_s,
            requests=len(values),
            throughput_rps=len(values) / duration_s,
            mean_ms=float(np.mean(values)) if values else 0.0,
            p95_ms=float(np.percentile(values, 95)) if values else 0.0,
            route_mean_ms={k: float(np.mean(v)) for k, v in per_route.items()},
            cpu_cores=cpu,
            machine_busy_cores=sum(cpu.values()),
            generations=self.generations,
            latencies_ms=values,
        )


def mmc_check(
    servers: int, arrival_rate: float, service_rate: float, customers: int, seed: int = 3
) -> tuple[float, float]:
    """(mean wait s, p95 wait s) of `customers` through an M/M/c FCFS queue, simulated."""
    env = simpy.Environment()
    rng = np.random.default_rng(seed)
    pool = simpy.Resource(env, capacity=servers)
    waits: list[float] = []

    def customer() -> Process:
        arrived = env.now
        with pool.request() as slot:
            yield slot
            waits.append(env.now - arrived)
            yield env.timeout(rng.exponential(1 / service_rate))

    def source() -> Process:
        for _ in range(customers):
            yield env.timeout(rng.exponential(1 / arrival_rate))
            env.process(customer())

    env.process(source())
    env.run()
    warm = waits[len(waits) // 10 :]  # drop the start, which begins empty
    return float(np.mean(warm)), float(np.percentile(warm, 95))


def relative_error(predicted: float, measured: float) -> float:
    return (predicted - measured) / measured if measured else float("inf")
