"""The password hasher: right answers, hashing on its own niced threads, load shedding."""

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


async def test_hashing_runs_on_a_niced_thread_not_the_event_loop(passwords: Passwords) -> None:
    seen: list[tuple[str, int]] = []

    def probe() -> None:
        seen.append(
            (
                threading.current_thread().name,
                os.getpriority(os.PRIO_PROCESS, threading.get_native_id()),
            )
        )

    await passwords._run(probe)
    loop_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    [(name, nice)] = seen
    assert name.startswith("argon2")
    assert nice == min(19, loop_nice + 7)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == loop_nice


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
