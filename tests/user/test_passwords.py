"""The password hasher: right answers, hashing on its own idle-priority threads, load shedding."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator

import pytest

from services.kit.errors import ServiceUnavailable
from services.user.app import create_app
from services.user.passwords import Passwords
from services.user.settings import UserSettings
from tests.support import serving
from tests.user.conftest import PASSWORD, register_and_login


@pytest.fixture
def passwords() -> Iterator[Passwords]:
    hasher = Passwords(1, 1024, 1, workers=1, nice=7, queue_limit=2)
    yield hasher
    hasher.close()


async def test_hash_and_verify(passwords: Passwords) -> None:
    stored = await passwords.hash("correct horse")
    assert await passwords.verify(stored, "correct horse")
    assert not await passwords.verify(stored, "wrong horse")
    # An unknown account is checked against the decoy and is never a match.
    assert not await passwords.verify(None, "decoy-password-for-unknown-accounts")
    assert not await passwords.verify("not-a-hash", "anything")


def _thread_priority() -> tuple[str, int, int]:
    """The calling thread's name, nice level and scheduling policy."""
    native = threading.get_native_id()
    return (
        threading.current_thread().name,
        os.getpriority(os.PRIO_PROCESS, native),
        os.sched_getscheduler(native),
    )


async def test_hashing_runs_on_an_idle_priority_niced_thread_not_the_event_loop(
    passwords: Passwords,
) -> None:
    [(name, nice, policy)] = [await passwords._run(_thread_priority)]
    _, loop_nice, loop_policy = _thread_priority()
    assert name.startswith("argon2")
    assert nice == min(19, loop_nice + 7)
    assert policy == os.SCHED_IDLE  # any other thread that wakes preempts a hash at once
    # the event loop's thread keeps its own
    assert (loop_nice, loop_policy) == (os.getpriority(os.PRIO_PROCESS, 0), os.SCHED_OTHER)


async def test_hashing_threads_can_keep_the_normal_policy() -> None:
    hasher = Passwords(1, 1024, 1, workers=1, nice=3, queue_limit=2, idle=False)
    try:
        _, nice, policy = await hasher._run(_thread_priority)
    finally:
        hasher.close()
    assert policy == os.SCHED_OTHER
    assert nice == min(19, os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) + 3)


async def test_more_waiting_logins_than_the_limit_are_shed_with_retry_after(
    passwords: Passwords,
) -> None:
    release = threading.Event()
    started = threading.Event()

    def hold() -> None:
        started.set()
        release.wait(10)

    # One hashing and two waiting fill the replica's line (workers 1 + queue 2).
    held = [asyncio.ensure_future(passwords._run(hold)) for _ in range(3)]
    await asyncio.to_thread(started.wait, 10)
    with pytest.raises(ServiceUnavailable) as shed:
        await passwords.verify(None, "x")
    assert shed.value.headers == {"Retry-After": "1"}
    release.set()
    await asyncio.gather(*held)
    # The line drained: logins are served again.
    assert not await passwords.verify(None, "x")


async def test_a_login_burst_beyond_the_line_gets_503_problem_json(
    user_settings: Callable[..., UserSettings],
) -> None:
    # Production hashing cost, one hashing thread and no waiting line: concurrent logins
    # beyond the one being hashed are shed, each with a problem body and Retry-After.
    settings = user_settings(
        argon2_time_cost=2, argon2_memory_kib=19456, password_hash_queue_limit=0
    )
    async with serving(create_app(settings)) as client:
        email, _ = await register_and_login(client)
        body = {"email": email, "password": PASSWORD}
        answers = await asyncio.gather(
            *(client.post("/api/users/login", json=body) for _ in range(6))
        )
    statuses = sorted(r.status_code for r in answers)
    assert 200 in statuses and 503 in statuses, statuses
    assert set(statuses) == {200, 503}
    shed = next(r for r in answers if r.status_code == 503)
    assert shed.headers["content-type"] == "application/problem+json"
    assert shed.headers["retry-after"] == "1"
    assert shed.json()["detail"] == "too many logins at once on this replica; retry shortly"
