"""Prometheus metrics: request count and latency per route, DB pool, cache, service gauges."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response

# Buckets around the SLA lines (200 ms general API, 1 s dev, 5 s AI).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0)


class ServiceMetrics:
    """One registry per app, so tests can build many apps in one process."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.service = service
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "http_requests_in_flight", "Requests being served", registry=self.registry
        )
        self.cache_hits = Counter(
            "cache_hits_total", "Cache hits", ["layer", "pattern"], registry=self.registry
        )
        self.cache_misses = Counter(
            "cache_misses_total", "Cache misses (both layers)", ["pattern"], registry=self.registry
        )
        self.cache_errors = Counter(
            "cache_errors_total", "L2 (Redis) failures", ["op"], registry=self.registry
        )
        self.db_pool = Gauge(
            "db_pool_connections", "DB pool connections", ["state"], registry=self.registry
        )
        self.cache_ratio = Gauge(
            "cache_hit_ratio", "Cache hits / lookups since start", registry=self.registry
        )
        self.session_feed_up = Gauge(
            "session_revocation_feed_up",
            "1 while this process is subscribed to pushed revocations (else it polls every 1 s)",
            registry=self.registry,
        )
        self._collectors: list[Callable[[], None]] = []
        # Label lookups take a lock and build a key each time: each (route, method, status)'s
        # children are looked up once. Bounded: routes are templates, statuses a few dozen.
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        # The same for cache lookups, several a request (bounded: layers × cache patterns).
        self._hit_children: dict[tuple[str, str], Counter] = {}
        self._miss_children: dict[str, Counter] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency under its route template."""
        key = (route, method, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def cache_hit(self, layer: str, pattern: str) -> None:
        child = self._hit_children.get((layer, pattern))
        if child is None:
            child = self._hit_children[(layer, pattern)] = self.cache_hits.labels(layer, pattern)
        child.inc()

    def cache_miss(self, pattern: str) -> None:
        child = self._miss_children.get(pattern)
        if child is None:
            child = self._miss_children[pattern] = self.cache_misses.labels(pattern)
        child.inc()

    def gauge(self, name: str, doc: str) -> Gauge:
        """A service-specific gauge (e.g. queue_length, active_connections, search_requests)."""
        return Gauge(name, doc, registry=self.registry)

    def counter(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(name, doc, list(labels), registry=self.registry)

    def on_scrape(self, collect: Callable[[], None]) -> None:
        """Run `collect` before each scrape (e.g. read pool stats)."""
        self._collectors.append(collect)

    def render(self) -> bytes:
        for collect in self._collectors:
            collect()
        return generate_latest(self.registry)


async def metrics_endpoint(request: Request) -> Response:
    metrics: ServiceMetrics = request.app.state.metrics
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
