"""Who may do what: strangers see nothing (404), viewers read, editors edit, the owner manages."""

from __future__ import annotations

import uuid

import pytest

from services.kit.auth import service_token
from tests.support import bearer
from tests.trip.conftest import TripService

pytestmark = pytest.mark.integration


async def test_a_stranger_gets_404_for_every_route(service: TripService) -> None:
    _, owner = service.user()
    _, stranger = service.user()
    trip = await service.create_trip(owner)
    base = f"/api/trips/{trip['id']}"
    someone = str(uuid.uuid4())
    schedule = (await service.client.post(f"{base}/schedules", headers=owner)).json()
    calls = [
        ("GET", base, None),
        ("PATCH", base, {"title": "mine now"}),
        ("DELETE", base, None),
        ("GET", f"{base}/members", None),
        ("POST", f"{base}/members", {"user_id": someone, "role": "editor"}),
        ("DELETE", f"{base}/members/{someone}", None),
        ("POST", f"{base}/schedules", None),
        ("GET", f"{base}/schedules", None),
        ("GET", f"{base}/schedules/{schedule['schedule_id']}", None),
    ]
    for method, url, body in calls:
        r = await service.client.request(method, url, json=body, headers=stranger)
        assert r.status_code == 404, (method, url, r.text)
        assert r.json()["detail"] == f"no trip {trip['id']}"  # same answer as a missing trip
    assert (await service.client.get("/api/trips", headers=stranger)).json()["total"] == 0
    assert (await service.client.get(base, headers=owner)).json()["title"] == trip["title"]


async def test_a_viewer_reads_but_cannot_change_anything(service: TripService) -> None:
    _, owner = service.user()
    viewer_id, viewer = service.user()
    trip = await service.create_trip(owner)
    base = f"/api/trips/{trip['id']}"
    await service.share(trip["id"], owner, viewer_id, "viewer")

    seen = (await service.client.get(base, headers=viewer)).json()
    assert seen["my_role"] == "viewer" and seen["id"] == trip["id"]
    assert (await service.client.get(f"{base}/members", headers=viewer)).status_code == 200
    assert (await service.client.get(f"{base}/schedules", headers=viewer)).status_code == 200
    listed = (await service.client.get("/api/trips", headers=viewer)).json()
    assert [(t["id"], t["my_role"]) for t in listed["items"]] == [(trip["id"], "viewer")]

    forbidden = [
        ("PATCH", base, {"title": "viewer was here"}),
        ("DELETE", base, None),
        ("POST", f"{base}/members", {"user_id": str(uuid.uuid4()), "role": "viewer"}),
        ("DELETE", f"{base}/members/{viewer_id}", None),
        ("POST", f"{base}/schedules", None),
    ]
    for method, url, body in forbidden:
        r = await service.client.request(method, url, json=body, headers=viewer)
        assert r.status_code == 403, (method, url, r.text)
    assert (await service.client.get(base, headers=owner)).json()["title"] == trip["title"]


async def test_an_editor_edits_and_requests_schedules_but_does_not_delete_or_manage(
    service: TripService,
) -> None:
    _, owner = service.user()
    editor_id, editor = service.user()
    trip = await service.create_trip(owner)
    base = f"/api/trips/{trip['id']}"
    await service.share(trip["id"], owner, editor_id, "editor")

    r = await service.client.patch(base, json={"title": "Edited"}, headers=editor)
    assert r.status_code == 200 and r.json()["my_role"] == "editor"
    assert (await service.client.post(f"{base}/schedules", headers=editor)).status_code == 202
    assert (await service.client.delete(base, headers=editor)).status_code == 403
    r = await service.client.post(
        f"{base}/members", json={"user_id": str(uuid.uuid4()), "role": "viewer"}, headers=editor
    )
    assert r.status_code == 403
    assert (
        await service.client.delete(f"{base}/members/{editor_id}", headers=editor)
    ).status_code == 403
    assert (await service.client.get(base, headers=owner)).json()["title"] == "Edited"


async def test_members_are_listed_owner_first(service: TripService) -> None:
    owner_id, owner = service.user()
    editor_id, _ = service.user()
    viewer_id, _ = service.user()
    trip = await service.create_trip(owner)
    added = await service.share(trip["id"], owner, editor_id, "editor")
    assert added["user_id"] == editor_id and added["role"] == "editor"
    await service.share(trip["id"], owner, viewer_id, "viewer")
    members = (await service.client.get(f"/api/trips/{trip['id']}/members", headers=owner)).json()
    assert [(m["user_id"], m["role"]) for m in members] == [
        (owner_id, "owner"),
        (editor_id, "editor"),
        (viewer_id, "viewer"),
    ]


async def test_inviting_again_changes_the_role(service: TripService) -> None:
    _, owner = service.user()
    member_id, member = service.user()
    trip = await service.create_trip(owner)
    url = f"/api/trips/{trip['id']}/members"
    first = await service.client.post(
        url, json={"user_id": member_id, "role": "editor"}, headers=owner
    )
    again = await service.client.post(
        url, json={"user_id": member_id, "role": "viewer"}, headers=owner
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["role"] == "viewer"
    r = await service.client.patch(f"/api/trips/{trip['id']}", json={"title": "x"}, headers=member)
    assert r.status_code == 403


async def test_a_removed_member_no_longer_sees_the_trip(service: TripService) -> None:
    _, owner = service.user()
    member_id, member = service.user()
    trip = await service.create_trip(owner)
    await service.share(trip["id"], owner, member_id, "viewer")
    url = f"/api/trips/{trip['id']}/members/{member_id}"
    assert (await service.client.delete(url, headers=owner)).status_code == 204
    assert (await service.client.get(f"/api/trips/{trip['id']}", headers=member)).status_code == 404
    r = await service.client.delete(url, headers=owner)
    assert r.status_code == 404 and "not a member" in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user_id": "not-a-uuid", "role": "editor"}, "user_id"),
        ({"user_id": "5f0c6b1e-0000-4000-8000-000000000000", "role": "owner"}, "role"),
        ({"user_id": "5f0c6b1e-0000-4000-8000-000000000000"}, "role"),
        ({"role": "viewer"}, "user_id"),
        ({"user_id": "5f0c6b1e-0000-4000-8000-000000000000", "role": "viewer", "x": 1}, "x"),
    ],
)
async def test_member_bad_input_names_the_field(
    service: TripService, body: dict[str, object], field: str
) -> None:
    _, owner = service.user()
    trip = await service.create_trip(owner)
    r = await service.client.post(f"/api/trips/{trip['id']}/members", json=body, headers=owner)
    assert r.status_code == 422
    assert field in [e["field"] for e in r.json()["errors"]], r.json()


async def test_the_owner_is_not_a_member_to_add_or_remove(service: TripService) -> None:
    owner_id, owner = service.user()
    trip = await service.create_trip(owner)
    base = f"/api/trips/{trip['id']}/members"
    r = await service.client.post(base, json={"user_id": owner_id, "role": "viewer"}, headers=owner)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "user_id"
    assert (await service.client.delete(f"{base}/{owner_id}", headers=owner)).status_code == 409
    assert (await service.client.delete(f"{base}/not-a-uuid", headers=owner)).status_code == 422


async def test_deleting_a_trip_removes_it_for_its_members(service: TripService) -> None:
    _, owner = service.user()
    member_id, member = service.user()
    trip = await service.create_trip(owner)
    await service.share(trip["id"], owner, member_id, "editor")
    assert (
        await service.client.delete(f"/api/trips/{trip['id']}", headers=owner)
    ).status_code == 204
    assert (await service.client.get(f"/api/trips/{trip['id']}", headers=member)).status_code == 404
    assert (await service.client.get("/api/trips", headers=member)).json()["total"] == 0


async def test_every_route_needs_a_user_token(service: TripService) -> None:
    trip_id = str(uuid.uuid4())
    assert (await service.client.get("/api/trips")).status_code == 401
    assert (await service.client.post("/api/trips", json={})).status_code == 401
    assert (await service.client.get(f"/api/trips/{trip_id}/schedules")).status_code == 401
    bad = {"Authorization": "Bearer not.a.token"}
    assert (await service.client.get("/api/trips", headers=bad)).status_code == 401
    # ai-service's own token is addressed to location-service only: not accepted here at all.
    r = await service.client.get("/api/trips", headers=service.service_headers())
    assert r.status_code == 401 and "not meant for this service" in r.json()["detail"]
    # One addressed to trip-service is valid but owns no trips: 403, never a 500.
    addressed = bearer(service_token(service.app.state.tokens, "ai", ("trip",)))
    r = await service.client.get("/api/trips", headers=addressed)
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"


async def test_adding_a_user_that_does_not_exist_names_the_field(service: TripService) -> None:
    _, owner = service.user()
    trip = await service.create_trip(owner)
    nobody = str(uuid.uuid4())
    service.location.missing_users.add(nobody)
    r = await service.client.post(
        f"/api/trips/{trip['id']}/members",
        json={"user_id": nobody, "role": "editor"},
        headers=owner,
    )
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"] == [{"field": "user_id", "message": "no user with this id"}]
    members = await service.client.get(f"/api/trips/{trip['id']}/members", headers=owner)
    assert [m["user_id"] for m in members.json()] == [owner_id(members.json())]
    # The lookup went to user-service's internal route with trip-service's own token.
    lookup = [c for c in service.location.calls if c[0] == f"/api/users/internal/{nobody}"]
    assert lookup == [(lookup[0][0], service.app.state.service_auth.authorization())]


async def test_an_unreachable_user_service_is_503_not_a_verdict(service: TripService) -> None:
    _, owner = service.user()
    trip = await service.create_trip(owner)
    service.location.down = True
    r = await service.client.post(
        f"/api/trips/{trip['id']}/members",
        json={"user_id": str(uuid.uuid4()), "role": "viewer"},
        headers=owner,
    )
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"


def owner_id(members: list[dict[str, object]]) -> object:
    return next(m["user_id"] for m in members if m["role"] == "owner")
