"""Users' traffic during a rollout: a steady rate of read requests to the rolled-out services
through nginx, every answer recorded with the replica that gave it (nginx's `X-Upstream`), so
the report counts the errors users saw per version — not only what Prometheus saw.

Users are accounts of their own (the API limits each user, and each client address, to 100
requests a minute): each user connects from a loopback address of its own (127.0.1.N, which
nginx passes on as the client's), registers and logs in there, and sends at most
`PER_ACCOUNT_RPS`, so no request is refused for the limit. A request fails when it gets no
answer, a 5xx, or a status its route never gives; 429s are counted apart.
"""

from __future__ import annotations

import asyncio
import math
import random
import secrets
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpx

PER_ACCOUNT_RPS = 1.2  # 72 a minute: under the 100/min limit with room for a login
UPSTREAM_HEADER = "X-Upstream"
# The route sequence is random but the same every run (a rehearsal repeats itself).
ROUTE_SEED = 7


@dataclass(frozen=True)
class TrafficRoute:
    service: str
    name: str  # the route template, as the services' metrics name it
    path: str
    expected: frozenset[int] = frozenset({200})


def routes_for(service: str) -> list[TrafficRoute]:
    """Read routes of `service` that every user may call (idempotent, cheap)."""
    if service == "user":
        return [TrafficRoute("user", "/api/users/me", "/api/users/me")]
    if service == "trip":
        return [TrafficRoute("trip", "/api/trips", "/api/trips")]
    if service == "location":
        return [
            TrafficRoute("location", "/api/locations/cities", "/api/locations/cities"),
            TrafficRoute(
                "location",
                "/api/locations/places/nearby",
                "/api/locations/places/nearby?lat=37.5665&lng=126.978&radius_m=2000",
            ),
        ]
    if service == "ai":
        # An unknown schedule: answered 404 from PostgreSQL, no planning (cheap, read only).
        return [
            TrafficRoute(
                "ai",
                "/api/ai/schedules/{schedule_id}",
                "/api/ai/schedules/{uuid}",
                frozenset({404}),
            )
        ]
    raise ValueError(f"no traffic route for service {service!r}")


def route_order(routes: Sequence[TrafficRoute], seed: int = ROUTE_SEED) -> Iterator[TrafficRoute]:
    """The routes the users' requests take, one after another: at random, never in turn (see
    `Traffic._send_steadily`)."""
    pick = random.Random(seed)
    while True:
        yield pick.choice(routes)


class _Replica(Protocol):
    @property
    def service(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...


@dataclass(frozen=True)
class Answer:
    at: float  # unix seconds when the request was sent
    service: str
    route: str
    status: int | None
    latency_ms: float
    upstream_port: int | None
    error: str | None
    ok: bool
    retried: bool = False  # sent again after nginx closed an idle keep-alive connection

    @property
    def limited(self) -> bool:
        return self.status == 429


@dataclass
class _User:
    client: httpx.AsyncClient
    token: str


class TrafficError(RuntimeError):
    """The users could not be set up (the deployment is not serving)."""


def _address(index: int) -> str:
    return f"127.0.{1 + index // 250}.{index % 250 + 1}"


def user_client(base_url: str, index: int, timeout_s: float) -> httpx.AsyncClient:
    """A client connecting from its own loopback address (a user of its own to nginx)."""
    transport = httpx.AsyncHTTPTransport(
        local_address=_address(index),
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
    )
    return httpx.AsyncClient(base_url=base_url, timeout=timeout_s, transport=transport)


async def _user(client: httpx.AsyncClient, index: int) -> _User:
    headers: dict[str, str] = {}
    email = f"rollout-{index}-{secrets.token_hex(5)}@example.com"
    password = f"Rollout-{secrets.token_hex(8)}-9"
    made = await client.post(
        "/api/users/register",
        json={"email": email, "password": password, "name": f"rollout-{index}"},
        headers=headers,
    )
    if made.status_code != 201:
        raise TrafficError(f"register {email}: HTTP {made.status_code} {made.text[:200]}")
    login = await client.post(
        "/api/users/login", json={"email": email, "password": password}, headers=headers
    )
    if login.status_code != 200:
        raise TrafficError(f"login {email}: HTTP {login.status_code} {login.text[:200]}")
    return _User(client, str(login.json()["access_token"]))


def _port(header: str | None) -> int | None:
    if not header:
        return None
    last = header.split(",")[-1].strip()
    try:
        return int(last.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None


@dataclass
class Traffic:
    """`rate_rps` requests a second over `routes`, from a background thread, until `stop`."""

    base_url: str
    routes: Sequence[TrafficRoute]
    rate_rps: float
    timeout_s: float = 10.0
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _ready: threading.Event = field(default_factory=threading.Event)
    _go: threading.Event = field(default_factory=threading.Event)
    _error: BaseException | None = None
    _thread: threading.Thread | None = None
    setup_s: float = 0.0
    users_ready_at: float = 0.0
    _began: float = 0.0

    def prepare(self) -> Traffic:
        """Register and log the users in on the traffic's thread; nothing is sent until
        `start` (so users can be made while the new version starts)."""
        self._began = time.monotonic()
        self._thread = threading.Thread(target=self._main, name="rollout-traffic", daemon=True)
        self._thread.start()
        return self

    def start(self, timeout_s: float = 120.0) -> Traffic:
        if self._thread is None:
            self.prepare()
        if not self._ready.wait(timeout_s) or self._error is not None:
            self.stop()
            raise TrafficError(f"users not ready: {self._error or 'timed out'}")
        self.setup_s = self.users_ready_at - self._began
        self._go.set()
        return self

    def stop(self) -> list[Answer]:
        self._stop.set()
        self._go.set()
        if self._thread is not None:
            self._thread.join(self.timeout_s + 5)
        return list(self.answers)

    def __enter__(self) -> Traffic:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # surfaced by start()/the controller
            self._error = exc
            self._ready.set()

    async def _run(self) -> None:
        count = max(1, math.ceil(self.rate_rps / PER_ACCOUNT_RPS))
        clients = [user_client(self.base_url, i, self.timeout_s) for i in range(count)]
        try:
            users: list[_User] = []
            for first in range(0, count, 8):  # a few at a time: argon2 is CPU-heavy
                batch = range(first, min(first + 8, count))
                users += await asyncio.gather(*(_user(clients[i], i) for i in batch))
            self.users_ready_at = time.monotonic()
            self._ready.set()
            await asyncio.to_thread(self._go.wait)
            if not self._stop.is_set():
                await self._send_steadily(users)
        finally:
            for client in clients:
                await client.aclose()

    async def _send_steadily(self, users: list[_User]) -> None:
        """One request every 1/rate seconds on a fixed clock (a slow answer does not delay the
        next), users taken in turn and routes at random.

        Not routes in turn: nginx's weighted round robin is a fixed cycle too, and two routes
        in turn against a cycle of even length send the new version one route only (at 10 %
        and 50 % a faulty route could go unseen until 100 %)."""
        interval = 1.0 / self.rate_rps
        began = time.monotonic()
        pending: set[asyncio.Task[None]] = set()
        order = route_order(self.routes)
        tick = 0
        while not self._stop.is_set():
            due = began + tick * interval
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            user = users[tick % len(users)]
            route = next(order)
            task = asyncio.create_task(self._one(user, route))
            pending.add(task)
            task.add_done_callback(pending.discard)
            tick += 1
        if pending:
            await asyncio.wait(pending, timeout=self.timeout_s + 1)

    async def _one(self, user: _User, route: TrafficRoute) -> None:
        path = route.path.replace("{uuid}", str(uuid.uuid4()))
        headers = {"Authorization": f"Bearer {user.token}"}
        at = time.time()
        started = time.perf_counter()
        status: int | None = None
        upstream: int | None = None
        error: str | None = None
        retried = False
        try:
            try:
                response = await user.client.get(path, headers=headers)
            except (httpx.RemoteProtocolError, httpx.ReadError):
                # An idle keep-alive connection closed by an nginx worker finishing at a reload
                # before the request reached it (seen as a close or, racing it, a reset): an
                # idempotent request is sent again, as browsers and HTTP clients do (RFC 9110
                # § 9.2.2). Only nginx holds this connection, and a replica that fails answers
                # through it as a 502, so no replica's failure is hidden. Counted in the report.
                retried = True
                response = await user.client.get(path, headers=headers)
            status = response.status_code
            upstream = _port(response.headers.get(UPSTREAM_HEADER))
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}".strip()
        latency = (time.perf_counter() - started) * 1000
        ok = error is None and status is not None and (status in route.expected or status == 429)
        self.answers.append(
            Answer(at, route.service, route.name, status, latency, upstream, error, ok, retried)
        )


class PreviewError(RuntimeError):
    """A new replica, asked directly before it gets any user, answered a route wrongly."""


def preview(
    base_url: str,
    replicas: Sequence[_Replica],
    routes: Sequence[TrafficRoute],
    per_route: int,
    *,
    strict: bool = True,
) -> int:
    """Each new replica asked each of its service's routes `per_route` times directly (past
    nginx, as Argo Rollouts' preview Service would be), with a user of its own: a wrong answer
    stops the rollout before users see the version, and the replica's caches and connection
    pool are warm when users arrive. Not `strict` (a canary, which is judged on its users'
    traffic only, as Argo Rollouts judges it): wrong answers are counted, not fatal. Returns
    the number of wrong answers."""
    return asyncio.run(_preview(base_url, replicas, routes, per_route, strict))


async def _preview(
    base_url: str,
    replicas: Sequence[_Replica],
    routes: Sequence[TrafficRoute],
    per_route: int,
    strict: bool,
) -> int:
    wrong = 0
    for number, replica in enumerate(replicas):
        # A user (and address) per replica: the warm-up stays under the per-user rate limit.
        async with user_client(base_url, 4000 + number, 10) as client:
            user = await _user(client, 4000 + number)
            mine = [r for r in routes if r.service == replica.service]
            try:
                await _ask(client, user, replica, mine, per_route)
            except PreviewError:
                if strict:
                    raise
                wrong += 1
    return wrong


async def _ask(
    client: httpx.AsyncClient,
    user: _User,
    replica: _Replica,
    mine: Sequence[TrafficRoute],
    per_route: int,
) -> None:
    headers = {"Authorization": f"Bearer {user.token}"}
    for route in list(mine) * per_route:
        url = f"{replica.url}{route.path.replace('{uuid}', str(uuid.uuid4()))}"
        try:
            answer = await client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise PreviewError(f"{replica.name} {route.name}: {exc}") from exc
        if answer.status_code not in route.expected:
            raise PreviewError(
                f"{replica.name} {route.name}: HTTP {answer.status_code} {answer.text[:200]}"
            )
