"""Running external tools (docker, kind, kubectl, helm) behind one small interface.

The kind and aks platforms only ever talk to the outside world through a `CommandRunner`, so the
same code runs for real (`SubprocessRunner`) and under test (`RecordingRunner`, which records every
command and answers from canned results: there is no Docker daemon or Kubernetes API server here).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class CommandResult:
    args: tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class CommandFailed(RuntimeError):
    """A command exited non-zero (or could not run) where success was required."""

    def __init__(self, result: CommandResult) -> None:
        self.result = result
        tail = (result.stderr or result.stdout).strip().splitlines()[-15:]
        detail = "\n".join(f"  {line}" for line in tail)
        super().__init__(
            f"`{' '.join(result.args)}` exited {result.returncode}"
            + (f":\n{detail}" if tail else "")
        )


class CommandRunner(Protocol):
    """What the platforms need from the outside world: find a tool, run a command."""

    def which(self, tool: str) -> str | None:
        """The tool's executable, or None when it is not installed."""
        ...

    def run(
        self,
        args: Sequence[str],
        *,
        check: bool = True,
        timeout: float | None = None,
        input_text: str | None = None,
    ) -> CommandResult:
        """Run `args` (args[0] is a tool name) and return its outcome; raise `CommandFailed` on a
        non-zero exit when `check`."""
        ...


class SubprocessRunner:
    """Runs commands for real. `executables` maps a tool name to a path that is not on PATH
    (e.g. the Helm that `simulation.k8s.helm` cached under `.tripgen/tools`)."""

    def __init__(
        self,
        executables: Mapping[str, str] | None = None,
        *,
        cwd: Path | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self._executables = dict(executables or {})
        self._cwd = cwd
        self._echo = echo

    def which(self, tool: str) -> str | None:
        if tool in self._executables and Path(self._executables[tool]).exists():
            return self._executables[tool]
        return shutil.which(tool)

    def run(
        self,
        args: Sequence[str],
        *,
        check: bool = True,
        timeout: float | None = None,
        input_text: str | None = None,
    ) -> CommandResult:
        argv = tuple(args)
        if self._echo:
            self._echo("$ " + " ".join(argv))
        executable = self.which(argv[0])
        if executable is None:
            result = CommandResult(argv, 127, stderr=f"{argv[0]}: command not found")
        else:
            try:
                proc = subprocess.run(
                    [executable, *argv[1:]],
                    input=input_text,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    cwd=self._cwd,
                    env=os.environ.copy(),
                    check=False,
                )
                result = CommandResult(argv, proc.returncode, proc.stdout, proc.stderr)
            except subprocess.TimeoutExpired as exc:
                stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
                result = CommandResult(argv, 124, stderr=f"{stderr}\ntimed out after {timeout}s")
        if check and not result.ok:
            raise CommandFailed(result)
        return result


Responder = Callable[[tuple[str, ...]], CommandResult | None]


@dataclass
class RecordingRunner:
    """Records commands instead of running them. `responses` maps a command prefix (a tuple of
    leading args) to the result to return — the longest matching prefix wins; anything else
    succeeds with empty output. `tools` are the tools `which` reports as installed."""

    tools: set[str] = field(default_factory=lambda: {"docker", "kind", "kubectl", "helm"})
    responses: dict[tuple[str, ...], CommandResult | list[CommandResult]] = field(
        default_factory=dict
    )
    commands: list[tuple[str, ...]] = field(default_factory=list)
    timeouts: list[float | None] = field(default_factory=list)

    def which(self, tool: str) -> str | None:
        return f"/usr/bin/{tool}" if tool in self.tools else None

    def respond(self, prefix: Sequence[str], *results: CommandResult) -> None:
        """Answer commands starting with `prefix` with `results` in turn (the last one repeats)."""
        self.responses[tuple(prefix)] = list(results) if len(results) > 1 else results[0]

    def run(
        self,
        args: Sequence[str],
        *,
        check: bool = True,
        timeout: float | None = None,
        input_text: str | None = None,
    ) -> CommandResult:
        argv = tuple(args)
        self.commands.append(argv)
        self.timeouts.append(timeout)
        result = self._answer(argv)
        if check and not result.ok:
            raise CommandFailed(result)
        return result

    def _answer(self, argv: tuple[str, ...]) -> CommandResult:
        matches = [p for p in self.responses if argv[: len(p)] == p]
        if not matches:
            return CommandResult(argv, 0)
        prefix = max(matches, key=len)
        answer = self.responses[prefix]
        if isinstance(answer, list):
            result = answer.pop(0) if len(answer) > 1 else answer[0]
        else:
            result = answer
        return CommandResult(argv, result.returncode, result.stdout, result.stderr)


def ok(stdout: str = "") -> CommandResult:
    """A successful result with `stdout` (for canned responses)."""
    return CommandResult((), 0, stdout)


def failed(stderr: str = "", returncode: int = 1) -> CommandResult:
    """A failed result with `stderr` (for canned responses)."""
    return CommandResult((), returncode, "", stderr)
