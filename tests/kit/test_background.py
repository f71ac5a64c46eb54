"""Stopping background loops whose cancellation a client library swallowed (redis-py does)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from services.kit import background


async def test_a_loop_that_swallows_its_cancellation_is_still_stopped() -> None:
    swallowed = 0

    async def stubborn_loop() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:  # what a lost cancellation looks like to the loop
                swallowed += 1
                if swallowed > 3:
                    raise

    task = asyncio.create_task(stubborn_loop())
    await asyncio.sleep(0.02)
    await asyncio.wait_for(background.stop(task), timeout=5)
    assert task.cancelled()
    assert swallowed == 4


async def test_a_task_that_will_not_stop_is_given_up_on_after_the_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    released = False

    async def immortal() -> None:
        while not released:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(immortal(), name="immortal")
    await asyncio.sleep(0.02)  # running (a task cancelled before its first step just ends)
    with caplog.at_level(logging.ERROR):
        await background.stop(task, timeout_s=0.2)
    assert not task.done()
    assert "immortal did not stop" in caplog.text
    released = True
    await task


async def test_the_failure_of_a_task_that_had_ended_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> None:
        raise RuntimeError("bug")

    task = asyncio.create_task(broken(), name="broken")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR):
        await background.stop(task)
    assert "broken had failed" in caplog.text


async def test_several_tasks_are_stopped_together() -> None:
    async def loop() -> None:
        await asyncio.Event().wait()  # never set: only a cancellation ends it

    tasks = [asyncio.create_task(loop(), name=f"loop-{n}") for n in range(3)]
    await asyncio.sleep(0.02)
    await asyncio.wait_for(background.stop_tasks(tasks), timeout=5)
    assert all(task.cancelled() for task in tasks)
