"""How a generation can fail, classified by what should happen next.

- `GenerationRefused`: the request itself cannot be planned (a must-visit closed on every trip
  day, an unknown city). Final: the schedule fails with the reason, the message is completed;
  the preview route answers 422.
- `GenerationUnavailable`: something the generation depends on is down (location-service, the
  database, a planner process). Retried: the message is abandoned and redelivered; the preview
  route answers 503 with Retry-After.
"""

from __future__ import annotations


class GenerationError(Exception):
    code = "generation_error"

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if code is not None:
            self.code = code


class GenerationRefused(GenerationError):
    code = "planning_error"


class GenerationUnavailable(GenerationError):
    code = "unavailable"


class PreviewTooLarge(GenerationRefused):
    """The request is too big for the synchronous route; the queue route takes it."""

    code = "too_large_for_preview"
