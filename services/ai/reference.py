"""The AI reference data the planner input uses, cached in process (it changes with a data load,
not with traffic): review averages per place and category weights per month."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from psycopg import Error as DatabaseError
from psycopg_pool import PoolTimeout

from services.ai.errors import GenerationUnavailable
from services.ai.repository import ReferenceRepository


@dataclass(frozen=True)
class ReferenceSnapshot:
    reviews: dict[str, tuple[float, int]] = field(default_factory=dict)  # place → (avg, n)
    seasons: dict[int, dict[str, float]] = field(default_factory=dict)  # month → weights

    def seasonal_weights(self, month: int) -> dict[str, float] | None:
        """The month's category weights, or None to let the planner use its built-in table."""
        return self.seasons.get(month) or None


class ReferenceData:
    def __init__(self, repo: ReferenceRepository, ttl_s: float) -> None:
        self.repo = repo
        self.ttl_s = ttl_s
        self._snapshot: ReferenceSnapshot | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def snapshot(self) -> ReferenceSnapshot:
        if self._snapshot is not None and time.monotonic() < self._expires:
            return self._snapshot
        async with self._lock:  # one reload at a time; the others wait for its result
            if self._snapshot is not None and time.monotonic() < self._expires:
                return self._snapshot
            try:
                reviews = await self.repo.review_stats()
                seasons = await self.repo.seasonal_weights()
            except (DatabaseError, PoolTimeout) as exc:
                if self._snapshot is not None:  # stale reference data beats no itinerary
                    return self._snapshot
                raise GenerationUnavailable("the database is unavailable") from exc
            self._snapshot = ReferenceSnapshot(reviews, seasons)
            self._expires = time.monotonic() + self.ttl_s
            return self._snapshot
