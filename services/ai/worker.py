"""`python -m services.ai.worker`: the generation worker and its outbox relay, without HTTP.

The app's lifespan wires the worker (services.ai.app), so this entry runs that lifespan until
SIGTERM or SIGINT. It lives apart from the worker class (services.ai.schedule_worker) so that the
app and the worker do not import each other.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import uvloop

from services.ai.app import create_app
from services.ai.settings import AISettings

log = logging.getLogger(__name__)


async def run_until_signalled(settings: AISettings) -> None:
    app = create_app(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with app.router.lifespan_context(app):
        log.info("ai worker running with %d tasks (no HTTP)", settings.worker_concurrency)
        await stop.wait()


def main() -> int:
    """Run the generation worker (and its outbox relay) without the HTTP API."""
    settings = AISettings()
    if settings.worker_concurrency < 1:
        print("TRIPGEN_AI_WORKER_CONCURRENCY must be at least 1 for a worker", file=sys.stderr)
        return 2
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run_until_signalled(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
