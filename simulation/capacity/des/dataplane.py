"""The request flow of one tick: per service, the pods that serve decide what is answered, how
long it waits and how much CPU each pod burns (which the metrics the HPA reads are made of).

Per service and tick (Δt): the offered rate λ (the journey mix's share of the scenario's rate)
meets the serving pods, each a queue of `workers` servers (one uvicorn event loop a worker) at
μ = speed / D requests a second, where a pod's cores are bounded by its CPU limit, its workers
and, when its node is overcommitted, its node's share. Below saturation the wait is M/M/c
(Erlang C: a request waits with probability C, exponentially with rate cμ − λ); above it a
backlog builds (fluid) and every request also waits backlog ÷ (cμ); requests that would wait
longer than the ingress timeout fail, as do requests routed to pods whose node was lost until the
endpoints drop them. AI generations queue (the Service Bus queue) for the ai pods' planner slots;
a slot is held for max(planner time limit, CPU per generation ÷ speed), a planner process
burning a core meanwhile. Latencies are sampled per route (measured distribution + sampled
wait) into histograms; PostgreSQL connections in use follow Little's law (rate × hold time).
Every serving pod also burns its service's idle CPU (housekeeping measured with no load).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simulation.capacity.cluster_spec import ClusterSpec, ServiceSpec
from simulation.capacity.des.state import Pod
from simulation.capacity.queueing import erlang_c
from simulation.capacity.workload import Points, Workload

# Latency histogram: log-spaced bins from 0.1 ms to 10 min.
EDGES_MS = np.concatenate(([0.0], np.logspace(-1, math.log10(600_000), 480)))
BINS = len(EDGES_MS) - 1
QUANTILES = 64  # each measured distribution as 64 equally likely values
BATCH = 256  # latency sample sets kept before they are binned


def hist_quantile(hist: np.ndarray, q: float) -> float | None:
    total = float(hist.sum())
    if total <= 0:
        return None
    cumulative = np.cumsum(hist) / total
    index = int(np.searchsorted(cumulative, q))
    return float(EDGES_MS[min(index + 1, len(EDGES_MS) - 1)])


def quantile_table(points: Points) -> np.ndarray:
    if not points:
        return np.zeros(QUANTILES)
    u = (np.arange(QUANTILES) + 0.5) / QUANTILES
    return np.interp(u, [p[0] for p in points], [p[1] for p in points])


@dataclass(frozen=True)
class TickResult:
    completed: float  # requests this tick
    failed: float
    generations: float
    generation_backlog: float
    util: dict[str, float]  # mean pod CPU ÷ request of the serving pods, per service
    db_connections_busy: float
    db_connections_open: int
    postgres_cores: float
    p95_ms: float | None  # this tick's general-API p95 (sampled)


@dataclass
class DataPlane:
    cluster: ClusterSpec
    workload: Workload
    speed: float
    samples: int
    rng: np.random.Generator
    judging: bool = False
    backlog: dict[str, float] = field(default_factory=dict)
    gen_backlog: float = 0.0
    window_cpu: dict[str, float] = field(default_factory=dict)  # pod → CPU-s since last scrape
    _tick_cpu: dict[str, float] = field(default_factory=dict)
    _node_factor: dict[str, float] = field(default_factory=dict)
    # Judged latency samples not yet binned: (histogram, rows, values ms, weights), binned in
    # batches (one bincount per batch instead of one per tick keeps a simulated day fast).
    _unbinned: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=list
    )

    def __post_init__(self) -> None:
        routes = self.workload.routes
        self.route_names = [r.name for r in routes]
        self._route_service = [r.service for r in routes]
        self._route_share = np.array([r.share for r in routes])
        self._table = np.array([quantile_table(r.latency_ms) for r in routes]).reshape(
            len(routes), QUANTILES
        )
        self._gen_table = quantile_table(self.workload.generation_ms)
        self.route_hist = np.zeros((len(routes), BINS))  # judged window only
        self.gen_hist = np.zeros((1, BINS))
        self._share = {s: self.workload.service_share(s) for s in self.cluster.services}

    # -- capacity -------------------------------------------------------------------------------

    def hold_s(self, spec: ServiceSpec) -> float:
        return max(spec.planner_time_limit_s, self.workload.generation_cpu_s / self.speed)

    def _demand(self, service: str) -> float:
        return self.workload.service_demand_s.get(service, 0.0) / self.speed

    def _node_factors(self, rate: float, pods: dict[str, list[Pod]]) -> dict[str, float]:
        """Per node, the share of what its pods want that it can give (1 = not overcommitted);
        `pods`: the serving pods per service."""
        wanted: dict[str, float] = {}
        alloc: dict[str, float] = {}
        for service, spec in self.cluster.services.items():
            serving = [p for p in pods[service] if p.node is not None]
            if not serving:
                continue
            lam = rate * self._share[service]
            per_pod = min(spec.api_cores, lam / len(serving) * self._demand(service))
            per_pod += self._idle(service)
            if spec.generation_slots:
                busy = rate * self.workload.generations_per_request * self.hold_s(spec)
                per_pod += min(float(spec.generation_slots), busy / len(serving))
            for pod in serving:
                name = pod.node.name if pod.node else ""
                wanted[name] = wanted.get(name, 0.0) + per_pod
                alloc[name] = pod.node.cpu_m / 1000 if pod.node else 0.0
        return {n: min(1.0, alloc[n] / w) if w > 0 else 1.0 for n, w in wanted.items()}

    def _idle(self, service: str) -> float:
        """Cores a pod burns with no load (housekeeping), as measured on prod-sim."""
        return self.workload.idle_cores.get(service, 0.0) / self.speed

    def _factor(self, pod: Pod) -> float:
        return self._node_factor.get(pod.node.name, 1.0) if pod.node is not None else 1.0

    def _burn(self, pod: Pod, cpu_s: float) -> None:
        self._tick_cpu[pod.name] = self._tick_cpu.get(pod.name, 0.0) + cpu_s

    # -- one tick -------------------------------------------------------------------------------

    def step(self, rate: float, dt: float, pods: dict[str, list[Pod]]) -> TickResult:
        services = self.cluster.services
        serving = {s: [p for p in pods.get(s, []) if p.serving] for s in services}
        self._node_factor = self._node_factors(rate, serving)
        self._tick_cpu = {p.name: self._idle(s) * dt for s in services for p in serving[s]}
        completed = failed = busy_conn = 0.0
        open_conn = 0
        waits: dict[str, tuple[float, float, float, float]] = {}
        generations = self._generations(rate, dt, serving.get("ai", []))
        for service, spec in services.items():
            open_conn += len(serving[service]) * spec.db_pool_max
            if self._share[service] <= 0:
                continue
            lam = rate * self._share[service]
            routed = sum(1 for p in pods.get(service, []) if p.in_endpoints)
            done, lost, wait = self._service_tick(service, spec, lam, dt, routed, serving[service])
            completed += done
            failed += lost
            busy_conn += done / dt * self.workload.db_hold_s.get(service, 0.0)
            waits[service] = (done, *wait)
        util = {
            service: self._util(spec, serving[service], dt) for service, spec in services.items()
        }
        for name, cpu in self._tick_cpu.items():
            self.window_cpu[name] = self.window_cpu.get(name, 0.0) + cpu
        pg = self.workload.dependency_demand_s.get("postgresql", 0.0)
        return TickResult(
            completed=completed,
            failed=failed,
            generations=generations,
            generation_backlog=self.gen_backlog,
            util=util,
            db_connections_busy=busy_conn,
            db_connections_open=open_conn,
            postgres_cores=completed / dt * pg / self.speed,
            p95_ms=self._sample_routes(waits),
        )

    def _service_tick(
        self,
        service: str,
        spec: ServiceSpec,
        lam: float,
        dt: float,
        routed: int,
        serving: list[Pod],
    ) -> tuple[float, float, tuple[float, float, float]]:
        """(completed, failed, (P(wait), tail rate, backlog delay s)) of one service: `routed`
        pods in its endpoints, of which `serving` answer (the others' node was lost)."""
        backlog = self.backlog.get(service, 0.0)
        lost = lam * dt * ((routed - len(serving)) / routed if routed else 1.0)
        arrivals = lam * dt - lost
        demand = self._demand(service)
        if not serving or demand <= 0:
            self.backlog[service] = 0.0
            return 0.0, lost + arrivals + backlog, (1.0, 0.0, 0.0)
        capacity = sum(spec.api_cores * self._factor(p) for p in serving) / demand
        servers = max(1, len(serving) * spec.workers)
        served = min(backlog + arrivals, capacity * dt)
        backlog += arrivals - served
        timed_out = max(0.0, backlog - self.cluster.request_timeout_s * capacity)
        self.backlog[service] = backlog - timed_out
        for pod in serving:
            self._burn(pod, served / len(serving) * demand)
        mu = capacity / servers
        offered_load = arrivals / dt / mu
        if offered_load < servers:
            p_wait, tail = erlang_c(servers, offered_load), servers * mu - arrivals / dt
        else:
            p_wait, tail = 1.0, 0.0
        return served, lost + timed_out, (p_wait, tail, self.backlog[service] / capacity)

    def _util(self, spec: ServiceSpec, serving: list[Pod], dt: float) -> float:
        """Mean CPU of the serving pods this tick ÷ their request (what the HPA compares)."""
        if not serving:
            return 0.0
        used = sum(self._tick_cpu.get(p.name, 0.0) for p in serving) / len(serving)
        return used / (spec.cpu_request_m / 1000) / dt

    def _generations(self, rate: float, dt: float, serving: list[Pod]) -> float:
        spec = self.cluster.services.get("ai")
        if spec is None or self.workload.generations_per_request <= 0:
            return 0.0
        arrivals = rate * self.workload.generations_per_request * dt
        hold = self.hold_s(spec)
        slots = len(serving) * spec.generation_slots
        capacity = slots / hold if hold > 0 else 0.0
        done = min(self.gen_backlog + arrivals, capacity * dt)
        self.gen_backlog += arrivals - done
        for pod in serving:
            self._burn(pod, done / len(serving) * hold * self._factor(pod))
        if self.judging and done > 0:
            lam = arrivals / dt
            if 0 < lam < capacity:
                p_wait, tail = erlang_c(slots, lam * hold), capacity - lam
            else:
                p_wait, tail = 1.0, 0.0
            delay = self.gen_backlog / capacity if capacity > 0 else 0.0
            n = self.samples * 4
            base = self._gen_table[self.rng.integers(0, QUANTILES, n)]
            wait = _waits(self.rng, (n,), np.full(n, p_wait), np.full(n, tail), delay)
            self._keep(
                self.gen_hist, np.zeros(n, dtype=int), base + wait * 1000, np.full(n, done / n)
            )
        return done

    def _sample_routes(self, waits: dict[str, tuple[float, float, float, float]]) -> float | None:
        """Sample every route's latency this tick; add to the judged histograms; tick's p95."""
        routes = len(self.route_names)
        if not routes or not waits:
            return None
        count = np.zeros(routes)
        p_wait = np.zeros(routes)
        tail = np.zeros(routes)
        delay = np.zeros(routes)
        for i, service in enumerate(self._route_service):
            if service in waits:
                done, p, t, d = waits[service]
                count[i] = done * self._route_share[i] / self._share[service]
                p_wait[i], tail[i], delay[i] = p, t, d
        k = self.samples
        base = self._table[np.arange(routes)[:, None], self.rng.integers(0, QUANTILES, (routes, k))]
        values = (
            base
            + _waits(self.rng, (routes, k), p_wait[:, None], tail[:, None], delay[:, None]) * 1000
        )
        weights = np.broadcast_to((count / k)[:, None], (routes, k))
        if self.judging:
            rows = np.broadcast_to(np.arange(routes)[:, None], (routes, k))
            self._keep(self.route_hist, rows.ravel(), values.ravel(), weights.ravel())
        return _weighted_quantile(values.ravel(), weights.ravel(), 0.95)

    def _keep(
        self, hist: np.ndarray, rows: np.ndarray, values_ms: np.ndarray, weights: np.ndarray
    ) -> None:
        self._unbinned.append((hist, rows, values_ms, weights))
        if len(self._unbinned) >= BATCH:
            self.bin_samples()

    def bin_samples(self) -> None:
        """Add the kept latency samples to their histograms (call before reading them)."""
        for hist in (self.route_hist, self.gen_hist):
            mine = [u for u in self._unbinned if u[0] is hist]
            if mine:
                _add(
                    hist,
                    np.concatenate([u[1] for u in mine]),
                    np.concatenate([u[2] for u in mine]),
                    np.concatenate([u[3] for u in mine]),
                )
        self._unbinned = []

    def take_window_cpu(self) -> dict[str, float]:
        """CPU-seconds per pod since the last call (one metrics window), then reset."""
        out, self.window_cpu = self.window_cpu, {}
        return out


def _waits(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    p_wait: np.ndarray,
    tail: np.ndarray,
    delay: np.ndarray | float,
) -> np.ndarray:
    """Seconds waited: the backlog's delay, plus Exp(tail) for those that queue (P = p_wait)."""
    queued = rng.random(shape) < p_wait
    rate = np.where(tail > 0, tail, np.inf)
    return delay + queued * rng.exponential(1.0, shape) / rate


def _add(hist: np.ndarray, rows: np.ndarray, values_ms: np.ndarray, weights: np.ndarray) -> None:
    bins = np.clip(np.searchsorted(EDGES_MS, values_ms, side="right") - 1, 0, BINS - 1)
    flat = np.bincount(rows * BINS + bins, weights=weights, minlength=hist.size)
    hist += flat.reshape(hist.shape)


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float | None:
    total = float(weights.sum())
    if total <= 0:
        return None
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    index = int(np.searchsorted(cumulative, q * total))
    return float(values[order][min(index, len(values) - 1)])
