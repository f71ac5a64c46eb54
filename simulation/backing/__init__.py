"""Real PostgreSQL 15 (+ PostGIS, pg_trgm) and Redis 7 for the tests and the local platform.

Each server is a child process on a free loopback port inside one temporary directory, polled until
it accepts connections and stopped in order by `stop()`. Three layers make sure no server outlives
its owner: `stop()`, an `atexit` hook, and the Linux parent-death signal (`PR_SET_PDEATHSIG`), which
also covers an owner killed with SIGKILL. The kernel sends that signal when the *thread* that
started the child ends, so start servers from a long-lived thread (normally the main thread).

PostgreSQL refuses to run as root; when we are root both servers run as the unprivileged system
account `tripgen` (created on first use; override with `TRIPGEN_SERVICE_USER`).

    python -m simulation.backing ensure   # find (or, as root, install) the server binaries
    python -m simulation.backing run      # start both, print their URLs, stop on Ctrl-C

Modules: `binaries` (where they live, apt installs), `processes` (spawning and stopping),
`server` (the lifecycle every server shares), `postgres`, `redis`, `services` (both together);
the prod simulation's production parts: `pg_auto_failover` (PostgreSQL monitor + nodes with
automatic failover), `redis_ha` (Redis primary + replica + Sentinels), `pgbackrest` (WAL
archiving, backups, restores), `prometheus` (+ promtool), `exporters`, `http_server` (their
shared lifecycle), `dr_drill` (`nox -s dr-drill`).
"""

from simulation.backing.binaries import (
    DEBIAN_PACKAGES,
    PG_MAJOR,
    TOOLS,
    Binaries,
    MissingFile,
    Tool,
    apt_install,
    ensure_binaries,
    ensure_tools,
    tool,
)
from simulation.backing.errors import BackingServiceError, BinariesMissingError
from simulation.backing.postgres import TEST_POSTGRES_SETTINGS, PostgresServer
from simulation.backing.processes import child_pids, free_port, is_ci, scratch_root
from simulation.backing.redis import RedisServer
from simulation.backing.services import BackingServices, remove_stale_workdirs

__all__ = [
    "DEBIAN_PACKAGES",
    "PG_MAJOR",
    "TEST_POSTGRES_SETTINGS",
    "TOOLS",
    "BackingServiceError",
    "BackingServices",
    "Binaries",
    "BinariesMissingError",
    "MissingFile",
    "PostgresServer",
    "RedisServer",
    "Tool",
    "apt_install",
    "child_pids",
    "ensure_binaries",
    "ensure_tools",
    "free_port",
    "is_ci",
    "remove_stale_workdirs",
    "scratch_root",
    "tool",
]
