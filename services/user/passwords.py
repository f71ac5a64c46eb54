"""Argon2id password hashing off the event loop, on a small pool of low-priority threads.

Hashing at OWASP's minimum costs tens of milliseconds of one core per login; a burst of logins must
not take the CPU that every other request of the replica (and of the node) needs. So hashes run on
`workers` threads of their own (one core's worth per replica by default), each under SCHED_IDLE and
niced (set on the thread: the kernel schedules Linux threads one by one), so that the event loop and
other processes win the CPU whenever they want it. SCHED_IDLE because a nice level alone only weighs
the shares: a thread waking for another request still waited for a hash's slice to end (EEVDF lets
the running task finish it), on every hop of that request (the README's login-burst A/B). A pod's
threads share its cgroup, so on Kubernetes a hash yields to its own replica's requests. Logins wait
in line instead; when more than `queue_limit` are waiting the replica sheds the next with 503 +
Retry-After rather than let every waiter time out: on a replica whose requests keep its CPU busy,
logins wait, by design. cffi releases the GIL while argon2 hashes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.kit.errors import ServiceUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
SHED_RETRY_AFTER_S = 1


def _lower_priority(nice: int, idle: bool) -> Callable[[], None]:
    def start() -> None:
        thread = threading.get_native_id()
        try:
            if nice > 0:
                # Relative to the replica's own level (a thread starts at its creator's).
                level = min(19, os.getpriority(os.PRIO_PROCESS, thread) + nice)
                os.setpriority(os.PRIO_PROCESS, thread, level)
            if idle:
                os.sched_setscheduler(thread, os.SCHED_IDLE, os.sched_param(0))
        except (OSError, AttributeError) as exc:  # no per-thread priorities here: hash as is
            log.warning("password hashing thread keeps its priority: %s", exc)

    return start


class Passwords:
    def __init__(
        self,
        time_cost: int,
        memory_kib: int,
        parallelism: int,
        *,
        workers: int,
        nice: int,
        queue_limit: int,
        idle: bool = True,
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        self._pool = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix="argon2",
            initializer=_lower_priority(nice, idle),
        )
        self._capacity = workers + queue_limit
        self._in_flight = 0
        # Verifying against this when the email is unknown keeps both paths equally slow, so
        # response time does not reveal which emails have accounts.
        self._decoy = self._hasher.hash("decoy-password-for-unknown-accounts")

    async def _run(self, work: Callable[[], T]) -> T:
        if self._in_flight >= self._capacity:
            raise ServiceUnavailable(
                "too many logins at once on this replica; retry shortly",
                headers={"Retry-After": str(SHED_RETRY_AFTER_S)},
            )
        self._in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, work)
        finally:
            self._in_flight -= 1

    async def hash(self, password: str) -> str:
        return await self._run(lambda: self._hasher.hash(password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(password_hash or self._decoy, password)
            except (VerificationError, InvalidHashError):
                return False

        ok = await self._run(check)
        return ok and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
