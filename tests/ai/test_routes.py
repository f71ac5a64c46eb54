"""The /api/ai routes: schedule status (who can see the trip) and synchronous previews."""

from __future__ import annotations

import uuid
from typing import Any

from services.kit.auth import Role, service_token
from tests.ai.conftest import AIService, schedule_request
from tests.support import bearer


def preview_body(**overrides: Any) -> dict[str, Any]:
    return schedule_request(**{"end_date": "2026-04-01", **overrides})


# -- GET /api/ai/schedules/{id} ----------------------------------------------------------------


async def test_who_sees_the_trip_sees_its_schedule_others_get_404(
    service: AIService,
) -> None:
    owner_id, owner = service.user()
    member_id, member = service.user()
    body = await service.request_schedule(user_id=owner_id)
    service.location.trip_viewers[body["trip_id"]] = {owner_id, member_id}
    await service.wait_for(body["schedule_id"])
    path = f"/api/ai/schedules/{body['schedule_id']}"

    mine = await service.client.get(path, headers=owner)
    assert mine.status_code == 200
    schedule = mine.json()
    assert schedule["schedule_id"] == body["schedule_id"]
    assert schedule["trip_id"] == body["trip_id"]
    assert schedule["status"] == "done"
    assert schedule["error"] is None
    assert len(schedule["itinerary"]["days"]) == 2
    assert (await service.client.get(path, headers=member)).json() == schedule
    # The check went to trip-service with the caller's own token.
    asked = [r for r in service.location.calls if r.url.host == "trip.test"]
    assert asked[-1].headers["authorization"] == member["Authorization"]

    _, stranger = service.user()
    refused = await service.client.get(path, headers=stranger)
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"
    # An admin is no exception: the trip's visibility rule decides.
    _, admin = service.user(Role.ADMIN)
    assert (await service.client.get(path, headers=admin)).status_code == 404

    # A removed member, and everyone once the trip is deleted: 404 as for a stranger.
    service.location.trip_viewers[body["trip_id"]] = {owner_id}
    assert (await service.client.get(path, headers=member)).status_code == 404
    del service.location.trip_viewers[body["trip_id"]]
    assert (await service.client.get(path, headers=owner)).status_code == 404


async def test_service_tokens_get_403_on_user_routes(service: AIService) -> None:
    body = await service.request_schedule()
    await service.wait_for(body["schedule_id"])
    addressed = bearer(service_token(service.app.state.tokens, "trip", ("ai",)))
    for method, path, json_body in (
        ("GET", f"/api/ai/schedules/{body['schedule_id']}", None),
        ("POST", "/api/ai/schedules/preview", preview_body()),
    ):
        r = await service.client.request(method, path, json=json_body, headers=addressed)
        assert r.status_code == 403, r.text
        assert r.headers["content-type"] == "application/problem+json"
    # A service token not addressed to ai-service (trip's own: location, user) is not valid here.
    other = bearer(service_token(service.app.state.tokens, "trip"))
    r = await service.client.post("/api/ai/schedules/preview", json=preview_body(), headers=other)
    assert r.status_code == 401


async def test_an_unreachable_trip_service_is_503(service: AIService) -> None:
    owner_id, owner = service.user()
    body = await service.request_schedule(user_id=owner_id)
    service.location.trip_viewers[body["trip_id"]] = {owner_id}
    await service.wait_for(body["schedule_id"])
    service.location.trip_down = True
    r = await service.client.get(f"/api/ai/schedules/{body['schedule_id']}", headers=owner)
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"


async def test_unknown_and_malformed_schedule_ids(service: AIService) -> None:
    _, headers = service.user()
    unknown = await service.client.get(f"/api/ai/schedules/{uuid.uuid4()}", headers=headers)
    assert unknown.status_code == 404
    malformed = await service.client.get("/api/ai/schedules/not-a-uuid", headers=headers)
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "schedule_id"


async def test_the_routes_need_a_bearer_token(service: AIService) -> None:
    assert (await service.client.get(f"/api/ai/schedules/{uuid.uuid4()}")).status_code == 401
    refused = await service.client.post("/api/ai/schedules/preview", json=preview_body())
    assert refused.status_code == 401


# -- POST /api/ai/schedules/preview -------------------------------------------------------------


async def test_a_preview_plans_a_small_trip_at_once_and_repeats_from_the_cache(
    service: AIService,
) -> None:
    _, headers = service.user()
    first = await service.client.post(
        "/api/ai/schedules/preview", json=preview_body(), headers=headers
    )
    assert first.status_code == 200, first.text
    result = first.json()
    assert result["status"] == "done"
    assert result["cached"] is False
    [day] = result["itinerary"]["days"]
    assert "seoul-gyeongbokgung" in [v["place_id"] for v in day["visits"]]
    assert all(v["reason"] for v in day["visits"])
    assert {m["kind"] for m in day["meals"]} == {"lunch", "dinner"}

    again = await service.client.post(
        "/api/ai/schedules/preview", json=preview_body(), headers=headers
    )
    assert again.json()["cached"] is True
    assert again.json()["itinerary"] == result["itinerary"]
    assert service.metric("ai_planner_runs_total", outcome="ok") == 1


async def test_a_preview_result_lives_as_long_as_the_ai_result_ttl_setting(
    start_ai: Any,
) -> None:
    # An odd figure no code path could hold by accident: a write that ignores the setting fails.
    async with start_ai(ai_result_ttl_s=4321) as service:
        _, headers = service.user()
        r = await service.client.post(
            "/api/ai/schedules/preview", json=preview_body(), headers=headers
        )
        assert r.status_code == 200, r.text
        key = f"ai:schedule:preview:{r.json()['itinerary']['request_hash']}"
        ttl = await service.app.state.resources.redis.ttl(key)
        assert 4321 - 5 <= ttl <= 4321


async def test_a_preview_too_large_is_sent_to_the_queue_route(start_ai: Any) -> None:
    async with start_ai(preview_max_candidates=100) as service:
        _, headers = service.user()
        long_trip = await service.client.post(
            "/api/ai/schedules/preview",
            json=preview_body(end_date="2026-04-04"),  # 4 days
            headers=headers,
        )
        assert long_trip.status_code == 422
        assert "at most 3 days" in long_trip.json()["detail"]
        assert "/api/trips/{trip_id}/schedules" in long_trip.json()["detail"]
        assert long_trip.json()["errors"][0]["field"] == "end_date"

        many_places = await service.client.post(  # Seoul has 150 places
            "/api/ai/schedules/preview", json=preview_body(), headers=headers
        )
        assert many_places.status_code == 422
        assert "150 candidate places" in many_places.json()["detail"]
        assert service.metric("ai_planner_runs_total", outcome="ok") == 0


async def test_a_preview_that_cannot_be_planned_is_a_422_with_the_reason(
    service: AIService,
) -> None:
    _, headers = service.user()
    closed = await service.client.post(
        "/api/ai/schedules/preview",
        json=preview_body(start_date="2026-04-07", end_date="2026-04-07"),  # a Tuesday
        headers=headers,
    )
    assert closed.status_code == 422
    problem = closed.json()
    assert "closed" in problem["detail"]
    assert problem["errors"] == [{"field": "must_visit", "message": problem["detail"]}]

    unknown_place = await service.client.post(
        "/api/ai/schedules/preview",
        json=preview_body(must_visit=["seoul-no-such-place"]),
        headers=headers,
    )
    assert unknown_place.status_code == 422
    assert unknown_place.json()["errors"][0]["field"] == "must_visit"

    unknown_city = await service.client.post(
        "/api/ai/schedules/preview", json=preview_body(city="Atlantis"), headers=headers
    )
    assert unknown_city.status_code == 422
    assert unknown_city.json()["errors"][0]["field"] == "city"


async def test_an_invalid_preview_body_is_a_422_naming_the_fields(service: AIService) -> None:
    _, headers = service.user()
    cases = {
        "end_date": preview_body(start_date="2026-04-03", end_date="2026-04-01"),
        "pace": preview_body(pace="frantic"),
        "lodging.lat": preview_body(lodging={"lat": 123, "lng": 0}),
        "surprise": preview_body(surprise=True),
    }
    for field, body in cases.items():
        r = await service.client.post("/api/ai/schedules/preview", json=body, headers=headers)
        assert r.status_code == 422, (field, r.text)
        fields = [e["field"] for e in r.json()["errors"]]
        assert field in fields, (field, fields)
    assert service.metric("ai_planner_runs_total", outcome="ok") == 0


async def test_a_preview_while_location_service_is_down_is_a_503(service: AIService) -> None:
    service.location.down = True
    _, headers = service.user()
    r = await service.client.post("/api/ai/schedules/preview", json=preview_body(), headers=headers)
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"
    assert "location-service" in r.json()["detail"]
