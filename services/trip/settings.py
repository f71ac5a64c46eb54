"""trip-service settings (`TRIPGEN_TRIP_*`, falling back to `TRIPGEN_*`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from services.kit.settings import ServiceSettings, service_settings_config


class TripSettings(ServiceSettings):
    service_name: ClassVar[str] = "trip"
    model_config = service_settings_config("trip")

    # The relay also wakes at once after each commit; the interval bounds the delay for rows
    # another replica committed or that failed to send while Redis was down.
    outbox_relay_interval_s: float = Field(1.0, gt=0)
    outbox_batch_size: int = Field(100, ge=1, le=1000)
    # After a commit wakes the relay it waits this long, so concurrent commits share one pass
    # (the delay an event gets; 0 = a pass per wake).
    outbox_linger_s: float = Field(0.01, ge=0, le=1)
    # Sent rows are kept this long for inspection, then deleted by the relay.
    outbox_retention_s: int = Field(24 * 3600, ge=60)
    # Tasks consuming the `trip-sync` subscription of `trip-events` in each replica. Every new
    # entry wakes every waiting task of every replica, and each then asks Redis for it: one task
    # per replica halves that cost per trip event, and handles a batch of `events_receive_max`.
    events_consumer_concurrency: int = Field(1, ge=0, le=32)
    events_receive_max: int = Field(10, ge=1, le=100)
    events_receive_wait_s: float = Field(1.0, gt=0)
    # When the connection breaks with a trip's insert sent (a failover between the commit and
    # its answer), how long a create waits for a primary to tell whether the trip was stored:
    # answering 503 for a stored trip would invite a retry that stores it twice. Below the
    # failover time plus the pool's reconnect, and well below a client's 10 s timeout.
    create_outcome_wait_s: float = Field(7.0, ge=0, le=30)
    # Version part of the `static:cities:{version}` key: bump it to drop every cached city list.
    cities_cache_version: str = "v1"
