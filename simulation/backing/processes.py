"""Child processes for backing servers: spawned as an unprivileged account when we are root,
in their own session, killed by the kernel when their owner dies (`PR_SET_PDEATHSIG`), and
stopped by an escalating series of signals. Plus the helpers every server needs: free ports,
the scratch directory and log tails."""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import random
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from simulation.backing.errors import BackingServiceError

_TRUTHY = frozenset({"1", "true", "yes", "on"})
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
POLL_S = 0.01
_SHM_MIN_FREE = 1 << 30  # leave tmpfs alone when it is small (Docker's default is 64 MB)


def is_ci() -> bool:
    """True when the `CI` environment variable is set to a true value (as CI providers do)."""
    return os.environ.get("CI", "").strip().lower() in _TRUTHY


def scratch_root() -> Path:
    """Where work directories go: `TRIPGEN_BACKING_DIR`, else /dev/shm, else the system temp dir.

    A tmpfs such as /dev/shm makes initdb 2-3x faster than a journaled disk on a busy machine
    (measured 0.8 s against 2.2 s), and test data is small and disposable.
    """
    configured = os.environ.get("TRIPGEN_BACKING_DIR")
    if configured:
        return Path(configured)
    shm = Path("/dev/shm")
    with contextlib.suppress(OSError):
        stats = os.statvfs(shm)
        if os.access(shm, os.W_OK | os.X_OK) and stats.f_bavail * stats.f_frsize >= _SHM_MIN_FREE:
            return shm
    return Path(tempfile.gettempdir())


# Below Linux's ephemeral range (32768–60999): a port a server is restarted on (a killed replica,
# a failed-over node coming back, a restored database) must not meanwhile be the source port of
# someone's outgoing connection.
PORT_RANGE = (20000, 32000)


def fixed_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct free ports in `PORT_RANGE`, picked at random; all probe sockets stay
    open until every port is picked, so no port is handed out twice."""
    probes: list[socket.socket] = []
    candidates = list(range(*PORT_RANGE))
    random.shuffle(candidates)
    try:
        for port in candidates:
            if len(probes) == count:
                break
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                probe.bind((host, port))
            except OSError:
                probe.close()
                continue
            probes.append(probe)
        if len(probes) < count:
            raise BackingServiceError(
                f"fewer than {count} free ports in {PORT_RANGE[0]}–{PORT_RANGE[1]}"
            )
        return [int(p.getsockname()[1]) for p in probes]
    finally:
        for probe in probes:
            probe.close()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class ServiceAccount:
    """The unprivileged system account servers run as when we are root."""

    name: str
    uid: int
    gid: int


def service_account() -> ServiceAccount | None:
    """The unprivileged account servers run as when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("TRIPGEN_SERVICE_USER", "tripgen")
    with contextlib.suppress(KeyError):
        entry = pwd.getpwnam(name)
        return ServiceAccount(entry.pw_name, entry.pw_uid, entry.pw_gid)
    command = [
        "useradd", "--system", "--user-group", "--no-create-home",
        "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name,
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        detail = result.stderr.strip()
    except FileNotFoundError:
        detail = "useradd not found"
    # Another process may have created the account concurrently; then useradd failed harmlessly.
    for candidate in (name, "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(candidate)
            return ServiceAccount(entry.pw_name, entry.pw_uid, entry.pw_gid)
    raise BackingServiceError(
        f"PostgreSQL cannot run as root and creating the system user {name!r} failed: {detail}"
    )


def prepare_dir(path: Path, account: ServiceAccount | None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    # Private to the service account: it holds a trust-auth unix socket and the logs.
    path.chmod(0o700)
    if account is not None:
        os.chown(path, account.uid, account.gid)


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()


def _die_with_parent(sig: signal.Signals) -> Callable[[], None] | None:
    """A preexec_fn that makes the kernel send `sig` to the child when its parent goes away."""
    libc = _LIBC
    if libc is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        # Runs after subprocess has switched uid: a credential change would clear the setting.
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sig)

    return preexec


def _child_env() -> dict[str, str]:
    # PG* variables of the caller (PGPORT, PGDATA, …) would silently change what the servers do.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8")
    return env


def spawn(
    argv: Sequence[str],
    *,
    log: Path,
    cwd: Path,
    account: ServiceAccount | None,
    death_signal: signal.Signals,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` as `account` in its own session, output appended to `log`; `env` adds to
    the caller's environment (minus PG*)."""
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env={**_child_env(), **(env or {})},
            # Own session: a Ctrl-C in the terminal reaches us, and we stop servers in order.
            start_new_session=True,
            preexec_fn=_die_with_parent(death_signal),
            user=account.uid if account else None,
            group=account.gid if account else None,
            extra_groups=[] if account else None,
        )


def terminate(
    process: subprocess.Popen[bytes], escalation: Sequence[tuple[signal.Signals, float]]
) -> None:
    """Send each signal in turn, waiting its grace period, until the process has exited."""
    for sig, grace_s in escalation:
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_s)
    if process.poll() is None:
        raise BackingServiceError(f"process {process.pid} ({process.args!r}) did not exit")


def parent_pids() -> dict[int, int]:
    """pid → parent pid of every process (one pass over /proc)."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="utf-8", errors="replace") as file:
                stat = file.read()
        except OSError:
            continue
        # Field 4 is the parent pid; field 2 (the command) may contain spaces: split after it.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1:
            parents[int(entry.name)] = int(fields[1])
    return parents


def child_pids(pid: int) -> list[int]:
    """Pids whose parent is `pid` (Linux /proc); used to make sure nothing is left behind."""
    return [child for child, parent in parent_pids().items() if parent == pid]


def process_trees(pids: Iterable[int]) -> dict[int, list[int]]:
    """Each of `pids` with all its descendants (breadth first), from one pass over /proc: a
    walk asking /proc once per process reads it hundreds of times for a deployment."""
    children: dict[int, list[int]] = {}
    for child, parent in parent_pids().items():
        children.setdefault(parent, []).append(child)
    trees: dict[int, list[int]] = {}
    for pid in pids:
        found = [pid]
        seen = {pid}
        index = 0
        while index < len(found):
            for child in children.get(found[index], ()):
                if child not in seen:
                    seen.add(child)
                    found.append(child)
            index += 1
        trees[pid] = found
    return trees


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (children first found, breadth first)."""
    return process_trees([pid])[pid]


def crash(pids: Sequence[int]) -> list[int]:
    """SIGKILL `pids` as one instant, the way a machine dies: all are stopped (SIGSTOP) first,
    so none sees another go and reacts (a postmaster restarting its backends, a supervisor
    forking a replacement), then all are killed. Returns the pids that existed."""
    hit: list[int] = []
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                continue
            if sig == signal.SIGKILL:
                hit.append(pid)
    return hit


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
