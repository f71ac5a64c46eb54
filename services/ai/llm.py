"""Optional LLM enrichment: free-text wishes → prize weights, and a short narrative per day.

Any OpenAI-compatible endpoint (`AsyncOpenAI(base_url=…)`) or Azure OpenAI (`AsyncAzureOpenAI`
when an API version is set). Every call is bounded by `timeout_s` (SPEC.md: 3 s) and goes
through a failure-rate circuit breaker; a refused, slow, failing or nonsensical answer yields
None and the caller carries on without it, so an itinerary is always produced.

No `response_format` is sent: not every OpenAI-compatible server accepts it, and one that
rejects it would fail every call. The prompts ask for a JSON object and the answers are
validated here; anything else is ignored.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from openai import AsyncAzureOpenAI, AsyncOpenAI
from pydantic import ValidationError

from services.ai.breaker import BreakerState, CircuitBreaker, Permit
from services.ai.planner import Place, WishWeights
from services.ai.settings import AISettings
from services.kit.metrics import ServiceMetrics

log = logging.getLogger(__name__)
T = TypeVar("T")

NARRATIVE_DAYS_PER_CALL = 3  # days narrated per call; calls for longer trips run in parallel
MAX_NARRATIVE_CHARS = 600
MAX_PROMPT_TAGS = 150
_BREAKER_GAUGE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")

WISHES_PROMPT = (
    "You turn a traveller's free-text wishes into weights for an itinerary planner. Answer "
    'with one JSON object and nothing else: {"categories": {"<name>": <weight>}, "tags": '
    '{"<name>": <weight>}}. Use only the category and tag names listed. A weight is a number '
    "from 0 to 5: 1 is neutral, 2 twice as attractive, 0.5 half as attractive, 0 avoid "
    "entirely. Leave out every name the wishes do not bear on."
)
NARRATIVE_PROMPT = (
    "You write a short, warm narrative for each day of a travel itinerary: two or three "
    "sentences, at most 50 words, in English, following the visits in their order. Answer "
    'with one JSON object and nothing else: {"days": ["<day narrative>", ...]} with exactly '
    "one string per day given, in the same order."
)


@dataclass(frozen=True)
class Enrichment(Generic[T]):
    """An enrichment's value, and what happened: ok, invalid (answer ignored), timeout,
    error, rejected (breaker open) or skipped."""

    value: T | None
    outcome: str

    @property
    def endpoint_failed(self) -> bool:
        return self.outcome in ("timeout", "error")


class LLMEnricher:
    def __init__(
        self,
        client: AsyncOpenAI,
        *,
        model: str,
        timeout_s: float,
        breaker: CircuitBreaker,
        metrics: ServiceMetrics,
    ) -> None:
        self.client = client
        self.model = model
        self.timeout_s = timeout_s
        self.breaker = breaker
        self.calls = metrics.counter(
            "ai_llm_calls_total",
            "LLM enrichment calls by purpose and outcome",
            ("purpose", "outcome"),
        )
        self.breaker_state = metrics.gauge(
            "ai_llm_breaker_state", "LLM circuit breaker: 0 closed, 1 half-open, 2 open"
        )
        # Read at each scrape: the state also changes by time alone (open → half-open).
        metrics.on_scrape(lambda: self.breaker_state.set(_BREAKER_GAUGE[self.breaker.state]))

    @classmethod
    def from_settings(cls, settings: AISettings, metrics: ServiceMetrics) -> LLMEnricher | None:
        """The enricher for the configured endpoint, or None when no LLM is configured."""
        if not settings.llm_base_url:
            return None
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "unused"
        client: AsyncOpenAI
        if settings.llm_azure_api_version:
            client = AsyncAzureOpenAI(
                azure_endpoint=settings.llm_base_url,
                api_version=settings.llm_azure_api_version,
                api_key=key,
                timeout=settings.llm_timeout_s,
                max_retries=0,  # a retry would break the time bound; the breaker decides
            )
        else:
            client = AsyncOpenAI(
                base_url=settings.llm_base_url,
                api_key=key,
                timeout=settings.llm_timeout_s,
                max_retries=0,
            )
        breaker = CircuitBreaker(
            failure_rate=settings.llm_breaker_failure_rate,
            window=settings.llm_breaker_window,
            min_calls=settings.llm_breaker_min_calls,
            reset_s=settings.llm_breaker_reset_s,
            on_change=_log_breaker_change,
        )
        return cls(
            client,
            model=settings.llm_model,
            timeout_s=settings.llm_timeout_s,
            breaker=breaker,
            metrics=metrics,
        )

    async def close(self) -> None:
        await self.client.close()

    async def health(self) -> dict[str, Any]:
        """The health component: DEGRADED while the breaker keeps calls away (itineraries are
        still produced, without enrichment), which does not fail readiness."""
        state = self.breaker.state
        return {
            "status": "UP" if state is BreakerState.CLOSED else "DEGRADED",
            "breaker": state.value,
            "failure_rate": round(self.breaker.current_failure_rate(), 3),
        }

    # -- wishes -------------------------------------------------------------------------------

    async def wish_weights(self, wishes: str, places: Sequence[Place]) -> Enrichment[WishWeights]:
        categories = sorted({p.category for p in places})
        tag_counts = Counter(t for p in places for t in p.tags)
        tags = sorted(t for t, _ in tag_counts.most_common(MAX_PROMPT_TAGS))
        prompt = f"Categories: {', '.join(categories)}\nTags: {', '.join(tags)}\nWishes: {wishes}"
        answer = await self._complete("wishes", WISHES_PROMPT, prompt, max_tokens=400)
        if answer.value is None:
            return Enrichment(None, answer.outcome)
        weights = parse_wish_weights(answer.value, set(categories), set(tags))
        return self._validated("wishes", weights)

    # -- narratives ---------------------------------------------------------------------------

    async def day_narratives(
        self, city: str, itinerary: dict[str, Any]
    ) -> Enrichment[list[str | None]]:
        """One narrative per day (None for days whose call failed)."""
        days = itinerary.get("days") or []
        chunks = [
            days[i : i + NARRATIVE_DAYS_PER_CALL]
            for i in range(0, len(days), NARRATIVE_DAYS_PER_CALL)
        ]
        answers = await asyncio.gather(*(self._narrate(city, chunk) for chunk in chunks))
        narratives: list[str | None] = []
        for chunk, answer in zip(chunks, answers, strict=True):
            narratives.extend(answer.value if answer.value is not None else [None] * len(chunk))
        outcomes = {a.outcome for a in answers}
        outcome = "ok" if outcomes == {"ok"} else next(iter(outcomes - {"ok"}))
        return Enrichment(narratives if any(narratives) else None, outcome)

    async def _narrate(self, city: str, days: list[dict[str, Any]]) -> Enrichment[list[str]]:
        lines = [f"City: {city}"]
        for day in days:
            stops = "; ".join(
                f"{v['start'][11:16]} {v['name']} ({v['category']})" for v in day.get("visits", [])
            )
            meals = ", ".join(f"{m['kind']} {m['start'][11:16]}" for m in day.get("meals", []))
            lines.append(
                f"Day {day['day']} ({day['weekday']} {day['date']}): "
                f"{stops or 'a free day'}; meals: {meals or 'none'}"
            )
        answer = await self._complete(
            "narrative", NARRATIVE_PROMPT, "\n".join(lines), max_tokens=120 * len(days)
        )
        if answer.value is None:
            return Enrichment(None, answer.outcome)
        return self._validated("narrative", parse_narratives(answer.value, len(days)))

    # -- the call -----------------------------------------------------------------------------

    def _validated(self, purpose: str, value: T | None) -> Enrichment[T]:
        if value is None:
            self.calls.labels(purpose, "invalid").inc()
            return Enrichment(None, "invalid")
        return Enrichment(value, "ok")

    async def _complete(
        self, purpose: str, system: str, user: str, *, max_tokens: int
    ) -> Enrichment[str]:
        permit = self.breaker.acquire()
        if permit is None:
            self.calls.labels(purpose, "rejected").inc()
            return Enrichment(None, "rejected")
        try:
            # The SDK's timeout bounds each network step; this bounds the whole call.
            async with asyncio.timeout(self.timeout_s):
                response = await self.client.chat.completions.create(
                    model=self.model,
                    messages=[
                        {"role": "system", "content": system},
                        {"role": "user", "content": user},
                    ],
                    temperature=0.3,
                    max_tokens=max_tokens,
                )
            content = response.choices[0].message.content if response.choices else None
        except TimeoutError:
            return self._failed(permit, purpose, "timeout", "timed out")
        except Exception as exc:  # any SDK, transport or shape error: fall back, never fail
            outcome = "timeout" if "timeout" in type(exc).__name__.lower() else "error"
            return self._failed(permit, purpose, outcome, repr(exc))
        # The endpoint answered: that is a success for the breaker even if the text is junk.
        self.breaker.record(permit, failed=False)
        self.calls.labels(purpose, "answered").inc()
        return Enrichment(content, "ok") if content else Enrichment(None, "invalid")

    def _failed(self, permit: Permit, purpose: str, outcome: str, detail: str) -> Enrichment[str]:
        self.breaker.record(permit, failed=True)
        self.calls.labels(purpose, outcome).inc()
        log.warning("LLM %s call failed (%s): %s", purpose, outcome, detail)
        return Enrichment(None, outcome)


def _log_breaker_change(state: BreakerState) -> None:
    log.warning("LLM circuit breaker is now %s", state.value)


def _json_object(text: str) -> dict[str, Any] | None:
    """The JSON object in an answer, tolerating a Markdown code fence around it."""
    stripped = _FENCE.sub("", text.strip())
    try:
        value = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        start, end = stripped.find("{"), stripped.rfind("}")
        if start < 0 or end <= start:
            return None
        try:
            value = orjson.loads(stripped[start : end + 1])
        except orjson.JSONDecodeError:
            return None
    return value if isinstance(value, dict) else None


def parse_wish_weights(text: str, categories: set[str], tags: set[str]) -> WishWeights | None:
    """Validated weights from an answer; names outside the vocabulary are dropped (models
    invent some), anything malformed or out of range voids the whole answer."""
    body = _json_object(text)
    if body is None:
        return None
    picked: dict[str, dict[str, float]] = {}
    for field, known in (("categories", categories), ("tags", tags)):
        raw = body.get(field, {})
        if not isinstance(raw, dict):
            return None
        picked[field] = {}
        for name, weight in raw.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                return None
            if str(name).strip().lower() in known:
                picked[field][str(name).strip().lower()] = float(weight)
    try:
        return WishWeights(categories=picked["categories"], tags=picked["tags"])
    except ValidationError:
        return None


def parse_narratives(text: str, days: int) -> list[str] | None:
    body = _json_object(text)
    if body is None:
        return None
    narratives = body.get("days")
    if not isinstance(narratives, list) or len(narratives) != days:
        return None
    cleaned: list[str] = []
    for narrative in narratives:
        if not isinstance(narrative, str) or not narrative.strip():
            return None
        cleaned.append(" ".join(narrative.split())[:MAX_NARRATIVE_CHARS])
    return cleaned
