"""Runs the planner in a small pool of worker processes, off the event loop.

Why processes and not `asyncio.to_thread`: OR-Tools' SWIG calls may release the GIL, but the
planner's search monitors are Python callbacks (its stall limit and at-solution hook run about
100,000 times a second), so a solving thread takes the GIL back continually and the event loop
starves. Measured here (2 shared cores, 5-day Seoul plan): with the planner in a thread the loop
managed 18-33 ticks a second with stalls up to 430 ms (one or two plans at once); with the
planner in a process it kept ~160 ticks a second with stalls of 15-50 ms. The API, the queue
consumer and the outbox relay share that loop, so the planner gets processes. They are spawned
(not forked: the parent has an event loop, a pool and sockets a fork would copy) and warmed up
once at start.

Only plain data crosses the process boundary: planner models in, a JSON-ready dict or an
error tuple out (the planner's exceptions are not all picklable as they are).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date
from typing import Any

from services.ai.errors import GenerationRefused, GenerationUnavailable
from services.ai.planner import (
    GeoPoint,
    Place,
    PlannerError,
    PlanningError,
    TripRequest,
    plan_itinerary,
)

log = logging.getLogger(__name__)

PlanOutcome = tuple[str, Any, str]  # ("ok", itinerary dict, "") or (kind, code, message)


def run_planner(places: Sequence[Place], trip: TripRequest, time_limit_s: float) -> PlanOutcome:
    """In the worker process: plan, and return the itinerary as JSON-ready data."""
    try:
        itinerary = plan_itinerary(places, trip, time_limit_s=time_limit_s)
    except PlanningError as exc:
        return ("refused", exc.code, str(exc))
    except PlannerError as exc:  # a solver timeout or a plan the checker refused (a bug)
        return ("failed", exc.code, str(exc))
    return ("ok", itinerary.model_dump(mode="json"), "")


def _warm_up() -> int:
    """Import and exercise the planner once, so the first real plan pays no import cost."""
    place = Place(
        id="warm-up",
        name="warm-up",
        category="culture",
        lat=37.57,
        lng=126.98,
        rating=4.0,
        visit_duration_min=60,
    )
    trip = TripRequest(start_date=date(2026, 1, 5), days=1, lodging=GeoPoint(lat=37.57, lng=126.98))
    try:
        plan_itinerary([place], trip, time_limit_s=2.0)
    except PlannerError:
        # OR-Tools is loaded either way, which is all the warm-up is for; a starved CPU that
        # times the solver out must not stop the service from starting.
        log.warning("planner warm-up plan did not finish; the pool starts anyway")
    return multiprocessing.current_process().pid or 0


class PlannerPool:
    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("spawn")
            )
        return self._executor

    async def start(self) -> None:
        """Spawn the processes and load OR-Tools in each (about a second, once)."""
        loop = asyncio.get_running_loop()
        pool = self._pool()
        started = time.perf_counter()
        await asyncio.gather(*(loop.run_in_executor(pool, _warm_up) for _ in range(self.processes)))
        log.info(
            "planner pool ready: %d processes in %.1f s",
            self.processes,
            time.perf_counter() - started,
        )

    async def plan(
        self, places: Sequence[Place], trip: TripRequest, time_limit_s: float
    ) -> dict[str, Any]:
        """The itinerary as JSON-ready data. Raises `GenerationRefused` when the request cannot
        be planned, `GenerationUnavailable` when the planner could not answer."""
        loop = asyncio.get_running_loop()
        try:
            kind, value, message = await loop.run_in_executor(
                self._pool(), run_planner, list(places), trip, time_limit_s
            )
        except BrokenProcessPool as exc:  # a planner process died (OOM kill, segfault)
            log.error("planner process pool broke, starting a new one: %s", exc)
            self._replace_broken_pool()
            raise GenerationUnavailable("a planner process died; retrying") from exc
        if kind == "refused":
            raise GenerationRefused(message, code=str(value))
        if kind != "ok":
            raise GenerationUnavailable(f"the planner failed: {message}", code=str(value))
        return value

    def _replace_broken_pool(self) -> None:
        broken, self._executor = self._executor, None
        if broken is not None:
            broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
