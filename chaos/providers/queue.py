"""Poison messages on `ai-schedule-generation`, and the accounting that nothing was lost.

`publish_poison` puts malformed generation requests straight onto the queue (as a buggy
producer would) next to valid schedule requests made through the API. `queue_accounting` then
checks, bounded in time: every poison message is in the dead-letter queue (reason
`InvalidScheduleRequest`) after exactly 3 deliveries (the worker's own counters: 2 abandoned
deliveries + 1 dead-lettered per message), every valid request completed (schedule done or
failed) and none of them was dead-lettered — sent = completed + dead-lettered.

The poison messages are left in the dead-letter queue, where an operator would inspect them;
other dead letters seen while looking are given back untouched.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
from chaoslib.exceptions import ActivityFailed
from prometheus_client.parser import text_string_to_metric_families

from chaos.accounts import account
from chaos.context import Configuration, context_from
from chaos.events import EventNotFound, now, open_event, start_event, update_event
from chaos.providers.recovery import record_recovery
from chaos.schedules import request_schedule, schedule_status
from services.kit.queue import AI_SCHEDULE_QUEUE, RedisStreamsQueue, dead_letter_queue_name

EVENT = "poison-messages"
PRODUCER_ACCOUNT = "producer"
INVALID_REQUEST_REASON = "InvalidScheduleRequest"  # services.ai.worker
MAX_DELIVERIES = 3  # SPEC.md › Service Bus entity: max delivery count 3


def poison_body(index: int) -> dict[str, Any]:
    """A generation message no worker can read: ids that are not UUIDs, an empty city."""
    return {
        "schedule_id": f"poison-{index}",
        "trip_id": "not-a-trip",
        "requested_by": "nobody",
        "request": {"city": "", "start_date": "someday"},
    }


def worker_counters(replica_urls: list[str]) -> dict[str, float] | None:
    """`ai_messages_total` by outcome, summed over the ai replicas (None: not reachable)."""
    if not replica_urls:
        return None
    totals: dict[str, float] = {}
    with httpx.Client(timeout=2.0) as client:
        for url in replica_urls:
            try:
                text = client.get(f"{url}/metrics").text
            except httpx.HTTPError:
                continue
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name == "ai_messages_total":
                        outcome = sample.labels.get("outcome", "")
                        totals[outcome] = totals.get(outcome, 0.0) + sample.value
    return totals


def _redis_url(configuration: Configuration | None) -> str:
    url = context_from(configuration).open_platform().endpoints().dependencies.get("redis")
    if not url:
        raise ActivityFailed("the queue's Redis is not reachable from here (local platform only)")
    return url


async def _send_poison(redis_url: str, ids: list[str]) -> None:
    queue = RedisStreamsQueue.from_url(redis_url)
    try:
        for index, message_id in enumerate(ids):
            await queue.send(
                AI_SCHEDULE_QUEUE, poison_body(index), message_id=message_id, session_id=message_id
            )
    finally:
        await queue.close()


async def _dead_letters(redis_url: str, wanted: set[str]) -> tuple[int, dict[str, str | None]]:
    """The DLQ length, and the reason of each wanted message found there (all given back)."""
    queue = RedisStreamsQueue.from_url(redis_url)
    found: dict[str, str | None] = {}
    try:
        count = await queue.dead_letter_count(AI_SCHEDULE_QUEUE)
        seen = 0
        while seen < count:
            batch = await queue.receive(dead_letter_queue_name(AI_SCHEDULE_QUEUE), 50, 0.0)
            if not batch:
                break
            for message in batch:
                seen += 1
                if message.message_id in wanted:
                    found[message.message_id] = message.dead_letter_reason
                await queue.abandon(message)
    finally:
        await queue.close()
    return count, found


def publish_poison(
    count: int = 3, valid: int = 2, configuration: Configuration | None = None
) -> dict[str, Any]:
    """Send `count` poison messages to the queue and request `valid` schedules via the API."""
    context = context_from(configuration)
    redis_url = _redis_url(configuration)
    ai_urls = context.open_platform().endpoints().replicas.get("ai", [])
    tag = uuid.uuid4().hex[:8]
    poison_ids = [f"chaos-poison-{tag}-{i}" for i in range(count)]
    dlq_before, _ = asyncio.run(_dead_letters(redis_url, set()))
    event = start_event(
        context.run_dir,
        EVENT,
        {
            "poison_ids": poison_ids,
            "dlq_before": dlq_before,
            "worker_before": worker_counters(ai_urls),
        },
    )
    asyncio.run(_send_poison(redis_url, poison_ids))
    user = account(context.base_url, context.run_dir, PRODUCER_ACCOUNT)
    with httpx.Client(base_url=context.base_url, timeout=10.0) as client:
        valid_ids = [
            request_schedule(client, user, f"chaos-queue {tag} #{i}") for i in range(valid)
        ]
    update_event(context.run_dir, EVENT, ended_at=now(), details={"valid_ids": valid_ids})
    return {"poison": len(poison_ids), "valid": len(valid_ids), "event": event.name}


def queue_accounting(
    timeout_s: float = 60.0, configuration: Configuration | None = None
) -> dict[str, Any]:
    """sent = completed + dead-lettered for this experiment's messages (trivially 0 = 0 + 0
    before any was sent); waits up to `timeout_s` for the worker to settle them all."""
    context = context_from(configuration)
    try:
        event = open_event(context.run_dir, EVENT)
    except EventNotFound:
        return {
            "sent": 0,
            "completed": 0,
            "dead_lettered": 0,
            "balanced": True,
            "three_deliveries": True,
        }
    redis_url = _redis_url(configuration)
    poison = list(event.details["poison_ids"])
    valid = list(event.details.get("valid_ids", []))
    user = account(context.base_url, context.run_dir, PRODUCER_ACCOUNT)
    deadline = time.monotonic() + timeout_s
    statuses: dict[str, str] = {}
    found: dict[str, str | None] = {}
    dlq_count = int(event.details["dlq_before"])
    with httpx.Client(base_url=context.base_url, timeout=10.0) as client:
        while True:
            for schedule_id in valid:
                if statuses.get(schedule_id) not in ("done", "failed"):
                    statuses[schedule_id] = schedule_status(client, user, schedule_id)
            dlq_count, found = asyncio.run(_dead_letters(redis_url, {*poison, *valid}))
            settled = sum(s in ("done", "failed") for s in statuses.values())
            if (len(found) + settled >= len(poison) + len(valid)) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    ai_urls = context.open_platform().endpoints().replicas.get("ai", [])
    before, after = event.details.get("worker_before"), worker_counters(ai_urls)
    completed = sum(1 for s in valid if statuses.get(s) in ("done", "failed") and s not in found)
    dead_lettered = sum(1 for p in poison if p in found)
    result: dict[str, Any] = {
        "sent": len(poison) + len(valid),
        "completed": completed,
        "dead_lettered": dead_lettered,
        "valid_dead_lettered": sum(1 for v in valid if v in found),
        "dlq_growth": dlq_count - int(event.details["dlq_before"]),
        "reasons": sorted({str(r) for r in found.values()}),
    }
    result["balanced"] = (
        result["sent"] == completed + dead_lettered
        and dead_lettered == len(poison)
        and result["valid_dead_lettered"] == 0
        and result["reasons"] in ([], [INVALID_REQUEST_REASON])
    )
    if before is not None and after is not None and poison:
        abandoned = after.get("invalid-abandoned", 0) - before.get("invalid-abandoned", 0)
        result["deliveries_per_poison"] = 1 + abandoned / len(poison)
        result["three_deliveries"] = abandoned == (MAX_DELIVERIES - 1) * len(poison)
    else:
        result["three_deliveries"] = None  # worker counters not reachable (not local)
    if result["balanced"]:
        record_recovery(context.run_dir, EVENT, now())
    update_event(context.run_dir, EVENT, details={"accounting": result})
    return result
