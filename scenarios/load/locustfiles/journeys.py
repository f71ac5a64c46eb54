"""TripGen user journeys for locust: travellers browsing, planning trips and asking for itineraries.

    locust -f scenarios/load/locustfiles/journeys.py --host http://127.0.0.1:PORT     (web UI)
    python -m scenarios.cli load --profile prod --users 50 --duration 2m          (headless run)

Each simulated traveller registers its own account and logs in (on start), then does weighted
tasks the way people use a trip planner — mostly browsing places around well-known spots, text
search and place details; now and then listing and opening trips, creating one from places seen,
asking for an itinerary and waiting for it, re-reading an itinerary, the profile, logging in again.

Request names are route templates (`GET /api/trips/[id]`, see `routes.py`). The end-to-end time
of an itinerary (request → status `done`) is not a locust request: it is recorded as the
`ai_generation` custom sample, so the general-API p95 never includes it. Knobs (think time,
itinerary pacing, AI deadline) are environment variables, see `settings.py`.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from datetime import UTC, datetime
from typing import Any

import gevent
from locust import FastHttpUser, between, task

from runs.results import REFUSED
from scenarios.load.locustfiles import plans, routes, source_address
from scenarios.load.locustfiles.catalog import CITY_BY_NAME
from scenarios.load.locustfiles.routes import Route
from scenarios.load.locustfiles.settings import JourneySettings
from scenarios.load.samples import record_sample

# services/ai/planner/errors.py: the PlanningError codes that say the trip is infeasible as
# asked. The generic `planning_error` is not among them: it is the planner failing.
_REFUSAL_CODES = tuple(
    f"[{code}]"
    for code in (
        "unknown_place",
        "no_candidates",
        "must_visit_closed",
        "must_visit_unreachable",
        "too_many_must_visits",
    )
)

SETTINGS = JourneySettings.from_env()
ACCOUNTS = SETTINGS.accounts()
_next_account = itertools.count()
# Refresh the access token when this share of its lifetime has passed.
_REFRESH_AT = 0.8
_RETRY_PAUSE_S = 1.0  # after a failed long poll, before the next
_DONE, _FAILED = "done", "failed"


class Traveller(FastHttpUser):
    """One person using TripGen through the gateway (any platform's base URL)."""

    wait_time = between(*SETTINGS.wait_s)
    # A request that takes longer than this is a failure a person would have given up on.
    network_timeout = 30.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        self.rng = random.Random(int.from_bytes(os.urandom(8), "big"))
        self.address = source_address.new_address(self.rng)
        source_address.connect_from(self.address)
        self.email = plans.new_email(self.rng)
        self.password = plans.PASSWORD
        self.registered = False
        self.access_token: str | None = None
        self.refresh_token: str | None = None
        self.refresh_due = 0.0
        self.shared_account = bool(ACCOUNTS)
        if ACCOUNTS:  # an existing account, already logged in: no sign-up ramp
            account = ACCOUNTS[next(_next_account) % len(ACCOUNTS)]
            self.email, self.password = account["email"], account["password"]
            self.registered = True
            self.access_token = account.get("access_token")
            self.refresh_token = account.get("refresh_token")
            # When the pooled token was issued is unknown: refresh it well within its life.
            self.refresh_due = time.monotonic() + 300
        self.memory = plans.Memory()
        self.last_itinerary_at = -float("inf")
        self._ensure_session()

    # -- requests ---------------------------------------------------------------------------

    def _call(
        self,
        route: Route,
        *,
        ids: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        expect: tuple[int, ...] = (200,),
        auth: bool = True,
    ) -> Any:
        """One request recorded under the route's name; the JSON body when the status is
        expected, else None (and a failure with the status and the start of the body)."""
        headers: dict[str, str] = {}
        if auth:
            if self.access_token is None:
                return None
            headers["Authorization"] = f"Bearer {self.access_token}"
        with self.client.request(
            route.method,
            route.path(**(ids or {})),
            name=route.name,
            params=params,
            json=body,
            headers=headers,
            catch_response=True,
        ) as response:
            status = response.status_code
            if status not in expect:
                detail = (response.text or "")[:120] if status else str(response.error)
                response.failure(f"HTTP {status}: {detail}")
                if status == 401 and auth:
                    self.access_token = None  # session ended: log in again on the next task
                return None
            if status == 204 or not response.content:
                response.success()
                return {}
            try:
                payload = response.json()
            except ValueError:
                response.failure(f"HTTP {status} but the body is not JSON")
                return None
            response.success()
            return payload

    def _ensure_session(self) -> bool:
        """Register once, log in when there is no token, refresh an ageing one."""
        if not self.registered:
            created = self._call(
                routes.REGISTER,
                body={"email": self.email, "password": self.password, "name": "Journey"},
                expect=(201,),
                auth=False,
            )
            if created is None:
                return False
            self.registered = True
        if self.access_token is None:
            return self._log_in()
        if time.monotonic() >= self.refresh_due and self.refresh_token:
            pair = self._call(
                routes.REFRESH, body={"refresh_token": self.refresh_token}, auth=False
            )
            if pair is None:
                return self._log_in()
            self._keep(pair)
        return True

    def _log_in(self) -> bool:
        pair = self._call(
            routes.LOGIN, body={"email": self.email, "password": self.password}, auth=False
        )
        if pair is None:
            return False
        self._keep(pair)
        return True

    def _keep(self, pair: dict[str, Any]) -> None:
        self.access_token = pair.get("access_token")
        self.refresh_token = pair.get("refresh_token")
        lifetime = float(pair.get("expires_in") or 900)
        self.refresh_due = time.monotonic() + lifetime * _REFRESH_AT

    # -- browsing (most traffic) ----------------------------------------------------------

    @task(30)
    def browse_nearby(self) -> None:
        if self._ensure_session():
            self._nearby()

    def _nearby(self, city_name: str | None = None) -> None:
        city = CITY_BY_NAME.get(city_name) if city_name else None
        _, params = plans.nearby_query(self.rng, city)
        page = self._call(routes.NEARBY, params=params)
        if page:
            self.memory.saw_places(page.get("items", []))

    @task(12)
    def search_places(self) -> None:
        if not self._ensure_session():
            return
        found = self._call(routes.SEARCH, params=plans.search_query(self.rng))
        if found:
            self.memory.saw_places(found.get("items", []))

    @task(14)
    def view_place(self) -> None:
        if not self._ensure_session():
            return
        place_id = self.memory.any_place(self.rng)
        if place_id is None:
            self._nearby()
            return
        self._call(routes.PLACE, ids={"place_id": place_id})

    @task(2)
    def list_cities(self) -> None:
        if self._ensure_session():
            self._call(routes.CITIES)

    # -- trips ------------------------------------------------------------------------------

    @task(6)
    def list_trips(self) -> None:
        if not self._ensure_session():
            return
        page = self._call(routes.TRIPS, params={"page": 1, "size": 20})
        for trip in (page or {}).get("items", []):
            ref = (trip.get("id"), trip.get("destination_city"))
            if all(isinstance(v, str) for v in ref) and ref not in self.memory.trips:
                self.memory.trips.append(ref)

    @task(6)
    def view_trip(self) -> None:
        if not self._ensure_session():
            return
        if not self.memory.trips:
            self.list_trips()
            return
        trip_id, _ = self.rng.choice(self.memory.trips)
        self._call(routes.TRIP, ids={"trip_id": trip_id})

    @task(3)
    def create_trip(self) -> None:
        if self._ensure_session():
            self._create_trip()

    def _create_trip(self) -> tuple[str, str] | None:
        """A trip to a city whose places this traveller has seen (browsing one first if none)."""
        seen = [c for c in self.memory.places if self.memory.places_in(c)]
        if seen:
            city_name = self.rng.choice(seen)
        else:
            city_name = plans.pick_city(self.rng).name
            self._nearby(city_name)
        place_ids = self.memory.places_in(city_name)
        if not place_ids:
            return None
        body = plans.trip_body(
            self.rng, CITY_BY_NAME[city_name], place_ids, datetime.now(UTC).date()
        )
        trip = self._call(routes.TRIP_CREATE, body=body, expect=(201,))
        if not trip or not isinstance(trip.get("id"), str):
            return None
        ref = (trip["id"], city_name)
        self.memory.trips.append(ref)
        return ref

    # -- itineraries ------------------------------------------------------------------------

    @task(1)
    def plan_itinerary(self) -> None:
        """Ask for an itinerary and wait for it like the app does (a long poll of its status)."""
        now = time.monotonic()
        if now - self.last_itinerary_at < SETTINGS.itinerary_every_s:
            self.browse_nearby()  # paced: this traveller browses instead
            return
        if not self._ensure_session():
            return
        trip = self.rng.choice(self.memory.trips) if self.memory.trips else self._create_trip()
        if trip is None:
            return
        self.last_itinerary_at = now
        trip_id, city = trip
        started = time.perf_counter()
        accepted = self._call(routes.SCHEDULE_REQUEST, ids={"trip_id": trip_id}, expect=(202,))
        schedule_id = (accepted or {}).get("schedule_id")
        status, error = "not accepted", None
        if isinstance(schedule_id, str):
            status, error = self._await_itinerary(trip_id, schedule_id, started)
        elapsed_ms = (time.perf_counter() - started) * 1000
        labels = {"city": city, "status": status}
        if error:
            labels["error"] = error[:200]  # why the ai-service gave up, for the report's reader
        # The planner refusing an infeasible trip (e.g. a must-visit closed on every day) is
        # neither an itinerary nor a service failure: it is counted apart (outcome=refused) and
        # left out of the generation-time objective, which judges only generations.
        refused = status == "failed" and error is not None and error.startswith(_REFUSAL_CODES)
        if refused:
            labels["outcome"] = REFUSED
        record_sample("ai_generation", elapsed_ms, ok=status == _DONE, labels=labels)

    def _await_itinerary(
        self, trip_id: str, schedule_id: str, started: float
    ) -> tuple[str, str | None]:
        """Long-poll the schedule until it is done or failed, or the deadline passes: its last
        status and, for a failed one, the error the service gave. The answer comes when the
        itinerary is ready, so the generation time carries no polling interval."""
        ids = {"trip_id": trip_id, "schedule_id": schedule_id}
        status = "pending"
        while (remaining := SETTINGS.ai_deadline_s - (time.perf_counter() - started)) > 0:
            params = {"wait_s": f"{min(routes.LONG_POLL_MAX_S, remaining):.2f}"}
            schedule = self._call(routes.SCHEDULE_WAIT, ids=ids, params=params)
            if schedule is None:
                # A failed request is counted by locust; pause so that a failing route is not
                # asked in a tight loop, and keep waiting until the deadline.
                gevent.sleep(min(_RETRY_PAUSE_S, max(remaining - 0.01, 0.0)))
                continue
            status = str(schedule.get("status", "unknown"))
            if status in (_DONE, _FAILED):
                if status == _DONE:
                    self.memory.itineraries.append((trip_id, schedule_id))
                return status, schedule.get("error")
        return f"timed out ({status})", None

    @task(5)
    def view_itinerary(self) -> None:
        if not self._ensure_session():
            return
        if self.memory.itineraries:
            trip_id, schedule_id = self.rng.choice(self.memory.itineraries)
            self._call(routes.SCHEDULE, ids={"trip_id": trip_id, "schedule_id": schedule_id})
            return
        if not self.memory.trips:
            self.list_trips()
            return
        trip_id, _ = self.rng.choice(self.memory.trips)
        page = self._call(routes.SCHEDULES, ids={"trip_id": trip_id})
        for item in (page or {}).get("items", []):
            if item.get("status") == _DONE and isinstance(item.get("schedule_id"), str):
                self.memory.itineraries.append((trip_id, item["schedule_id"]))

    # -- account ----------------------------------------------------------------------------

    @task(5)
    def view_profile(self) -> None:
        if self._ensure_session():
            self._call(routes.PROFILE)

    @task(1)
    def update_profile(self) -> None:
        if self._ensure_session():
            self._call(routes.PROFILE_UPDATE, body=plans.profile_update(self.rng))

    @task(1)
    def log_in_again(self) -> None:
        """A returning visit: the old session is ended and a new one started. A pooled account
        may be in use by another traveller (another locust process): logging out would end that
        one's session too, so it only logs in again (a second device)."""
        if not self._ensure_session():
            return
        if not self.shared_account:
            self._call(routes.LOGOUT, expect=(204,))
            self.access_token = None
        self._log_in()
