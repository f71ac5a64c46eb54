"""Who may call a route, as one dependency: the per-user rate limit, then the caller's identity
and rights.

The limit and the identity were two dependencies on every route (the router's `RateLimited`
and the route's own auth check); each dependency FastAPI resolves costs about 15 µs a request,
so `limited` makes one of the two: the check, after the request is counted. The limit counts a
request once however many limited checks run (`services.kit.ratelimit`). A route with no caller
to check (register, login) takes `RateLimited` on its own;
`tests/architecture/test_rate_limited_routes.py` holds every `/api` route of every service to
one or the other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from services.kit.auth import SERVICE_PREFIX, Principal, Role, current_principal, current_user
from services.kit.errors import Forbidden
from services.kit.ratelimit import rate_limit

T = TypeVar("T")
# The dependencies that count the request against the limit: `rate_limit` and every check made
# by `limited` (the architecture test tells a limited route from an unlimited one by them).
LIMITING: set[Callable[..., object]] = {rate_limit}


def limited(check: Callable[[Request], Awaitable[T]]) -> Callable[[Request], Awaitable[T]]:
    """`check` as a dependency that first counts the request against the rate limit (a 429
    comes before any verdict on the caller, as it did when the limit was the router's)."""

    async def dependency(request: Request) -> T:
        await rate_limit(request)
        return await check(request)

    dependency.__name__ = dependency.__qualname__ = f"limited_{check.__name__}"
    LIMITING.add(dependency)
    return dependency


limited_principal = limited(current_principal)
limited_user = limited(current_user)


def require_role(role: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A person with at least `role` (their live role: a role change ends the session, so the
    token's role is the current one), within the limit."""

    async def has_role(request: Request) -> Principal:
        principal = await current_user(request)
        if not principal.has_role(role):
            raise Forbidden(f"requires role {role.value}")
        return principal

    return limited(has_role)


def require_service(*services: str) -> Callable[[Request], Awaitable[Principal]]:
    """For internal routes: only the named services' own tokens get through (a service token
    is not counted: the limit is per person)."""
    allowed = {f"{SERVICE_PREFIX}{name}" for name in services}

    async def is_service(request: Request) -> Principal:
        principal = await current_principal(request)
        if principal.user_id not in allowed:
            names = ", ".join(sorted(services))
            raise Forbidden(f"an internal route: only {names} may call it")
        return principal

    return limited(is_service)


CurrentCaller = Annotated[Principal, Depends(limited_principal)]
CurrentUser = Annotated[Principal, Depends(limited_user)]
AdminUser = Annotated[Principal, Depends(require_role(Role.ADMIN))]
