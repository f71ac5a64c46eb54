"""OWASP API8:2023 Security Misconfiguration, black-box through nginx on the local platform.

Docs and schema off in prod (on in dev); security headers; every error (the services', nginx's,
an unhandled one) is problem+json without a traceback, and an unhandled error does not cost the
next requests their connection; hostile text (NUL, SQL-looking strings, path traversal, non-UUID
ids, malformed JSON) is a 4xx naming the field, never a 5xx.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from simulation.platforms.local_plan import LocalPlan
from tests.security.conftest import Gateway
from tests.security.probes import assert_names_field, assert_problem

pytestmark = pytest.mark.e2e

PREFIXES = ("users", "trips", "ai", "locations")
NUL = "a\x00b"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_docs_and_schema_are_off_in_prod(gateway: Gateway, prefix: str) -> None:
    for path in ("docs", "redoc", "openapi.json"):
        r = gateway.client.get(f"/api/{prefix}/{path}")
        assert_problem(r, (401, 404, 405))  # 401: the prefix needs a token; 405: an id route


@pytest.mark.parametrize("prefix", PREFIXES)
def test_docs_and_schema_are_served_in_dev(dev_gateway: Gateway, prefix: str) -> None:
    spec = dev_gateway.client.get(f"/api/{prefix}/openapi.json")
    assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.")
    assert dev_gateway.client.get(f"/api/{prefix}/docs").status_code == 200


def test_security_headers_on_answers_and_no_store_on_tokens(gateway: Gateway) -> None:
    email = f"headers-{uuid.uuid4().hex[:10]}@example.org"
    body = {"email": email, "password": "headers-probe-2024", "name": "Headers"}
    register = gateway.request("POST", "/api/users/register", json=body)
    login = gateway.request(
        "POST", "/api/users/login", json={"email": email, "password": body["password"]}
    )
    refresh = gateway.request(
        "POST", "/api/users/refresh", json={"refresh_token": login.json()["refresh_token"]}
    )
    for token_answer in (register, login, refresh):
        assert token_answer.status_code in (200, 201), token_answer.text
        assert token_answer.headers["cache-control"] == "no-store"
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    answers = [
        register, login, refresh,
        gateway.client.get("/api/users/me", headers=headers),
        gateway.client.get("/api/trips", headers=headers),
        gateway.client.get("/api/locations/cities", headers=headers),
        gateway.client.get(f"/api/ai/schedules/{uuid.uuid4()}", headers=headers),
        gateway.client.get("/api/trips/not-a-uuid", headers=headers),
    ]  # fmt: skip
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
        assert "server" not in answer.headers or "/" not in answer.headers["server"]  # no version


def test_gateway_errors_are_problem_json(gateway: Gateway) -> None:
    big = gateway.client.post("/api/users/register", content=b"{" + b" " * (2 << 20) + b"}",
                              headers={"Content-Type": "application/json"})  # fmt: skip
    assert_problem(big, 413)
    assert_problem(gateway.client.get("/api/locations/places/search?q=" + "x" * 20_000), 414)
    assert_problem(gateway.client.get("/api/users/me", headers={"X-Pad": "p" * 20_000}), 431)
    assert_problem(gateway.client.get("/nowhere"), 404)
    assert_problem(gateway.client.get("/api/users/actuator/health"), 404)


def test_malformed_json_is_a_422(gateway: Gateway) -> None:
    for raw in (b"{", b'{"email": }', b"\xff\xfe", b"[]", b'"text"', b"null"):
        r = gateway.client.post(
            "/api/users/login", content=raw, headers={"Content-Type": "application/json"}
        )
        assert_problem(r, 422)


def _probe_trip_payload(**overrides: Any) -> dict[str, Any]:
    return {"title": "Probe trip", "destination_city": "Seoul", "start_date": "2031-04-01",
            "end_date": "2031-04-02", **overrides}  # fmt: skip


def test_nul_in_any_text_input_is_a_422_naming_the_field(gateway: Gateway) -> None:
    account = gateway.register("nul")
    auth = account.headers
    email = f"nul-{uuid.uuid4().hex[:8]}@example.org"
    register = gateway.request(
        "POST",
        "/api/users/register",
        json={"email": email, "password": "nul-probe-24x", "name": NUL},
    )
    assert_names_field(register, "name")
    assert_names_field(
        gateway.client.patch("/api/users/me", json={"name": NUL}, headers=auth), "name"
    )
    trips = "/api/trips"
    for field in ("title", "destination_city", "wishes"):
        r = gateway.client.post(trips, json=_probe_trip_payload(**{field: NUL}), headers=auth)
        assert_names_field(r, field)
    trip = gateway.create_trip(account)
    patched = gateway.client.patch(f"{trips}/{trip['id']}", json={"wishes": NUL}, headers=auth)
    assert_names_field(patched, "wishes")
    places = "/api/locations/places"
    for path, field in ((f"{places}/search?q=a%00b", "q"), (f"{places}?ids=a%00b", "ids"),
                        (f"{places}?city=Se%00oul", "city"),
                        (f"{places}/search?city=a%00", "city")):  # fmt: skip
        assert_names_field(gateway.client.get(path, headers=auth), field)
    # In the path nginx refuses a NUL itself (400 problem+json) before any service sees it.
    assert_problem(gateway.client.get(f"{places}/a%00b", headers=auth), 400)
    preview = {"city": "Se\x00oul", "start_date": "2031-04-01", "end_date": "2031-04-01"}
    r = gateway.client.post("/api/ai/schedules/preview", json=preview, headers=auth)
    assert_names_field(r, "city")


SQL_LOOKING = (
    "' OR '1'='1",
    "'; DROP TABLE users; --",
    "1) UNION SELECT password_hash FROM users--",
    "%' AND pg_sleep(5) --",
    "\\'; SELECT 1; --",
)


def test_sql_looking_strings_are_data(gateway: Gateway) -> None:
    account = gateway.register("sqli")
    auth = account.headers
    for text in SQL_LOOKING:
        # Search is fuzzy (trigrams: "' OR '1'='1" finds "Or Tor Kor Market"): a 200, one page.
        search = gateway.client.get(
            "/api/locations/places/search", params={"q": text}, headers=auth
        )
        assert search.status_code == 200 and search.json()["count"] <= 20, search.text
        city = gateway.client.get("/api/locations/places", params={"city": text}, headers=auth)
        assert city.status_code == 200 and city.json()["total"] == 0, city.text
        login = gateway.request(
            "POST", "/api/users/login", json={"email": "a@example.org", "password": text}
        )
        assert_problem(login, (401, 429))
        trip = gateway.client.post("/api/trips", json=_probe_trip_payload(title=text), headers=auth)
        assert trip.status_code == 201 and trip.json()["title"] == text.strip(), trip.text
        unknown_city = gateway.client.post(
            "/api/trips", json=_probe_trip_payload(destination_city=text), headers=auth
        )
        assert_names_field(unknown_city, "destination_city")
    # The tables are all still there: the sample city still lists its places.
    seoul = gateway.client.get("/api/locations/places", params={"city": "Seoul"}, headers=auth)
    assert seoul.status_code == 200 and seoul.json()["total"] > 0


TRAVERSALS = ("/api/trips/..%2F..%2Fetc%2Fpasswd", "/api/locations/places/..%2F..%2Fetc%2Fpasswd",
              "/api/locations/places/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/api/users/..;/trips",
              "/api/trips/%252e%252e%252f", "/api/ai/schedules/..%5c..%5cwindows")  # fmt: skip


def test_path_traversal_never_reaches_a_file_or_a_5xx(gateway: Gateway) -> None:
    auth = gateway.register("traversal").headers
    for path in TRAVERSALS:
        r = gateway.client.get(path, headers=auth)
        assert r.status_code < 500 and "root:" not in r.text, (path, r.status_code, r.text[:200])
        assert_problem(r, (400, 401, 404, 405, 422))
    raw = gateway.client.get("/api/trips/../users/me", headers=auth)  # normalised by the client
    assert raw.status_code < 500


def test_non_uuid_ids_are_a_422_naming_the_parameter(gateway: Gateway) -> None:
    auth = gateway.register("ids").headers
    for path, field in (("/api/trips/not-a-uuid", "trip_id"), ("/api/trips/1/members", "trip_id"),
                        ("/api/ai/schedules/12345", "schedule_id"),
                        (f"/api/trips/{uuid.uuid4()}/schedules/x", "schedule_id")):  # fmt: skip
        assert_names_field(gateway.client.get(path, headers=auth), field)
    admin = gateway.admin().headers
    r = gateway.client.patch("/api/users/not-a-uuid/role", json={"role": "ADMIN"}, headers=admin)
    assert_names_field(r, "user_id")


def _rename_title(gateway: Gateway, old: str, new: str) -> None:
    dsn = LocalPlan.from_dict(gateway.plan).database_url
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE trip_db.trips RENAME COLUMN {old} TO {new}")


def test_an_unhandled_error_is_a_problem_500_and_the_next_posts_all_succeed(
    gateway: Gateway,
) -> None:
    """The error on demand: trip-service's `title` column renamed under it (as a bad migration
    would), so creating a trip fails inside the database driver, not in validation."""
    others = [gateway.register(f"after-error-{n}") for n in range(4)]
    victim = gateway.register("error")
    _rename_title(gateway, "title", "title_probe_renamed")
    try:
        # Several, so every trip replica (and its upstream connections) has had one.
        failures = [
            gateway.client.post("/api/trips", json=_probe_trip_payload(),
                                headers={**victim.headers, "X-Request-ID": f"probe-500-{n}"})
            for n in range(12)
        ]  # fmt: skip
    finally:
        _rename_title(gateway, "title_probe_renamed", "title")
    for n, failed in enumerate(failures):
        body = assert_problem(failed, 500)
        assert body["request_id"] == f"probe-500-{n}" == failed.headers["x-request-id"]
        assert "title_probe_renamed" not in failed.text and "UndefinedColumn" not in failed.text
    # Right behind the errors, on the same upstream keep-alive connections: 200 POSTs by other
    # users. A connection uvicorn dropped after an error gave nginx a 502 on a POST it must not
    # retry.
    statuses: dict[int, int] = {}
    for n in range(200):
        owner = others[n % len(others)]
        r = gateway.client.post("/api/trips", json=_probe_trip_payload(title=f"t{n}"),
                                headers=owner.headers)  # fmt: skip
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
    assert statuses == {201: 200}
