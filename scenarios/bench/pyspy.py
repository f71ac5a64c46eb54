"""Sampling profiles of one replica during a benchmark run, with py-spy (`--py-spy`).

`py-spy record --format raw` writes collapsed stacks (`frame;frame;…;leaf count`) without
pausing the process (`--nonblocking`); `summarise` turns them into what bounds a route: the
functions that were on CPU (self time) and the frames most often on the stack (inclusive).
py-spy is a profiling tool, not a dependency: install it with `uv pip install py-spy`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
_LOCATION = re.compile(r" \((?P<file>[^()]*):\d+\)$")


def find_py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


@dataclass(frozen=True)
class FrameShare:
    frame: str
    share: float  # of all samples


@dataclass(frozen=True)
class ProfileSummary:
    samples: int
    self_time: list[FrameShare]
    inclusive: list[FrameShare]


def _short(frame: str) -> str:
    """`handle (…/site-packages/starlette/routing.py:73)` → `handle (starlette/routing.py)`."""
    match = _LOCATION.search(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{frame[: match.start()]} ({path})"


def parse_collapsed(raw: str) -> list[tuple[list[str], int]]:
    """(frames root first, shortened; sample count) per line of py-spy's raw output."""
    stacks: list[tuple[list[str], int]] = []
    for line in raw.splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        frames = [_short(f) for f in match["stack"].split(";") if f]
        if frames:
            stacks.append((frames, int(match["count"])))
    return stacks


def summarise(raw: str, top: int = 10) -> ProfileSummary:
    leaves: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for frames, count in parse_collapsed(raw):
        total += count
        leaves[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if total == 0:
        return ProfileSummary(0, [], [])

    def shares(counter: Counter[str]) -> list[FrameShare]:
        return [FrameShare(f, c / total) for f, c in counter.most_common(top)]

    # Frames on every stack (the event loop, the module) say nothing: leave them out.
    inclusive = Counter({f: c for f, c in inclusive.items() if c < total * 0.98})
    return ProfileSummary(total, shares(leaves), shares(inclusive))


class PySpyRecorder:
    """`py-spy record` on one pid for `duration_s`, in the background."""

    def __init__(self, binary: str, pid: int, out: Path, duration_s: float) -> None:
        self.out = out
        self.process = subprocess.Popen(
            [
                binary, "record", "--pid", str(pid), "--duration", str(max(1, int(duration_s))),
                "--rate", "100", "--format", "raw", "--gil", "--nonblocking", "--subprocesses",
                "--output", str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip

    def finish(self, timeout_s: float = 30.0) -> ProfileSummary | str:
        """The summary, or why there is none."""
        try:
            _, stderr = self.process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            return "py-spy did not finish"
        if self.process.returncode != 0 or not self.out.exists():
            return f"py-spy failed: {stderr.decode(errors='replace').strip()[-300:]}"
        return summarise(self.out.read_text(encoding="utf-8", errors="replace"))
