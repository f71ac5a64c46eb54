"""OWASP API4:2023 Unrestricted Resource Consumption, black-box through nginx on the local platform.

Bodies, request lines and headers are bounded at the gateway (problem+json 413/414/431); numbers
and coordinates out of range are 422s naming the parameter, never a 5xx or a huge query; the
per-address rate limit of anonymous requests cannot be reset or steered with a forwarded header.
"""

from __future__ import annotations

import pytest

from tests.security.conftest import Gateway
from tests.security.probes import assert_names_field, assert_problem

pytestmark = pytest.mark.e2e


def test_oversize_bodies_lines_and_headers_stop_at_the_gateway(gateway: Gateway) -> None:
    auth = gateway.register("sizes").headers
    huge = b'{"title": "' + b"x" * (2 << 20) + b'"}'
    r = gateway.client.post("/api/trips", content=huge,
                            headers={**auth, "Content-Type": "application/json"})  # fmt: skip
    assert_problem(r, 413)
    assert_problem(gateway.client.get("/api/trips?page=" + "1" * 20_000, headers=auth), 414)
    assert_problem(gateway.client.get("/api/trips", headers={**auth, "X-Pad": "p" * 20_000}), 431)
    # Under the gateway's limits, the services' own: a 1000-character title is a 422.
    long_title = {"title": "x" * 1000, "destination_city": "Seoul",
                  "start_date": "2031-04-01", "end_date": "2031-04-02"}  # fmt: skip
    assert_names_field(gateway.client.post("/api/trips", json=long_title, headers=auth), "title")


OUT_OF_RANGE = (
    ("/api/locations/places/nearby?lat=91&lng=0&radius_m=100", "lat"),
    ("/api/locations/places/nearby?lat=0&lng=-181&radius_m=100", "lng"),
    ("/api/locations/places/nearby?lat=nan&lng=0&radius_m=100", "lat"),
    ("/api/locations/places/nearby?lat=0&lng=inf&radius_m=100", "lng"),
    ("/api/locations/places/nearby?lat=0&lng=0&radius_m=1000000000", "radius_m"),
    ("/api/locations/places/nearby?lat=0&lng=0&radius_m=100&limit=100000", "limit"),
    ("/api/locations/places?city=Seoul&limit=1000000", "limit"),
    ("/api/locations/places?city=Seoul&offset=99999999999999999999", "offset"),
    ("/api/trips?size=100000", "size"),
    ("/api/trips?page=0", "page"),
    ("/api/trips?page=99999999999999999999", "page"),
)


def test_out_of_range_numbers_and_coordinates_are_422s(gateway: Gateway) -> None:
    auth = gateway.register("ranges").headers
    for path, field in OUT_OF_RANGE:
        assert_names_field(gateway.client.get(path, headers=auth), field)
    trip = {"title": "Range", "destination_city": "Seoul", "start_date": "2031-04-01",
            "end_date": "2031-04-02"}  # fmt: skip
    for field, value in (("travellers", 10**9), ("lodging", {"lat": 95, "lng": 0}),
                         ("end_date", "2031-09-01"), ("must_visit", ["p"] * 51)):  # fmt: skip
        r = gateway.client.post("/api/trips", json={**trip, field: value}, headers=auth)
        assert_problem(r, 422)
    preview = {"city": "Seoul", "start_date": "2031-04-01", "end_date": "2031-04-30"}
    r = gateway.client.post("/api/ai/schedules/preview", json=preview, headers=auth)
    assert_problem(r, 422)  # a preview plans a few days; a month goes through the queue


def test_the_rate_limit_cannot_be_reset_by_a_forwarded_header(dev_gateway: Gateway) -> None:
    """Anonymous requests are limited per client address (100/min). Each request claims a new
    address in X-Forwarded-For and X-Real-IP; nginx replaces both with the connection's, so the
    limit still bites, and a new claimed address after the 429 does not lift it."""
    limited_at = None
    for n in range(130):
        spoof = f"198.51.{n // 250}.{n % 250 + 1}"
        r = dev_gateway.client.get(
            "/api/locations/cities", headers={"X-Forwarded-For": spoof, "X-Real-IP": spoof}
        )
        if r.status_code == 429:
            limited_at = n
            break
        assert r.status_code == 401, r.text  # counted, then refused for want of a token
    assert limited_at is not None and limited_at <= 100, limited_at
    for spoof in ("203.0.113.1", "10.0.0.1", "127.0.0.2", "::1", "unknown"):
        r = dev_gateway.client.get(
            "/api/locations/cities", headers={"X-Forwarded-For": spoof, "X-Real-IP": spoof}
        )
        assert_problem(r, 429)
        assert int(r.headers["retry-after"]) >= 1
