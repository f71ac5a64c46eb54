"""The services' fault switch: which requests fail, how they answer, how metrics name them."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from services.kit.fault import FAULT_ENV, Fault, FaultSpecError, fault_from_env, install_fault
from services.kit.metrics import ServiceMetrics
from services.kit.middleware import ObservabilityMiddleware


def test_parse_and_share_by_count() -> None:
    fault = Fault.parse("GET /api/locations/cities=0.05")
    assert (fault.method, fault.route, fault.share) == ("GET", "/api/locations/cities", 0.05)
    assert [n for n in range(1, 101) if fault.fails(n)] == [20, 40, 60, 80, 100]
    assert Fault.parse("/api/trips/{trip_id}=1").method is None
    assert fault_from_env({}) is None
    assert fault_from_env({FAULT_ENV: "/a=0.5"}) == Fault("/a", 0.5)


@pytest.mark.parametrize("text", ["cities=0.05", "/a=0", "/a=1.5", "/a", "GET /a=x"])
def test_bad_specs_name_the_variable(text: str) -> None:
    with pytest.raises(FaultSpecError, match=FAULT_ENV):
        Fault.parse(text)


def _app(monkeypatch: pytest.MonkeyPatch, spec: str) -> tuple[FastAPI, ServiceMetrics]:
    router = APIRouter(prefix="/api/locations")

    @router.get("/cities")
    def cities() -> dict[str, int]:
        return {"ok": 1}

    @router.get("/places/{place_id}")
    def place(place_id: str) -> dict[str, str]:
        return {"id": place_id}

    app = FastAPI()
    app.include_router(router)
    metrics = ServiceMetrics("location")
    app.state.metrics = metrics
    monkeypatch.setenv(FAULT_ENV, spec)
    install_fault(app)
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    return app, metrics


def test_half_of_a_templated_route_fails_and_is_counted_under_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, metrics = _app(monkeypatch, "GET /api/locations/places/{place_id}=0.5")
    client = TestClient(app)
    statuses = [client.get(f"/api/locations/places/{i}").status_code for i in range(6)]
    assert statuses == [200, 500, 200, 500, 200, 500]
    assert client.get("/api/locations/cities").status_code == 200  # other routes untouched
    failed = client.get("/api/locations/places/9")
    assert failed.status_code == 200
    failed = client.get("/api/locations/places/10")
    assert failed.headers["content-type"] == "application/problem+json"
    assert "injected fault" in failed.json()["detail"]
    text = metrics.render().decode()
    assert (
        'http_requests_total{method="GET",route="/api/locations/places/{place_id}",status="500"}'
        " 4.0" in text
    )


def test_other_methods_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    app, _ = _app(monkeypatch, "POST /api/locations/cities=1")
    assert TestClient(app).get("/api/locations/cities").status_code == 200
