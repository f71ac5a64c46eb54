"""Every metric query the chart contains selects series the services really expose.

The user, trip and location services run in-process against the real PostgreSQL and Redis of
the test session, serve a request each (so labelled counters have samples), and their `/metrics`
is scraped. A scrape of a Kubernetes pod adds target labels (`namespace`, `pod`, `job`,
`instance`); each selector of each rendered ScaledObject query must then match a series of the
service it scales and no series of another service. (The exposition carries no `service` label:
a query filtering on one selects nothing. A real Prometheus makes this exact; this checks the
selectors.)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.kit.auth import Role
from services.kit.migrations import migrate
from simulation.k8s.promql import Selector, vector_selectors
from tests.chart.chart_support import Doc
from tests.support import bearer, serving

Series = tuple[str, dict[str, str]]
NAMESPACE = "tripgen"
# a first request of each service, as a replica would serve it (labelled series start there)
FIRST_REQUEST = {
    "user": "/api/users/me",
    "trip": "/api/trips",
    "location": "/api/locations/places/search?q=seoul",
}


def pod_name(service: str) -> str:
    """A pod of the `tripgen-<service>` Deployment, named as its ReplicaSet names pods."""
    return f"tripgen-{service}-7c9d8f6b5-x2x7q"


def exposition(text: str, service: str) -> list[Series]:
    """The scraped series of one replica, with the target labels a pod scrape adds."""
    target = {"namespace": NAMESPACE, "pod": pod_name(service), "job": "kubernetes-pods",
              "instance": "10.244.1.7:8080"}  # fmt: skip
    return [
        (sample.name, {**sample.labels, **target})
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def app_of(service: str, dsn: str, redis_url: str) -> Any:
    settings: dict[str, Any] = {"database_url": dsn, "redis_url": redis_url,
                                "rate_limit_per_minute": 0, "log_json": False}  # fmt: skip
    if service == "user":
        from services.user.app import create_app
        from services.user.settings import UserSettings

        return create_app(UserSettings(**settings))
    if service == "trip":
        from services.trip.app import create_app as create_trip
        from services.trip.settings import TripSettings

        return create_trip(TripSettings(**settings))
    from services.location.app import create_app as create_location
    from services.location.settings import LocationSettings

    return create_location(LocationSettings(**settings))


@pytest.fixture(scope="module")
async def scraped(postgres_dsn: str, redis_url: str) -> dict[str, list[Series]]:
    for schema in ("user", "trip", "location"):
        await migrate(postgres_dsn, schema)
    found: dict[str, list[Series]] = {}
    for service, path in FIRST_REQUEST.items():
        app = app_of(service, postgres_dsn, redis_url)
        async with serving(app) as client:
            token = app.state.tokens.issue(str(uuid.uuid4()), Role.USER, 0)
            served = await client.get(path, headers=bearer(token))
            assert served.status_code < 500, served.text
            metrics = await client.get("/metrics")
            assert metrics.status_code == 200
            found[service] = exposition(metrics.text, service)
    return found


def keda_queries(docs: list[Doc]) -> list[tuple[str, str]]:
    """(scaled service, query) of every Prometheus trigger in the rendered ScaledObjects."""
    return [
        (so["spec"]["scaleTargetRef"]["name"].removeprefix("tripgen-"), t["metadata"]["query"])
        for so in docs
        if so.get("kind") == "ScaledObject"
        for t in so["spec"]["triggers"]
        if t["type"] == "prometheus"
    ]


def matching(selector: Selector, series: list[Series]) -> list[Series]:
    return [s for s in series if selector.matches(*s)]


@pytest.mark.integration
async def test_every_keda_query_selects_its_services_series_only(
    scraped: dict[str, list[Series]], render: Callable[[str], list[Doc]]
) -> None:
    queries = keda_queries(render("ci:prod-keda"))
    # SPEC.md › Autoscaling: rps (user), active connections (trip), search requests (location)
    assert sorted(s for s, _ in queries) == ["location", "trip", "user"]
    for service, query in queries:
        for selector in vector_selectors(query):
            assert matching(selector, scraped[service]), (
                f"{service}: {query} selects none of the series its pods expose "
                f"({sorted({n for n, _ in scraped[service]})[:12]} …)"
            )
            for other, series in scraped.items():
                if other != service:
                    assert not matching(selector, series), f"{query} also selects {other}'s series"


@pytest.mark.integration
async def test_a_service_label_selects_nothing(scraped: dict[str, list[Series]]) -> None:
    # what the chart queried before: `service` is neither in the exposition nor a target label
    (selector,) = vector_selectors('sum(rate(http_requests_total{service="user"}[1m]))')
    assert not matching(selector, scraped["user"])
    assert any(name == "http_requests_total" for name, _ in scraped["user"])
