"""user-service client: does a user exist (before they are added to a trip).

The call carries trip-service's own service token, addressed to user-service, to its internal
route. An unreachable or failing user-service is a 503 with Retry-After, never a verdict on the
caller's input; a user that does not exist is the caller's 422, naming the field.
"""

from __future__ import annotations

import logging

import httpx

from services.kit.errors import FieldError, ServiceUnavailable, Unprocessable

log = logging.getLogger(__name__)
RETRY_AFTER_S = 5


async def require_user(
    http: httpx.AsyncClient, user_url: str, authorization: str, user_id: str
) -> None:
    """Return when `user_id` has an account; 422 naming `user_id` when it has none."""
    url = f"{user_url}/api/users/internal/{user_id}"
    try:
        response = await http.get(url, headers={"Authorization": authorization})
    except httpx.HTTPError as exc:
        log.warning("user-service unreachable: %r", exc)
        raise _unavailable() from exc
    if response.status_code != 200:
        log.warning("user-service answered %s to %s", response.status_code, url)
        raise _unavailable()
    try:
        exists = response.json()["exists"]
    except (ValueError, KeyError, TypeError) as exc:
        raise _unavailable() from exc
    if exists is not True:
        message = "no user with this id"
        raise Unprocessable(
            f"user_id: {message}", errors=[FieldError(field="user_id", message=message)]
        )


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "user-service is not reachable to check the user; retry shortly",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )
