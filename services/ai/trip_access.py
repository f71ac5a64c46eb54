"""Whether a caller may see a trip's schedules: trip-service's visibility rule, asked live.

ai-service keeps no copy of trip membership, so it asks trip-service with the caller's own token
(`GET /api/trips/{trip_id}`): the trip's owner and current members see it; a stranger, a removed
member, a demoted or deleted account and a deleted trip do not, exactly as trip-service answers.
An unreachable trip-service is a 503, never a 200 by default.
"""

from __future__ import annotations

import logging

import httpx

from services.kit.errors import ServiceUnavailable, TooManyRequests, Unauthorized

log = logging.getLogger(__name__)
RETRY_AFTER_S = 5


async def can_see_trip(
    http: httpx.AsyncClient, trip_url: str, authorization: str, trip_id: str
) -> bool:
    try:
        response = await http.get(
            f"{trip_url}/api/trips/{trip_id}", headers={"Authorization": authorization}
        )
    except httpx.HTTPError as exc:
        log.warning("trip-service unreachable: %r", exc)
        raise _unavailable() from exc
    if response.status_code == 200:
        return True
    if response.status_code in (403, 404):
        return False
    if response.status_code == 401:
        raise Unauthorized("session ended; log in again", headers={"WWW-Authenticate": "Bearer"})
    if response.status_code == 429:
        retry = response.headers.get("Retry-After", str(RETRY_AFTER_S))
        raise TooManyRequests("rate limit exceeded", headers={"Retry-After": retry})
    log.warning("trip-service answered %s for trip %s", response.status_code, trip_id)
    raise _unavailable()


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "trip-service is not reachable to check access to this schedule; retry shortly",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )
