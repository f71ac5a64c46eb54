"""The steady prober: about one request a second per target (health + one key route), apart
from the load, so availability is measured by a client that is never itself overloaded.

Each result (`runs.results.ProbeResult`: timestamp, target, url, ok, status, latency_ms,
error) is appended to a JSONL file as it completes, so a run cut short still has its probes.
A probe is ok when the answer is 2xx/3xx within the timeout; refused connections, timeouts and
5xx/4xx are not.

Ticks are scheduled on a fixed clock and a probe that is still waiting does not delay the next
one: during an outage the timeouts would otherwise thin out the samples exactly when they
matter, and availability would look better than it was.

Three ways to run it:

* in a background thread — `with Prober(targets, out) as prober: …; prober.results`;
* in a background process — `python -m scenarios.load.probe --target health=http://…/actuator/health
  --out probes.jsonl [--duration 120]`, stopped by SIGTERM/SIGINT;
* inside an event loop — `await probe_loop(targets, out, stop=threading.Event())`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import httpx
from pydantic import BaseModel

from runs.jsonl import append_jsonl
from runs.results import ProbeResult

# Stop checks are this often at most; it bounds how late `stop()` takes effect.
_STOP_POLL_S = 0.05


class ProbeTarget(BaseModel):
    name: str
    url: str
    # e.g. a bearer token, so a key route that reads PostgreSQL can be probed, not only health.
    headers: dict[str, str] = {}
    # The answers that mean "served"; empty: any 2xx/3xx. A 404 problem+json for an id nobody
    # has still proves a replica checked the token and read the database.
    ok_statuses: list[int] = []

    @classmethod
    def parse(cls, text: str) -> ProbeTarget:
        """`name=url`, or a bare URL named by its path."""
        name, sep, url = text.partition("=")
        if sep and not name.startswith(("http://", "https://")):
            return cls(name=name, url=url)
        return cls(name=httpx.URL(text).path or "/", url=text)


def _result(
    target: ProbeTarget,
    started_wall: datetime,
    started: float,
    status: int | None,
    error: str | None,
) -> ProbeResult:
    return ProbeResult(
        timestamp=started_wall,
        target=target.name,
        url=target.url,
        ok=error is None
        and status is not None
        and (status in target.ok_statuses if target.ok_statuses else 200 <= status < 400),
        status=status,
        latency_ms=(time.perf_counter() - started) * 1000,
        error=error,
    )


def _describe(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


async def probe_once(client: httpx.AsyncClient, target: ProbeTarget) -> ProbeResult:
    """One timed GET of `target`; ok for 2xx/3xx."""
    started_wall, started = datetime.now(UTC), time.perf_counter()
    try:
        response = await client.get(target.url, headers=target.headers or None)
    except httpx.HTTPError as exc:
        return _result(target, started_wall, started, None, _describe(exc))
    return _result(target, started_wall, started, response.status_code, None)


def probe_once_sync(client: httpx.Client, target: ProbeTarget) -> ProbeResult:
    """`probe_once` for a synchronous client (e.g. a chaos probe in a plain thread)."""
    started_wall, started = datetime.now(UTC), time.perf_counter()
    try:
        response = client.get(target.url, headers=target.headers or None)
    except httpx.HTTPError as exc:
        return _result(target, started_wall, started, None, _describe(exc))
    return _result(target, started_wall, started, response.status_code, None)


async def probe_loop(
    targets: Sequence[ProbeTarget],
    out: Path | None = None,
    *,
    interval_s: float = 1.0,
    timeout_s: float = 2.0,
    duration_s: float | None = None,
    stop: threading.Event | None = None,
    on_result: Callable[[ProbeResult], None] | None = None,
) -> list[ProbeResult]:
    """Probe every target each `interval_s` until `duration_s` passes or `stop` is set."""
    if not targets:
        raise ValueError("the prober needs at least one target")
    stop = stop or threading.Event()
    results: list[ProbeResult] = []
    pending: set[asyncio.Task[None]] = set()

    async def one(client: httpx.AsyncClient, target: ProbeTarget) -> None:
        result = await probe_once(client, target)
        results.append(result)
        if out is not None:
            append_jsonl(out, result)
        if on_result is not None:
            on_result(result)

    # No pooled keep-alive beyond one connection per target: a probe should see a restarted
    # server as soon as a fresh connection would.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=len(targets))
    async with httpx.AsyncClient(timeout=timeout_s, limits=limits) as client:
        origin = time.monotonic()
        tick = 0
        while not stop.is_set():
            now = time.monotonic()
            if duration_s is not None and now - origin >= duration_s:
                break
            due = origin + tick * interval_s
            if now >= due:
                for target in targets:
                    # In flight per target ≤ timeout/interval + 1: timeouts bound the backlog.
                    task = asyncio.create_task(one(client, target))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                # Skip ticks missed while the loop was blocked rather than firing a burst.
                tick = max(tick + 1, int((now - origin) / interval_s) + 1)
                continue
            await asyncio.sleep(min(due - now, _STOP_POLL_S))
        if pending:
            # Let started probes finish (each is bounded by the timeout) so none is lost.
            await asyncio.gather(*pending, return_exceptions=True)
    results.sort(key=lambda r: r.timestamp)
    return results


class Prober:
    """The prober in a background thread with its own event loop."""

    def __init__(
        self,
        targets: Sequence[ProbeTarget],
        out: Path | None = None,
        *,
        interval_s: float = 1.0,
        timeout_s: float = 2.0,
        duration_s: float | None = None,
    ) -> None:
        if not targets:
            raise ValueError("the prober needs at least one target")
        self.targets = list(targets)
        self.out = out
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.duration_s = duration_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._seen: list[ProbeResult] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="steady-prober", daemon=True)

    def _record(self, result: ProbeResult) -> None:
        with self._lock:
            self._seen.append(result)

    def _run(self) -> None:
        try:
            asyncio.run(
                probe_loop(
                    self.targets,
                    self.out,
                    interval_s=self.interval_s,
                    timeout_s=self.timeout_s,
                    duration_s=self.duration_s,
                    stop=self._stop,
                    on_result=self._record,
                )
            )
        except BaseException as exc:  # surfaced by stop(); a thread cannot raise to its caller
            self._error = exc

    def start(self) -> Prober:
        self._thread.start()
        return self

    @property
    def results(self) -> list[ProbeResult]:
        """The results so far (a copy, sorted by time)."""
        with self._lock:
            return sorted(self._seen, key=lambda r: r.timestamp)

    def stop(self, timeout: float | None = None) -> list[ProbeResult]:
        """Stop, wait for in-flight probes, and return every result; re-raises a loop error."""
        self._stop.set()
        self._thread.join(timeout if timeout is not None else self.timeout_s + 5)
        if self._thread.is_alive():
            raise TimeoutError("the steady prober did not stop")
        if self._error is not None:
            raise RuntimeError("the steady prober failed") from self._error
        return self.results

    def __enter__(self) -> Prober:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scenarios.load.probe",
        description="Steady prober: ~1 request/s per target, results appended as JSONL.",
    )
    parser.add_argument(
        "--target",
        action="append",
        required=True,
        type=ProbeTarget.parse,
        help="name=URL or URL; repeat for each target",
    )
    parser.add_argument("--out", type=Path, required=True, help="JSONL file to append to")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between rounds")
    parser.add_argument("--timeout", type=float, default=2.0, help="per-request timeout, s")
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop after this many seconds (default: run until SIGTERM/SIGINT)",
    )
    args = parser.parse_args(argv)
    stop = threading.Event()

    async def run() -> list[ProbeResult]:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):  # not on Windows
                loop.add_signal_handler(signum, stop.set)
        return await probe_loop(
            args.target,
            args.out,
            interval_s=args.interval,
            timeout_s=args.timeout,
            duration_s=args.duration,
            stop=stop,
        )

    results = asyncio.run(run())
    ok = sum(r.ok for r in results)
    print(f"{ok}/{len(results)} probes ok → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
