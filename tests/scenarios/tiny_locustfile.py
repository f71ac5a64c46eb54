"""Locustfile of the scenarios tests: three request shapes plus an AI generation recorded as
a custom sample, the way the real journeys will record theirs."""

from __future__ import annotations

import random
import time

from locust import FastHttpUser, constant, task

from scenarios.load.samples import record_sample


class TinyUser(FastHttpUser):
    wait_time = constant(0.05)

    @task(6)
    def places(self) -> None:
        self.client.get("/api/locations/places")

    @task(2)
    def flaky(self) -> None:
        self.client.get("/api/trips/flaky")

    @task(1)
    def generate(self) -> None:
        started = time.perf_counter()
        with self.client.post("/api/ai/schedules", catch_response=True) as response:
            done = response.status_code == 200
        record_sample("ai_generation", (time.perf_counter() - started) * 1000, ok=done)
        record_sample("cache_hit_ratio", random.uniform(0.8, 1.0), unit="ratio")
