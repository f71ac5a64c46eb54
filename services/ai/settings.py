"""ai-service settings (`TRIPGEN_AI_*`, falling back to `TRIPGEN_*`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from services.kit.settings import ServiceSettings, service_settings_config


class AISettings(ServiceSettings):
    service_name: ClassVar[str] = "ai"
    model_config = service_settings_config("ai")

    # -- worker (contracts.md: TRIPGEN_AI_WORKER_CONCURRENCY, default 4) ---------------------
    # Messages of `ai-schedule-generation` handled at once by this process; 0 = API only.
    worker_concurrency: int = Field(4, ge=0, le=64)
    worker_receive_wait_s: float = Field(1.0, gt=0, le=30)
    # Must equal the queue's max delivery count (SPEC.md: 3): on the last delivery the worker
    # dead-letters a message itself, with the real reason, instead of abandoning it.
    max_delivery_count: int = Field(3, ge=1, le=10)
    # A message is locked this long while it is handled (Redis Streams; on Service Bus the
    # entity's lock duration applies). Must exceed the worst generation: location call, two
    # LLM calls, waiting for a planner process and planning.
    queue_lock_duration_s: float = Field(60.0, gt=0)
    # Pause before a message that failed for a transient reason (location-service or the
    # database down) is given back, times its delivery count (5 s, then 10 s): a restart of a
    # dependency must not use up the message's three deliveries in a few milliseconds.
    retry_backoff_s: float = Field(5.0, ge=0)
    # How often the `queue_length` gauge (the ai HPA's custom metric) is refreshed.
    queue_metrics_interval_s: float = Field(5.0, gt=0)

    # -- planner (contracts.md: TRIPGEN_AI_PLANNER_TIME_LIMIT_S, default 1.0) ----------------
    planner_time_limit_s: float = Field(1.0, gt=0, le=60)
    # OR-Tools runs in worker processes (the event loop would starve in a thread, see
    # planner_pool.py). More processes than cores only lowers quality: the limit is wall time.
    planner_processes: int = Field(2, ge=1, le=32)

    # -- inputs ------------------------------------------------------------------------------
    places_cache_ttl_s: float = Field(300.0, ge=0)  # each city's places, in process
    reference_cache_ttl_s: float = Field(600.0, ge=0)  # review averages, seasonal weights
    # A place's own rating counts as this many reviews when blended with the review table.
    review_prior_weight: float = Field(5.0, ge=0)

    # -- preview (synchronous generation for small requests) --------------------------------
    preview_max_days: int = Field(3, ge=1, le=30)
    preview_max_candidates: int = Field(200, ge=1)

    # -- outbox relay ------------------------------------------------------------------------
    outbox_relay_interval_s: float = Field(1.0, gt=0)
    outbox_batch_size: int = Field(100, ge=1, le=1000)
    # After a commit wakes the relay it waits this long, so concurrent commits share one pass
    # (the delay an event gets; 0 = a pass per wake).
    outbox_linger_s: float = Field(0.01, ge=0, le=1)
    outbox_retention_s: int = Field(24 * 3600, ge=60)

    # -- optional LLM enrichment (off unless a base URL is set) ------------------------------
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"  # the deployment name on Azure OpenAI
    llm_azure_api_version: str | None = None  # set → AsyncAzureOpenAI with base URL as endpoint
    llm_timeout_s: float = Field(3.0, gt=0, le=60)
    # SPEC.md › Circuit breaker: failure rate > 50% → open, half-open after 5 min. The rate is
    # taken over the last `llm_breaker_window` calls once at least `llm_breaker_min_calls`.
    llm_breaker_failure_rate: float = Field(0.5, gt=0, lt=1)
    llm_breaker_window: int = Field(20, ge=1)
    llm_breaker_min_calls: int = Field(10, ge=1)
    llm_breaker_reset_s: float = Field(300.0, gt=0)

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url)
