"""Per-user rate limit (SPEC.md: 100 requests/min per user), Redis fixed window, fails open.

Keyed on the verified user when a bearer token is present, else on the client address, so
anonymous routes (login, register) are limited too. A Redis outage disables the limit rather
than the service: availability outranks a gateway-level control that prod also enforces at WAF.
Service tokens (`sub` = `service:<name>`) are exempt: the limit is per user, not per service.
A request is counted once, however many dependencies ask (`services.kit.access` limits inside
each caller check).
"""

from __future__ import annotations

import logging
import time

from fastapi import Depends, Request
from redis.exceptions import RedisError

from services.kit.auth import Principal, token_result
from services.kit.errors import TooManyRequests

log = logging.getLogger(__name__)
WINDOW_S = 60
_COUNTED = "tripgen.rate_limited"  # scope key: this request has been counted


async def rate_limit(request: Request) -> None:
    if _COUNTED in request.scope:
        return
    request.scope[_COUNTED] = True
    resources = request.app.state.resources
    limit = resources.settings.rate_limit_per_minute
    if limit <= 0:
        return
    token = token_result(request)
    if isinstance(token, Principal) and token.is_service:
        return  # a service's own calls (e.g. the AI worker's place lookups) are not a user's
    if isinstance(token, Principal):
        subject = f"u:{token.user_id}"
    else:
        subject = f"ip:{request.client.host if request.client else '-'}"
    now = time.time()
    window = int(now // WINDOW_S)
    key = f"ratelimit:{subject}:{window}"
    cache = resources.cache
    if not cache.l2_available:
        return
    try:
        pipe = resources.redis.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, WINDOW_S + 1)
        count, _ = await pipe.execute()
    except (RedisError, OSError, TimeoutError) as exc:
        cache.report_l2_failure("ratelimit", exc)
        return
    if count > limit:
        retry_after = max(1, int((window + 1) * WINDOW_S - now) + 1)
        raise TooManyRequests(
            f"rate limit of {limit} requests per minute exceeded",
            headers={"Retry-After": str(retry_after)},
        )


RateLimited = Depends(rate_limit)
