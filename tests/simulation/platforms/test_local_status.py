"""What `status` reads of the local deployment's processes and files, in one pass each."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from simulation.backing.processes import child_pids, process_tree, process_trees
from simulation.platforms.local_status import _tmpfs_bytes

# A child that starts a grandchild, then both sleep.
_FAMILY = (
    "import subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); time.sleep(30)"
)


def test_process_trees_find_children_and_grandchildren_in_one_pass() -> None:
    parent = subprocess.Popen([sys.executable, "-c", _FAMILY])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        deadline = time.monotonic() + 10
        while not child_pids(parent.pid):
            assert time.monotonic() < deadline, "the grandchild did not start"
            time.sleep(0.05)
        (grandchild,) = child_pids(parent.pid)
        trees = process_trees([parent.pid, other.pid])
        assert trees == {parent.pid: [parent.pid, grandchild], other.pid: [other.pid]}
        assert process_tree(parent.pid) == [parent.pid, grandchild]
        assert os.getpid() not in trees[parent.pid]
    finally:
        for process in (parent, other):
            subprocess.run(["pkill", "-P", str(process.pid)], check=False)
            process.kill()
            process.wait()


def test_tmpfs_data_counts_files_once_and_not_symlinks(tmp_path: Path) -> None:
    shm = Path("/dev/shm") / f"tripgen-test-{os.getpid()}"
    (shm / "base" / "1").mkdir(parents=True)
    try:
        (shm / "base" / "1" / "a").write_bytes(b"x" * 1000)
        (shm / "pg_wal").write_bytes(b"y" * 24)
        (shm / "link").symlink_to(shm / "pg_wal")
        (shm / "dir-link").symlink_to(shm / "base")
        assert _tmpfs_bytes(shm) == 1024
        (tmp_path / "f").write_bytes(b"z" * 10)
        assert _tmpfs_bytes(tmp_path) == 0  # not on tmpfs: not memory
    finally:
        subprocess.run(["rm", "-rf", str(shm)], check=True)
