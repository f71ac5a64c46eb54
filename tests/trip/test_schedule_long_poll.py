"""`GET …/schedules/{id}?wait_s=N`: the answer waits for the schedule to finish, woken by
PostgreSQL notifications from whichever replica moved it (services.trip.schedule_watch)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from psycopg import AsyncConnection

from services.kit.queue import QueuePort
from services.trip.repository import SCHEDULE_CHANNEL
from services.trip.schedule_watch import ScheduleWatch
from services.trip.schemas import ScheduleStatus
from simulation.backing.processes import free_port
from tests.trip.conftest import TripService, eventually
from tests.trip.test_schedules_and_events import ITINERARY, publish_event, request_schedule

pytestmark = pytest.mark.integration
SCHEDULE_ROUTE = "/api/trips/{trip_id}/schedules/{schedule_id}"


async def _trip_and_schedule(service: TripService) -> tuple[dict[str, str], str, str]:
    _, auth = service.user()
    trip = await service.create_trip(auth)
    return auth, trip["id"], await request_schedule(service, trip["id"], auth)


def _watch(service: TripService) -> ScheduleWatch:
    return service.app.state.trip_resources.schedules


async def _get(
    service: TripService, auth: dict[str, str], trip_id: str, schedule_id: str, wait_s: Any
) -> tuple[int, dict[str, Any], float]:
    started = time.perf_counter()
    r = await service.client.get(
        f"/api/trips/{trip_id}/schedules/{schedule_id}", params={"wait_s": wait_s}, headers=auth
    )
    return r.status_code, r.json(), time.perf_counter() - started


async def _listening(watch: ScheduleWatch) -> None:
    async def listening() -> bool:
        return watch.listening

    await eventually(listening)


async def test_a_long_poll_answers_when_the_schedule_is_done_not_when_it_starts(
    service: TripService, queue: QueuePort
) -> None:
    auth, trip_id, schedule_id = await _trip_and_schedule(service)
    watch = _watch(service)
    await _listening(watch)
    poll = asyncio.create_task(_get(service, auth, trip_id, schedule_id, 8))

    async def waiting() -> bool:
        return watch.waiting == 1

    await eventually(waiting)
    gauge = service.app.state.active_connections
    assert gauge._value.get() == 0, "a waiting long poll is not an active connection"

    await publish_event(queue, "schedule.running", trip_id, schedule_id)
    await asyncio.sleep(0.5)
    assert not poll.done(), "running is not finished: the poll keeps waiting"
    sent = time.perf_counter()
    await publish_event(queue, "schedule.ready", trip_id, schedule_id, itinerary=ITINERARY)
    status, body, took = await asyncio.wait_for(poll, 8)
    assert status == 200 and body["status"] == "done" and body["itinerary"] == ITINERARY
    assert time.perf_counter() - sent < 2.0 and took < 7.0  # woken, not timed out
    assert watch.waiting == 0


async def test_a_long_poll_ends_at_its_wait_with_the_status_as_it_is(
    service: TripService,
) -> None:
    auth, trip_id, schedule_id = await _trip_and_schedule(service)
    latency = service.app.state.metrics.latency.labels(SCHEDULE_ROUTE, "GET")
    before = latency._sum.get()
    status, body, took = await _get(service, auth, trip_id, schedule_id, 0.6)
    assert status == 200 and body["status"] == "pending"
    assert 0.6 <= took < 3.0
    # The service's latency is its work (two reads), not the wait: canaries and SLA lines
    # compare http_request_duration_seconds with milliseconds.
    assert latency._sum.get() - before < 0.3


async def test_a_finished_schedule_is_answered_at_once(
    service: TripService, queue: QueuePort
) -> None:
    auth, trip_id, schedule_id = await _trip_and_schedule(service)
    await publish_event(queue, "schedule.failed", trip_id, schedule_id, error="no places open")

    async def failed() -> bool:
        return (await _get(service, auth, trip_id, schedule_id, 0))[1]["status"] == "failed"

    await eventually(failed)
    status, body, took = await _get(service, auth, trip_id, schedule_id, 8)
    assert status == 200 and body["error"] == "no places open" and took < 1.0


@pytest.mark.parametrize("wait_s", [-1, 8.5, 60, "nan", "inf", "soon"])
async def test_a_wait_outside_zero_to_eight_seconds_is_a_422_naming_wait_s(
    service: TripService, wait_s: Any
) -> None:
    auth, trip_id, schedule_id = await _trip_and_schedule(service)
    status, body, took = await _get(service, auth, trip_id, schedule_id, wait_s)
    assert status == 422 and took < 1.0
    assert any(e["field"].endswith("wait_s") for e in body["errors"]), body


async def test_a_stranger_waits_for_nothing(service: TripService) -> None:
    _, trip_id, schedule_id = await _trip_and_schedule(service)
    _, stranger = service.user()
    status, _, took = await _get(service, stranger, trip_id, schedule_id, 8)
    assert status == 404 and took < 1.0


async def test_another_replicas_change_wakes_this_one_and_a_stale_event_does_not(
    service: TripService,
) -> None:
    """A second watch on the same database stands for another replica: the schedule moves in
    this app's repository, the other replica's waiter is woken."""
    *_, schedule_id = await _trip_and_schedule(service)
    repo = service.app.state.trip_resources.trips
    other = ScheduleWatch(service.app.state.trip_resources.settings.database_url)
    async with other.running():
        await _listening(other)
        with other.watch(schedule_id) as changed:
            assert await repo.advance_schedule(schedule_id, ScheduleStatus.DONE, itinerary={})
            await asyncio.wait_for(changed.wait(), 3)
            changed.clear()
            # Already done: nothing moves, nothing is announced.
            assert not await repo.advance_schedule(schedule_id, ScheduleStatus.RUNNING)
            await asyncio.sleep(0.5)
            assert not changed.is_set()


async def test_a_lost_listening_connection_wakes_every_waiter_and_listens_again(
    service: TripService,
) -> None:
    dsn = service.app.state.trip_resources.settings.database_url
    watch = ScheduleWatch(dsn, reconnect_s=0.2)
    async with watch.running():
        await _listening(watch)
        with watch.watch("a") as a, watch.watch("b") as b:
            async with await AsyncConnection.connect(dsn, autocommit=True) as admin:
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE query = %s AND pid <> pg_backend_pid()",
                    (f"LISTEN {SCHEDULE_CHANNEL}",),
                )
            await asyncio.wait_for(asyncio.gather(a.wait(), b.wait()), 3)
        await _listening(watch)


async def test_while_nobody_listens_a_waiter_rereads_every_recheck(
    service: TripService,
) -> None:
    unreachable = f"postgresql://tripgen@127.0.0.1:{free_port()}/tripgen?connect_timeout=1"
    watch = ScheduleWatch(unreachable, recheck_s=0.2)
    async with watch.running():
        with watch.watch("a") as changed:
            started = time.perf_counter()
            await watch.changed(changed, 5.0)
            assert time.perf_counter() - started < 1.0 and not watch.listening


async def test_stopping_wakes_every_waiter(service: TripService) -> None:
    watch = ScheduleWatch(service.app.state.trip_resources.settings.database_url)
    with watch.watch("a") as changed:
        async with watch.running():
            await _listening(watch)
        assert changed.is_set() and not watch.listening


async def test_an_unexpected_error_does_not_end_listening(
    service: TripService, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = ScheduleWatch(service.app.state.trip_resources.settings.database_url, reconnect_s=0.1)
    real = ScheduleWatch._listen_once
    failures = [RuntimeError("a bug in a notification handler")]

    async def failing_once(self: ScheduleWatch) -> None:
        if failures:
            raise failures.pop()
        await real(self)

    monkeypatch.setattr(ScheduleWatch, "_listen_once", failing_once)
    async with watch.running():
        await _listening(watch)  # the loop went on after the error
        assert not failures
