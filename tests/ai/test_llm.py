"""LLM enrichment against a local OpenAI-compatible server: applied when healthy, a timeout or
an open circuit breaker falls back to the planner alone, and an itinerary is always produced."""

from __future__ import annotations

import time
from typing import Any

import httpx

from chaos.fake_llm import ChaosLLM
from services.ai.breaker import BreakerState
from tests.ai.conftest import SEOUL_CITY_HALL, AIService, schedule_request

WISHES = "great street food, and quiet places"


def preview_body(lodging_shift: float = 0.0, **overrides: Any) -> dict[str, Any]:
    """A one-day preview; a different `lodging_shift` makes a different request (no cache)."""
    lodging = {"lat": SEOUL_CITY_HALL["lat"] + lodging_shift, "lng": SEOUL_CITY_HALL["lng"]}
    return schedule_request(
        **{"end_date": "2026-04-01", "wishes": WISHES, "lodging": lodging, **overrides}
    )


async def preview(service: AIService, body: dict[str, Any]) -> dict[str, Any]:
    _, headers = service.user()
    r = await service.client.post("/api/ai/schedules/preview", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def llm_settings(fake: ChaosLLM, **overrides: Any) -> dict[str, Any]:
    return {"llm_base_url": fake.base_url, "llm_api_key": "test-key", **overrides}


def breaker_state(service: AIService) -> BreakerState:
    return service.app.state.ai_resources.llm.breaker.state


async def test_a_healthy_llm_turns_wishes_into_weights_and_narrates_each_day(
    start_ai: Any, fake_llm: ChaosLLM
) -> None:
    async with start_ai(**llm_settings(fake_llm)) as service:
        result = await preview(service, preview_body(end_date="2026-04-02"))

        document = result["itinerary"]
        assert document["enrichment"] == {"wishes": "llm", "narrative": "llm"}
        # The invented category of the answer is dropped; the real one is kept.
        assert document["wish_weights"] == {"categories": {"food": 2.5}, "tags": {}}
        assert [d["narrative"] for d in document["days"]] == [
            "Day 1: a lovely day of sights and food.",
            "Day 2: a lovely day of sights and food.",
        ]
        assert fake_llm.purposes == ["wishes", "narrative"]
        assert service.metric("ai_llm_calls_total", purpose="wishes", outcome="answered") == 1


async def test_the_worker_stores_the_enriched_itinerary(start_ai: Any, fake_llm: ChaosLLM) -> None:
    async with start_ai(**llm_settings(fake_llm)) as service:
        body = await service.request_schedule(wishes=WISHES)
        schedule = await service.wait_for(body["schedule_id"])
        assert schedule["status"] == "done"
        assert schedule["itinerary"]["enrichment"] == {"wishes": "llm", "narrative": "llm"}
        assert all(d["narrative"] for d in schedule["itinerary"]["days"])


async def test_azure_openai_is_used_when_an_api_version_is_set(
    start_ai: Any, fake_llm: ChaosLLM
) -> None:
    settings = {
        "llm_base_url": fake_llm.azure_endpoint,
        "llm_api_key": "azure-key",
        "llm_azure_api_version": "2024-10-21",
        "llm_model": "itinerary-gpt",  # the deployment name
    }
    async with start_ai(**settings) as service:
        result = await preview(service, preview_body())
        assert result["itinerary"]["enrichment"]["wishes"] == "llm"
        assert set(fake_llm.paths) == {"/openai/deployments/itinerary-gpt/chat/completions"}


async def test_a_slow_llm_times_out_and_the_itinerary_comes_without_it_within_3_s(
    start_ai: Any, fake_llm: ChaosLLM
) -> None:
    fake_llm.delay_s = 10.0
    async with start_ai(**llm_settings(fake_llm)) as service:  # the default 3 s timeout
        started = time.perf_counter()
        result = await preview(service, preview_body())
        elapsed = time.perf_counter() - started

        document = result["itinerary"]
        assert document["days"][0]["visits"]
        # Keywords stand in for the LLM's weights; after one failed call in a generation the
        # narrative is not even attempted, so the LLM adds at most one timeout.
        assert document["enrichment"] == {"wishes": "keywords", "narrative": "none"}
        assert document["wish_weights"]["categories"].get("food") == 1.5
        assert fake_llm.calls == 1
        assert 3.0 <= elapsed < 3.0 + 2.0, elapsed  # the timeout, plus planning
        assert service.metric("ai_llm_calls_total", purpose="wishes", outcome="timeout") == 1

        # A result without its enrichment is not cached: once the LLM is back, the same
        # request gets the full itinerary.
        fake_llm.healthy()
        again = await preview(service, preview_body())
        assert again["cached"] is False
        assert again["itinerary"]["enrichment"] == {"wishes": "llm", "narrative": "llm"}


async def test_garbage_answers_are_ignored(start_ai: Any, fake_llm: ChaosLLM) -> None:
    fake_llm.wishes_answer = '{"categories": {"food": 99}}'  # out of the 0..5 range
    fake_llm.narrative_answer = "Here is a lovely narrative! Day 1 is great."
    async with start_ai(**llm_settings(fake_llm)) as service:
        result = await preview(service, preview_body())
        document = result["itinerary"]
        assert document["enrichment"] == {"wishes": "keywords", "narrative": "none"}
        assert document["days"][0]["narrative"] is None
        assert document["days"][0]["visits"]
        assert service.metric("ai_llm_calls_total", purpose="wishes", outcome="invalid") == 1
        # The endpoint did answer: junk is not an outage, the breaker stays closed.
        assert breaker_state(service) is BreakerState.CLOSED


async def test_failing_llm_opens_the_breaker_then_half_opens_after_the_reset_time(
    start_ai: Any, fake_llm: ChaosLLM
) -> None:
    settings = llm_settings(
        fake_llm,
        llm_timeout_s=1.0,
        llm_breaker_window=6,
        llm_breaker_min_calls=6,
        llm_breaker_reset_s=60.0,  # SPEC.md's 5 min, shortened (and passed by moving the clock)
    )
    fake_llm.failure_rate = 2 / 3  # two calls of every three fail
    async with start_ai(**settings) as service:
        shift = 0.0
        for _ in range(12):
            shift += 0.001
            result = await preview(service, preview_body(shift))
            assert result["itinerary"]["days"][0]["visits"]  # always an itinerary
            if breaker_state(service) is BreakerState.OPEN:
                break
        assert breaker_state(service) is BreakerState.OPEN
        calls_when_opened = fake_llm.calls
        assert calls_when_opened >= 6

        # Open: no call reaches the LLM, the planner alone answers at once.
        for _ in range(3):
            shift += 0.001
            started = time.perf_counter()
            result = await preview(service, preview_body(shift))
            assert time.perf_counter() - started < 2.0
            assert result["itinerary"]["enrichment"] == {"wishes": "keywords", "narrative": "none"}
        assert fake_llm.calls == calls_when_opened
        assert service.metric("ai_llm_calls_total", purpose="wishes", outcome="rejected") == 3
        metrics = (await service.client.get("/metrics")).text
        assert "\nai_llm_breaker_state 2.0\n" in metrics
        health = (await service.client.get("/actuator/health")).json()
        assert health["status"] == "UP"  # the service still plans: readiness holds
        assert health["components"]["llm"]["status"] == "DEGRADED"
        assert health["components"]["llm"]["breaker"] == "open"

        # After the reset time one trial call goes through; it succeeds and the breaker closes.
        fake_llm.healthy()
        breaker = service.app.state.ai_resources.llm.breaker
        real_clock = breaker.clock
        breaker.clock = lambda: real_clock() + 61.0
        assert breaker_state(service) is BreakerState.HALF_OPEN
        shift += 0.001
        result = await preview(service, preview_body(shift))
        assert fake_llm.calls == calls_when_opened + 2  # the trial (wishes), then the narrative
        assert result["itinerary"]["enrichment"] == {"wishes": "llm", "narrative": "llm"}
        assert breaker_state(service) is BreakerState.CLOSED


async def test_an_unreachable_llm_endpoint_still_yields_itineraries(start_ai: Any) -> None:
    async with start_ai(llm_base_url="http://127.0.0.1:9/v1", llm_timeout_s=1.0) as service:
        body = await service.request_schedule(wishes=WISHES)
        schedule = await service.wait_for(body["schedule_id"])
        assert schedule["status"] == "done"
        assert schedule["itinerary"]["enrichment"]["wishes"] == "keywords"
        assert service.metric("ai_llm_calls_total", purpose="wishes", outcome="error") == 1


def test_the_fake_server_speaks_the_chat_completions_protocol(fake_llm: ChaosLLM) -> None:
    r = httpx.post(
        f"{fake_llm.base_url}/chat/completions",
        json={
            "model": "m",
            "messages": [
                {"role": "system", "content": "x"},
                {"role": "user", "content": "Day 1 (wed)"},
            ],
        },
    )
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["role"] == "assistant"
