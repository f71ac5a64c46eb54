"""PostgreSQL and Redis together in one temporary directory: what the tests and the local
platform start, and the clean-up of directories whose owner was killed."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from simulation.backing.postgres import PostgresServer
from simulation.backing.processes import scratch_root
from simulation.backing.redis import RedisServer

_WORKDIR_PREFIX = "tripgen-backing-"
_OWNER_FILE = "owner.pid"


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def remove_stale_workdirs(root: Path | None = None) -> list[Path]:
    """Remove work directories whose owner died without cleaning up (SIGKILL); return them.

    Their servers went with the owner (parent-death signal) but their data stays, in RAM when
    it lives on /dev/shm, until someone removes it. Directories without an owner file (given by
    the caller, or kept on purpose) are left alone, and so is any with a live postmaster.
    """
    removed: list[Path] = []
    for path in (root or scratch_root()).glob(f"{_WORKDIR_PREFIX}*"):
        owner = _pid_in(path / _OWNER_FILE)
        postmaster = _pid_in(path / "postgres" / "data" / "postmaster.pid")
        if owner is None or any(
            pid is not None and Path(f"/proc/{pid}").exists() for pid in (owner, postmaster)
        ):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


class BackingServices:
    """PostgreSQL and Redis started concurrently in one temporary directory (see `scratch_root`).

    A context manager; `stop()` stops both and removes the directory (unless `keep_workdir`).
    To stop one server mid-run and bring it back at the same address, use
    `.postgres.stop()` / `.postgres.start()` (same for `.redis`).
    """

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        ready_timeout_s: float = 30.0,
        keep_workdir: bool = False,
    ) -> None:
        self._owns_workdir = workdir is None
        self.keep_workdir = keep_workdir
        if workdir is None:
            root = scratch_root()
            remove_stale_workdirs(root)
            workdir = Path(tempfile.mkdtemp(prefix=_WORKDIR_PREFIX, dir=root))
            if not keep_workdir:  # marks it for `remove_stale_workdirs` should we be killed
                (workdir / _OWNER_FILE).write_text(f"{os.getpid()}\n")
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Traversable but not listable: the unprivileged service account must reach its subdirs.
        self.workdir.chmod(0o711)
        self.postgres = PostgresServer(self.workdir / "postgres", ready_timeout_s=ready_timeout_s)
        self.redis = RedisServer(self.workdir / "redis", ready_timeout_s=ready_timeout_s)
        self.ready_s: float | None = None

    def start(self) -> None:
        """Start both; initdb (the slow part) runs while Redis starts. Sets `ready_s`."""
        started = time.monotonic()
        atexit.register(self.stop)
        try:
            self.postgres.begin_start()
            self.redis.begin_start()
            self.redis.finish_start()
            self.postgres.finish_start()
        except BaseException:
            self.stop()
            raise
        self.ready_s = time.monotonic() - started

    def stop(self) -> None:
        """Stop both (each even if the other fails) and remove the work directory."""
        atexit.unregister(self.stop)
        try:
            self.redis.stop()
        finally:
            self.postgres.stop()
            if self._owns_workdir and not self.keep_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def environment(self) -> dict[str, str]:
        """The settings variables that point TripGen's services at these servers."""
        return {"TRIPGEN_DATABASE_URL": self.postgres.dsn, "TRIPGEN_REDIS_URL": self.redis.url}

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
