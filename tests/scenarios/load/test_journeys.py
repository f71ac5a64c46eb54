"""The journeys' logic that runs without locust: request names, the bodies a traveller sends
(validated with the services' own schemas), the long poll's row, the knobs — and that locust
itself can load both locustfiles (in a child process: importing locust here would monkey-patch
this test process with gevent)."""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
import sys
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from runs.spec import load_spec
from scenarios.load.locustfiles import plans, routes
from scenarios.load.locustfiles.catalog import CITIES, CITY_BY_NAME, NEARBY_LIMIT
from scenarios.load.locustfiles.settings import (
    ACCOUNTS_ENV,
    AI_DEADLINE_ENV,
    ITINERARY_EVERY_ENV,
    WAIT_ENV,
    JourneySettings,
    JourneySettingsError,
    parse_wait,
)
from services.kit.vocabulary import Category
from services.location.schemas import MAX_RADIUS_M
from services.trip.schemas import TripCreate
from services.user.schemas import UserRegister, UserUpdate
from simulation.capacity.calibration import WAITING_SUFFIX, service_of

REPO_ROOT = Path(__file__).resolve().parents[3]
LOCUSTFILES = REPO_ROOT / "scenarios" / "load" / "locustfiles"
PLACES = json.loads((REPO_ROOT / "services/datainit/data/places.json").read_text())
NAME = re.compile(r"^/api/(users|trips|ai|locations)(/[a-z\[\]/]*)?$")


# -- request names ------------------------------------------------------------------------------


def test_request_names_are_route_templates() -> None:
    # locust keys a stats row on (method, name) and shows the method in its own column.
    keys = [(r.method, r.name) for r in routes.ALL]
    assert len(set(keys)) == len(keys), "two routes share a stats row"
    for route in routes.ALL:
        assert NAME.match(route.name.removesuffix(f" ({route.variant})")), route.name
        # The capacity model finds the service of every row by its /api/<service> prefix.
        assert service_of(route.name) in ("user", "trip", "location")
    assert routes.SCHEDULE.name == "/api/trips/[id]/schedules/[id]"
    assert routes.SCHEDULE_WAIT.name == "/api/trips/[id]/schedules/[id] (long poll)"
    # The capacity model knows that row as a wait, by the same suffix.
    assert routes.SCHEDULE_WAIT.name.endswith(WAITING_SUFFIX)
    assert routes.PLACE.name == "/api/locations/places/[id]"


def test_paths_fill_every_id_and_refuse_a_missing_one() -> None:
    assert routes.SCHEDULE.path(trip_id="t1", schedule_id="s1") == "/api/trips/t1/schedules/s1"
    assert routes.PROFILE.path() == "/api/users/me"
    with pytest.raises(KeyError):
        routes.TRIP.path()


# -- what a traveller sends ---------------------------------------------------------------------


def test_catalogue_spots_are_real_places_of_their_city() -> None:
    cities = {p["city"] for p in PLACES}
    assert {c.name for c in CITIES} == cities, "every sample city is browsed, no other"
    for city in CITIES:
        places = [p for p in PLACES if p["city"] == city.name]
        for spot in city.spots:
            nearest_m = min(_distance_m(spot.lat, spot.lng, p["lat"], p["lng"]) for p in places)
            assert nearest_m <= max(city.radii_m), f"{city.name} {spot.label}: {nearest_m:.0f} m"
        assert all(0 < r <= MAX_RADIUS_M for r in city.radii_m)


def test_nearby_queries_repeat_a_small_set_of_cache_keys() -> None:
    rng = random.Random(1)
    keys = set()
    for _ in range(2_000):
        city, params = plans.nearby_query(rng)
        assert params["limit"] == NEARBY_LIMIT
        assert params.get("category") in (None, *(c.value for c in Category))
        assert params["radius_m"] in city.radii_m
        keys.add((params["lat"], params["lng"], params["radius_m"]))
    possible = sum(len(c.spots) * len(c.radii_m) for c in CITIES)
    assert len(keys) <= possible < 100  # the location cache key: point + radius


def test_trip_bodies_are_valid_trips_with_places_seen() -> None:
    rng = random.Random(2)
    seen = ["seoul-gyeongbokgung", "seoul-deoksugung", "seoul-seoul-plaza", "seoul-n-seoul-tower"]
    for _ in range(200):
        body = plans.trip_body(rng, CITY_BY_NAME["Seoul"], seen, date(2026, 11, 22))
        trip = TripCreate.model_validate(body)  # the service's own request model
        assert 1 <= len(trip.must_visit) <= 3 and set(trip.must_visit) <= set(seen)
        assert trip.start_date > date(2026, 11, 22)
        assert (trip.end_date - trip.start_date).days < 5


def test_sign_up_and_profile_bodies_pass_the_user_service_rules() -> None:
    rng = random.Random(3)
    emails = {plans.new_email(rng) for _ in range(100)}
    assert len(emails) == 100
    for email in list(emails)[:5]:
        UserRegister.model_validate({"email": email, "password": plans.PASSWORD, "name": "J"})
    for _ in range(50):
        UserUpdate.model_validate(plans.profile_update(rng))


def test_each_user_connects_from_its_own_loopback_address() -> None:
    """The gateway reads the client's address from the connection: a user's sockets are bound
    to its own 127.x.y.z, so anonymous per-client limits see travellers, not one machine."""
    import http.server
    import threading

    import gevent
    from geventhttpclient import HTTPClient

    from scenarios.load.locustfiles import source_address

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = self.client_address[0].encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rng = random.Random(4)
    addresses = [source_address.new_address(rng) for _ in range(3)]

    def user(address: str) -> str:
        source_address.connect_from(address)
        client = HTTPClient("127.0.0.1", server.server_address[1])
        try:
            return str(client.get("/").read().decode())
        finally:
            client.close()

    try:
        seen = [g.get(timeout=10) for g in [gevent.spawn(user, a) for a in addresses]]
    finally:
        server.shutdown()
    assert seen == addresses
    assert all(a.startswith("127.") and a != "127.0.0.1" for a in addresses)


@pytest.mark.parametrize("profile", ["dev", "prod", "phase2", "phase3"])
def test_the_long_poll_is_left_out_of_general_api_latency_and_nothing_else(profile: str) -> None:
    """A long poll waits seconds for the itinerary by design: like the generation itself it is
    not API latency; every other route is."""
    (general,) = [o for o in load_spec(profile).objectives if o.id.startswith("general-api")]

    def excluded(name: str) -> bool:
        return any(fnmatchcase(name, pattern) for pattern in general.exclude)

    assert excluded(routes.SCHEDULE_WAIT.name)
    assert [r.name for r in routes.ALL if excluded(r.name)] == [routes.SCHEDULE_WAIT.name]


def test_memory_stays_small_and_knows_cities() -> None:
    memory = plans.Memory(places_per_city=3)
    items = [{"id": f"p{i}", "city": "Busan"} for i in range(10)] + [{"id": "x", "city": "Mars"}]
    memory.saw_places(items)
    memory.saw_places(items)
    assert memory.places_in("Busan") == ["p7", "p8", "p9"]
    assert memory.places_in("Mars") == []
    assert memory.any_place(random.Random(5)) in {"p7", "p8", "p9"}
    for i in range(50):
        memory.trips.append((f"t{i}", "Busan"))
    assert len(memory.trips) == 20


# -- knobs --------------------------------------------------------------------------------------


def test_settings_default_to_people_reading_screens() -> None:
    settings = JourneySettings.from_env({})
    assert settings == JourneySettings()
    assert settings.wait_s == (1.0, 3.0) and settings.accounts() == []


def test_settings_round_trip_through_the_environment(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({"accounts": [{"email": "a@example.com", "password": "p"}]}))
    settings = JourneySettings(
        wait_s=(0.0, 0.0), itinerary_every_s=60, ai_deadline_s=12, accounts_file=str(accounts)
    )
    again = JourneySettings.from_env(settings.environment())
    assert again == settings
    assert again.accounts() == [{"email": "a@example.com", "password": "p"}]


@pytest.mark.parametrize(
    ("text", "expected"), [("1,3", (1.0, 3.0)), ("0", (0.0, 0.0)), (" 0.5 , 2 ", (0.5, 2.0))]
)
def test_wait_parses(text: str, expected: tuple[float, float]) -> None:
    assert parse_wait(text) == expected


@pytest.mark.parametrize("text", ["3,1", "a,b", "-1", "1,2,3", "nan", ""])
def test_wait_refuses_nonsense(text: str) -> None:
    with pytest.raises(JourneySettingsError):
        parse_wait(text)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (WAIT_ENV, "slow"),
        (AI_DEADLINE_ENV, "0"),
        (ITINERARY_EVERY_ENV, "-5"),
        (AI_DEADLINE_ENV, "x"),
    ],
)
def test_bad_knobs_name_their_variable(name: str, value: str) -> None:
    with pytest.raises(JourneySettingsError, match=name):
        JourneySettings.from_env({name: value})


def test_an_unusable_accounts_file_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"accounts": []}))
    for path in (empty, tmp_path / "missing.json"):
        with pytest.raises(JourneySettingsError, match=ACCOUNTS_ENV):
            JourneySettings(accounts_file=str(path)).accounts()


# -- locust loads the files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locustfile", "classes"),
    [
        ("journeys.py", {"Traveller"}),
        (
            "bench_routes.py",
            {
                "Baseline",
                "CachedNearby",
                "PlaceSearch",
                "TripCreate",
                "ProfileRead",
                "Login",
                "OtherRoutesPaced",
            },
        ),
    ],
)
def test_locust_lists_the_user_classes(locustfile: str, classes: set[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILES / locustfile), "--list"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert classes <= set(done.stdout.split())


def _distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))
