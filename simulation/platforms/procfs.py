"""What is running and listening, read from Linux /proc — how `down` proves it left nothing.

Every process a local deployment starts carries `TRIPGEN_RUN_ID=<id>` in its environment
(supervisord passes its own environment to its programs, and children inherit it), so stragglers
are found by that mark and ended by pid — never by a process name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's `st` column


def pids_with_env(key: str, value: str) -> list[int]:
    """Pids (other than our own) whose environment holds `key=value`."""
    needle = f"{key}={value}".encode()
    own = os.getpid()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return sorted(found)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def kill_marked(key: str, value: str, *, grace_s: float = 5.0) -> list[int]:
    """SIGTERM, then SIGKILL, every process marked `key=value`; returns the pids it had to end."""
    marked = [pid for pid in pids_with_env(key, value) if not _is_zombie(pid)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [pid for pid in marked if not _is_zombie(pid)]
        for pid in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(not _is_zombie(p) for p in alive):
            time.sleep(0.05)
    return marked


def listening_ports() -> set[int]:
    """TCP ports something listens on (IPv4 and IPv6)."""
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == _LISTEN:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def pss_bytes(pid: int) -> int:
    """The process's proportional set size (shared pages split among their users), 0 if gone.
    Summing PSS over a deployment's processes counts shared memory once."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0
