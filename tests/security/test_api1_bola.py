"""OWASP API1:2023 Broken Object Level Authorization, through nginx on the prod profile: another
user's trips, members and schedules answer 404 (as a missing one), from trip- and ai-service
alike; a removed member and a deleted trip lose access at once."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.security.conftest import Account, Gateway

pytestmark = pytest.mark.e2e


def _schedule(gateway: Gateway, owner: Account, trip_id: str) -> str:
    r = gateway.client.post(f"/api/trips/{trip_id}/schedules", headers=owner.headers)
    assert r.status_code == 202, r.text
    schedule_id = str(r.json()["schedule_id"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # ai-service knows the schedule once it took the request
        if (
            gateway.client.get(
                f"/api/ai/schedules/{schedule_id}", headers=owner.headers
            ).status_code
            == 200
        ):
            return schedule_id
        time.sleep(0.5)
    pytest.fail(f"schedule {schedule_id} never reached ai-service")


def test_a_stranger_sees_nothing_of_anothers_trip(gateway: Gateway) -> None:
    owner, stranger = gateway.register("owner"), gateway.register("stranger")
    trip = gateway.create_trip(owner)
    base = f"/api/trips/{trip['id']}"
    schedule_id = _schedule(gateway, owner, trip["id"])
    probes = [
        ("GET", base, None),
        ("PATCH", base, {"title": "mine now"}),
        ("DELETE", base, None),
        ("GET", f"{base}/members", None),
        ("POST", f"{base}/members", {"user_id": stranger.user_id, "role": "editor"}),
        ("DELETE", f"{base}/members/{owner.user_id}", None),
        ("GET", f"{base}/schedules", None),
        ("POST", f"{base}/schedules", None),
        ("GET", f"{base}/schedules/{schedule_id}", None),
        ("GET", f"/api/ai/schedules/{schedule_id}", None),
    ]
    held = []
    for method, path, body in probes:
        r = gateway.client.request(method, path, json=body, headers=stranger.headers)
        held.append((method, path, r.status_code))
    assert [h for h in held if h[2] != 404] == []
    assert gateway.client.get(base, headers=owner.headers).status_code == 200


def test_a_removed_member_and_a_deleted_trip_lose_the_schedule(gateway: Gateway) -> None:
    owner, member = gateway.register("owner"), gateway.register("member")
    trip = gateway.create_trip(owner)
    r = gateway.client.post(
        f"/api/trips/{trip['id']}/members",
        json={"user_id": member.user_id, "role": "editor"},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    schedule_id = _schedule(gateway, member, trip["id"])  # the member requested it
    path = f"/api/ai/schedules/{schedule_id}"
    assert gateway.client.get(path, headers=member.headers).status_code == 200
    r = gateway.client.delete(
        f"/api/trips/{trip['id']}/members/{member.user_id}", headers=owner.headers
    )
    assert r.status_code == 204
    assert gateway.client.get(path, headers=member.headers).status_code == 404
    assert gateway.client.get(path, headers=owner.headers).status_code == 200
    assert (
        gateway.client.delete(f"/api/trips/{trip['id']}", headers=owner.headers).status_code == 204
    )
    assert gateway.client.get(path, headers=owner.headers).status_code == 404
    assert gateway.client.get(path, headers=gateway.admin().headers).status_code == 404


def test_members_must_be_real_users(gateway: Gateway) -> None:
    owner = gateway.register("owner")
    trip = gateway.create_trip(owner)
    r = gateway.client.post(
        f"/api/trips/{trip['id']}/members",
        json={"user_id": str(uuid.uuid4()), "role": "viewer"},
        headers=owner.headers,
    )
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in r.json()["errors"]] == ["user_id"]
