"""Custom-metric samples recorded by the locustfile, for metrics locust cannot see.

Locust measures single requests; an AI itinerary is one POST and then polling until it is done,
so its end-to-end time is measured by the journey and recorded here, one JSON line per sample,
into the file named by `TRIPGEN_SAMPLES_FILE` (set by `scenarios.load.runner.run_load` to the run
folder's `samples.jsonl`). `runs.results.build_results` merges the file into the results'
`custom_metrics`, where the judge finds `ai_generation` and `cache_hit_ratio`.

In a locustfile::

    from scenarios.load.samples import record_sample

    started = time.perf_counter()
    ...  # request, then poll until the schedule is ready (or the journey gives up)
    record_sample("ai_generation", (time.perf_counter() - started) * 1000, ok=done)

Metric names the SLA specs use: `ai_generation` (ms, end to end, `ok=False` for a failed or
abandoned generation with the time waited as its value) and `cache_hit_ratio` (fraction 0..1
per sampling interval, unit "ratio").
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from runs.jsonl import append_jsonl
from runs.results import SampleRecord

SAMPLES_ENV = "TRIPGEN_SAMPLES_FILE"

log = logging.getLogger(__name__)


class SampleRecorder:
    """Appends samples to one JSONL file; safe across threads, greenlets and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Under locust this is gevent's patched lock; across `--processes` the O_APPEND single
        # write in append_jsonl keeps lines whole.
        self._lock = threading.Lock()

    def record(
        self,
        metric: str,
        value: float,
        *,
        ok: bool = True,
        unit: str = "ms",
        labels: dict[str, str] | None = None,
        timestamp: datetime | None = None,
    ) -> SampleRecord:
        sample = SampleRecord(
            metric=metric,
            unit=unit,
            value=value,
            ok=ok,
            labels=labels or {},
            timestamp=timestamp or datetime.now(UTC),
        )
        with self._lock:
            append_jsonl(self.path, sample)
        return sample


_default: SampleRecorder | None = None
_warned = False


def default_recorder() -> SampleRecorder | None:
    """The recorder for `$TRIPGEN_SAMPLES_FILE`, or None when the variable is unset."""
    global _default, _warned
    path = os.environ.get(SAMPLES_ENV)
    if not path:
        if not _warned:
            # An interactive `locust` run outside run_load has nowhere to put samples; say so
            # once instead of failing the journey.
            log.warning(
                "%s is not set: custom samples (ai_generation, …) are not recorded", SAMPLES_ENV
            )
            _warned = True
        return None
    if _default is None or _default.path != Path(path):
        _default = SampleRecorder(Path(path))
    return _default


def record_sample(
    metric: str,
    value: float,
    *,
    ok: bool = True,
    unit: str = "ms",
    labels: dict[str, str] | None = None,
) -> SampleRecord | None:
    """Record one sample to `$TRIPGEN_SAMPLES_FILE`; returns None when recording is off."""
    recorder = default_recorder()
    if recorder is None:
        return None
    return recorder.record(metric, value, ok=ok, unit=unit, labels=labels)
