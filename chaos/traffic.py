"""Background traffic during experiments: a few users each reading key routes about once a
second through the front door, every request recorded (`traffic.jsonl`, one
`runs.results.ProbeResult` a line) so probes can judge availability, error rate and the
longest wait over any window, and the run's results can show what the users saw.

Deliberately small and bounded: 2 shared cores run the deployment too, and what matters here is
whether requests keep succeeding while faults are injected, not throughput.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from chaos.accounts import Account, account, forget_token
from runs.jsonl import append_jsonl, read_jsonl
from runs.results import ProbeResult
from scenarios.load.probe import ProbeTarget, probe_once, probe_once_sync

TRAFFIC_FILE = "traffic.jsonl"


@dataclass(frozen=True)
class Route:
    name: str
    path: str


# Read routes of every service that answers GETs cheaply; the nearby search and the city list
# go through the L1/L2 cache, profile and trip list through PostgreSQL.
KEY_ROUTES: tuple[Route, ...] = (
    Route("locations:nearby", "/api/locations/places/nearby?lat=37.5665&lng=126.978&radius_m=2000"),
    Route("locations:cities", "/api/locations/cities"),
    Route("users:me", "/api/users/me"),
    Route("trips:list", "/api/trips?size=5"),
)


def request_once(
    client: httpx.Client, route: Route, headers: dict[str, str] | None = None
) -> ProbeResult:
    """One GET of `route`, timed; ok for 2xx/3xx (the steady prober's own probe)."""
    return probe_once_sync(
        client, ProbeTarget(name=route.name, url=route.path, headers=headers or {})
    )


def read_traffic(
    run_dir: Path, since: datetime, until: datetime | None = None
) -> list[ProbeResult]:
    """Recorded background requests started within [since, until]."""
    records = read_jsonl(run_dir / TRAFFIC_FILE, ProbeResult)
    return [r for r in records if r.timestamp >= since and (until is None or r.timestamp <= until)]


class BackgroundTraffic:
    """`users` accounts, each requesting the next key route every `interval_s`, in a thread."""

    def __init__(
        self,
        base_url: str,
        run_dir: Path,
        *,
        users: int = 3,
        interval_s: float = 1.0,
        timeout_s: float = 10.0,
        max_duration_s: float = 3600.0,
        routes: Sequence[Route] = KEY_ROUTES,
    ) -> None:
        self.base_url = base_url
        self.run_dir = run_dir
        self.users = users
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.max_duration_s = max_duration_s  # a forgotten stop() still ends the loop
        self.routes = tuple(routes)
        self.out = run_dir / TRAFFIC_FILE
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-traffic", daemon=True)
        self._error: BaseException | None = None
        self.started_at: datetime | None = None

    def start(self) -> BackgroundTraffic:
        # Accounts are made before the loop starts, so a deployment that is not serving fails
        # here, loudly, instead of as a stream of failed requests.
        self._accounts = [
            account(self.base_url, self.run_dir, f"traffic-{i + 1}") for i in range(self.users)
        ]
        self.started_at = datetime.now(UTC)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.timeout_s + 5)
        if self._error is not None:
            raise RuntimeError("background traffic failed") from self._error

    def _run(self) -> None:
        try:
            asyncio.run(self._loop())
        except BaseException as exc:  # surfaced by stop(): a thread cannot raise to its caller
            self._error = exc

    async def _loop(self) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout_s) as client:
            await asyncio.gather(
                *(self._user(client, index, user) for index, user in enumerate(self._accounts))
            )

    async def _user(self, client: httpx.AsyncClient, index: int, user: Account) -> None:
        origin = time.monotonic()
        tick = 0
        # Users start staggered over one interval so requests spread evenly.
        await asyncio.sleep(self.interval_s * index / max(1, self.users))
        while not self._stop.is_set() and time.monotonic() - origin < self.max_duration_s:
            route = self.routes[(tick + index) % len(self.routes)]
            result = await self._request(client, route, user)
            if result.status == 401:
                forget_token(self.run_dir, user.name)
                user = await asyncio.to_thread(account, self.base_url, self.run_dir, user.name)
            append_jsonl(self.out, result)
            tick += 1
            due = origin + tick * self.interval_s + self.interval_s * index / max(1, self.users)
            # Sleep in short slices so stop() takes effect within 50 ms.
            while not self._stop.is_set() and time.monotonic() < due:  # noqa: ASYNC110
                await asyncio.sleep(min(0.05, max(0.0, due - time.monotonic())))

    async def _request(self, client: httpx.AsyncClient, route: Route, user: Account) -> ProbeResult:
        target = ProbeTarget(name=route.name, url=route.path, headers=dict(user.headers))
        return await probe_once(client, target)
