"""`queue_length`: the ai HPA's custom metric (SPEC.md › Autoscaling, ai: queue_length > 10).

Refreshed in the background from the queue port rather than at scrape time, so a slow broker
never slows `/metrics`; a failed read keeps the last value (and says so in the log once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from services.kit import background
from services.kit.metrics import ServiceMetrics
from services.kit.queue import AI_SCHEDULE_QUEUE, QueuePort

log = logging.getLogger(__name__)


class QueueLengthGauge:
    def __init__(self, queue: QueuePort, metrics: ServiceMetrics, interval_s: float) -> None:
        self.queue = queue
        self.interval_s = interval_s
        self.length = metrics.gauge(
            "queue_length", f"Messages waiting or in flight in {AI_SCHEDULE_QUEUE}"
        )
        self.dead_letters = metrics.gauge(
            "queue_dead_letters", f"Messages in the dead-letter queue of {AI_SCHEDULE_QUEUE}"
        )
        self._failing = False

    async def refresh(self) -> None:
        try:
            length = await self.queue.queue_length(AI_SCHEDULE_QUEUE)
            dead = await self.queue.dead_letter_count(AI_SCHEDULE_QUEUE)
        except Exception as exc:  # any broker trouble: a metric must never end the loop
            if not self._failing:
                log.warning("queue_length not refreshed: %s", exc)
            self._failing = True
            return
        self._failing = False
        self.length.set(length)
        self.dead_letters.set(dead)

    async def run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.interval_s)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[QueueLengthGauge]:
        task = asyncio.create_task(self.run(), name="ai-queue-length")
        try:
            yield self
        finally:
            await background.stop(task)
