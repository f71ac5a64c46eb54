"""Trip routes against real PostgreSQL and Redis: success and bad input for each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
import pytest

from services.trip.settings import TripSettings
from tests.trip.conftest import PLACES, FakeLocationService, TripService, running, trip_payload

pytestmark = pytest.mark.integration


async def test_create_returns_the_trip_with_me_as_owner(service: TripService) -> None:
    owner_id, auth = service.user()
    r = await service.client.post("/api/trips", json=trip_payload(), headers=auth)
    assert r.status_code == 201, r.text
    trip = r.json()
    assert r.headers["Location"] == f"/api/trips/{trip['id']}"
    assert trip["owner_id"] == owner_id and trip["my_role"] == "owner"
    assert trip["days"] == 3 and trip["version"] == 1
    assert trip["lodging"] == {"lat": 37.5665, "lng": 126.978}
    assert trip["must_visit"] == ["seoul-gyeongbokgung"]
    assert trip["preferred_categories"] == ["culture", "food"]
    # location-service saw trip-service's own token, not the caller's (no user rate limit spent).
    assert service.location.calls
    for _, authorization in service.location.calls:
        assert authorization is not None and authorization != auth["Authorization"]
        claims = jwt.decode(authorization.split()[1], options={"verify_signature": False})
        assert claims["sub"] == "service:trip"


async def test_create_applies_defaults_and_files_the_city_as_location_service_names_it(
    service: TripService,
) -> None:
    _, auth = service.user()
    body = {
        "title": "  Busan weekend ",
        "destination_city": "busan",
        "start_date": "2026-05-02",
        "end_date": "2026-05-02",
        "wishes": "   ",
    }
    trip = (await service.client.post("/api/trips", json=body, headers=auth)).json()
    assert trip["title"] == "Busan weekend" and trip["destination_city"] == "Busan"
    assert trip["days"] == 1 and trip["travellers"] == 1
    assert (trip["budget"], trip["pace"], trip["mode"]) == ("medium", "normal", "transit")
    assert trip["lodging"] is None and trip["wishes"] is None and trip["must_visit"] == []


async def test_thirty_days_and_twenty_travellers_are_allowed(service: TripService) -> None:
    _, auth = service.user()
    trip = await service.create_trip(
        auth, start_date="2026-07-01", end_date="2026-07-30", travellers=20
    )
    assert trip["days"] == 30 and trip["travellers"] == 20


async def test_the_city_list_and_confirmed_places_are_cached(service: TripService) -> None:
    _, auth = service.user()
    for _ in range(3):
        await service.create_trip(auth)
    assert service.location.count("/api/locations/cities") <= 1
    assert service.location.count("/api/locations/places") == 1  # the id, confirmed once
    # Only the ids not confirmed yet are asked about; an unknown one every time.
    for _ in range(2):
        body = trip_payload(must_visit=["seoul-gyeongbokgung", "seoul-atlantis"])
        r = await service.client.post("/api/trips", json=body, headers=auth)
        assert r.status_code == 422 and "seoul-atlantis" in r.text
    assert service.location.count("/api/locations/places") == 3


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"start_date": "2026-04-05", "end_date": "2026-04-01"}, "end_date"),
        ({"start_date": "2026-04-01", "end_date": "2026-05-01"}, "end_date"),  # 31 days
        ({"travellers": 21}, "travellers"),
        ({"travellers": 0}, "travellers"),
        ({"destination_city": "Atlantis"}, "destination_city"),
        ({"destination_city": ""}, "destination_city"),
        ({"must_visit": ["seoul-gyeongbokgung", "nowhere-at-all"]}, "must_visit"),
        ({"must_visit": ["seoul-gyeongbokgung", "seoul-gyeongbokgung"]}, "must_visit"),
        ({"must_visit": ["a,b"]}, "must_visit.0"),
        ({"preferred_categories": ["casino"]}, "preferred_categories.0"),
        ({"preferred_categories": ["food", "food"]}, "preferred_categories"),
        ({"budget": "unlimited"}, "budget"),
        ({"pace": "frantic"}, "pace"),
        ({"mode": "plane"}, "mode"),
        ({"lodging": {"lat": 91, "lng": 0}}, "lodging.lat"),
        ({"lodging": {"lat": 0}}, "lodging.lng"),
        ({"wishes": "x" * 1001}, "wishes"),
        ({"title": ""}, "title"),
        ({"title": None}, "title"),
        ({"start_date": "first of April"}, "start_date"),
        ({"owner_id": "00000000-0000-0000-0000-000000000000"}, "owner_id"),
    ],
)
async def test_create_bad_input_names_the_field(
    service: TripService, overrides: dict[str, Any], field: str
) -> None:
    _, auth = service.user()
    r = await service.client.post("/api/trips", json=trip_payload(**overrides), headers=auth)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]], r.json()


async def test_unknown_city_and_places_are_reported_together(service: TripService) -> None:
    _, auth = service.user()
    body = trip_payload(destination_city="Atlantis", must_visit=["lost-temple", PLACES[0]])
    r = await service.client.post("/api/trips", json=body, headers=auth)
    assert r.status_code == 422
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert "Atlantis" in errors["destination_city"]
    assert "lost-temple" in errors["must_visit"] and PLACES[0] not in errors["must_visit"]


async def test_a_body_that_is_not_json_is_422(service: TripService) -> None:
    _, auth = service.user()
    r = await service.client.post(
        "/api/trips", content=b"{nope", headers={**auth, "content-type": "application/json"}
    )
    assert r.status_code == 422


async def test_get_returns_my_trip(service: TripService) -> None:
    _, auth = service.user()
    trip = await service.create_trip(auth)
    r = await service.client.get(f"/api/trips/{trip['id']}", headers=auth)
    assert r.status_code == 200 and r.json() == trip


async def test_get_unknown_or_malformed_id(service: TripService) -> None:
    _, auth = service.user()
    missing = "5f0c6b1e-0000-4000-8000-000000000000"
    assert (await service.client.get(f"/api/trips/{missing}", headers=auth)).status_code == 404
    assert (await service.client.get("/api/trips/not-a-uuid", headers=auth)).status_code == 422


async def test_list_is_paged_and_holds_only_my_trips(service: TripService) -> None:
    _, auth = service.user()
    _, other = service.user()
    mine = [(await service.create_trip(auth, title=f"trip {n}"))["id"] for n in range(3)]
    await service.create_trip(other)
    first = (await service.client.get("/api/trips?size=2", headers=auth)).json()
    second = (await service.client.get("/api/trips?size=2&page=2", headers=auth)).json()
    assert first["total"] == second["total"] == 3
    assert (first["page"], first["size"], len(first["items"]), len(second["items"])) == (1, 2, 2, 1)
    listed = [t["id"] for t in first["items"] + second["items"]]
    assert listed == mine[::-1]  # newest first
    beyond = (await service.client.get("/api/trips?page=9", headers=auth)).json()
    assert beyond["items"] == [] and beyond["total"] == 3


@pytest.mark.parametrize("query", ["page=0", "size=0", "size=101", "page=x"])
async def test_list_bad_paging_is_422(service: TripService, query: str) -> None:
    _, auth = service.user()
    assert (await service.client.get(f"/api/trips?{query}", headers=auth)).status_code == 422


async def test_patch_changes_only_the_fields_sent(service: TripService) -> None:
    _, auth = service.user()
    trip = await service.create_trip(auth)
    r = await service.client.patch(
        f"/api/trips/{trip['id']}",
        json={"title": "Renamed", "wishes": None, "lodging": None, "travellers": 4},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["title"] == "Renamed" and updated["travellers"] == 4
    assert updated["wishes"] is None and updated["lodging"] is None
    assert updated["version"] == trip["version"] + 1
    assert updated["destination_city"] == trip["destination_city"]
    assert updated["must_visit"] == trip["must_visit"]
    again = (await service.client.get(f"/api/trips/{trip['id']}", headers=auth)).json()
    assert again == updated
    r = await service.client.patch(
        f"/api/trips/{trip['id']}", json={"lodging": {"lat": 35.1, "lng": 129.0}}, headers=auth
    )
    assert r.json()["lodging"] == {"lat": 35.1, "lng": 129.0} and r.json()["version"] == 3


async def test_patch_validates_city_places_and_dates_against_the_stored_trip(
    service: TripService,
) -> None:
    _, auth = service.user()
    trip = await service.create_trip(auth, start_date="2026-04-01", end_date="2026-04-03")
    url = f"/api/trips/{trip['id']}"
    cases = [
        ({"start_date": "2026-04-10"}, "start_date"),  # after the stored end date
        ({"end_date": "2026-05-01"}, "end_date"),  # 31 days from the stored start
        ({"destination_city": "Atlantis"}, "destination_city"),
        ({"must_visit": ["nowhere-at-all"]}, "must_visit"),
        ({"title": None}, "title"),
        ({"travellers": 25}, "travellers"),
        ({"version": 0}, "version"),
        ({"colour": "blue"}, "colour"),
    ]
    for body, field in cases:
        r = await service.client.patch(url, json=body, headers=auth)
        assert r.status_code == 422, (body, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], (body, r.json())
    r = await service.client.patch(
        url, json={"start_date": "2026-04-20", "end_date": "2026-04-22"}, headers=auth
    )
    assert r.status_code == 200 and r.json()["days"] == 3
    r = await service.client.patch(url, json={"destination_city": "TOKYO"}, headers=auth)
    assert r.json()["destination_city"] == "Tokyo"


async def test_patch_with_a_stale_version_is_409(service: TripService) -> None:
    _, auth = service.user()
    trip = await service.create_trip(auth)
    url = f"/api/trips/{trip['id']}"
    assert (
        await service.client.patch(url, json={"title": "A", "version": 1}, headers=auth)
    ).status_code == 200
    r = await service.client.patch(url, json={"title": "B", "version": 1}, headers=auth)
    assert r.status_code == 409 and "version 2" in r.json()["detail"]


async def test_an_empty_patch_changes_nothing(service: TripService) -> None:
    _, auth = service.user()
    trip = await service.create_trip(auth)
    r = await service.client.patch(f"/api/trips/{trip['id']}", json={}, headers=auth)
    assert r.status_code == 200 and r.json() == trip


async def test_delete_removes_the_trip(service: TripService) -> None:
    _, auth = service.user()
    trip = await service.create_trip(auth)
    url = f"/api/trips/{trip['id']}"
    assert (await service.client.delete(url, headers=auth)).status_code == 204
    assert (await service.client.get(url, headers=auth)).status_code == 404
    assert (await service.client.delete(url, headers=auth)).status_code == 404


async def test_each_request_counts_once_against_the_rate_limit(
    trip_settings: Callable[..., TripSettings], location: FakeLocationService, clean_redis: str
) -> None:
    """A limit of 2 a minute lets two requests through, a create among them, and refuses the
    third with Retry-After: the caller check counts the request, and counts it once."""
    async with running(trip_settings(rate_limit_per_minute=2), location) as limited:
        _, auth = limited.user()
        created = await limited.client.post("/api/trips", json=trip_payload(), headers=auth)
        assert created.status_code == 201, created.text
        read = await limited.client.get(f"/api/trips/{created.json()['id']}", headers=auth)
        assert read.status_code == 200, read.text
        refused = await limited.client.get("/api/trips", headers=auth)
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
