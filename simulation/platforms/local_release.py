"""A second version of the code for the local platform: a git ref checked out into a directory
of its own (`git archive`, so the shared repository's worktree list is left alone) and installed
with its dependencies into a venv of its own, so a rollout runs real other code, not the same
processes relabelled.

    release = prepare_release("HEAD~1", root=<run dir>/releases)
    release.python    # <root>/<commit>/venv/bin/python, `-m services.<name>` runs that version

A release is kept by commit and reused (installing it costs 5–10 s with uv's cache warm).
"""

from __future__ import annotations

import importlib.util
import io
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
_DONE = ".installed"


class ReleaseError(RuntimeError):
    """The ref does not name a commit, or its checkout could not be installed."""


@dataclass(frozen=True)
class Release:
    ref: str
    commit: str
    directory: Path

    @property
    def checkout(self) -> Path:
        return self.directory / "code"

    @property
    def venv(self) -> Path:
        return self.directory / "venv"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def installed(self) -> bool:
        return (self.directory / _DONE).is_file() and self.python.is_file()


def _git(*args: str, repo: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, check=True, timeout=120
        )
    except FileNotFoundError as exc:
        raise ReleaseError("git is needed to check out another version; install git") from exc
    except subprocess.CalledProcessError as exc:
        raise ReleaseError(
            f"git {' '.join(args)}: {exc.stderr.decode(errors='replace').strip()}"
        ) from exc


def resolve(ref: str, repo: Path = REPO_ROOT) -> str:
    """The full commit id `ref` names (a branch, tag, `HEAD~1`, a sha)."""
    if not ref.strip() or ref.startswith("-"):
        raise ReleaseError(f"version {ref!r} is not a git ref")
    found = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", repo=repo)
    return found.stdout.decode().strip()


def uv_command() -> list[str]:
    """uv on PATH, beside this interpreter, or as a module; else an error saying so."""
    for candidate in (shutil.which("uv"), str(Path(sys.executable).parent / "uv")):
        if candidate and Path(candidate).is_file():
            return [candidate]
    if importlib.util.find_spec("uv"):
        return [sys.executable, "-m", "uv"]
    raise ReleaseError("uv is needed to install another version: pip install uv")


def _run(command: list[str], what: str) -> None:
    proc = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    if proc.returncode != 0:
        raise ReleaseError(f"{what} failed:\n{(proc.stdout + proc.stderr).strip()[-2000:]}")


def prepare_release(ref: str, *, root: Path, repo: Path = REPO_ROOT) -> Release:
    """The commit `ref` names, extracted under `root/<commit>/code` and installed (editable, with
    its dependencies) into `root/<commit>/venv`; reused when already there."""
    commit = resolve(ref, repo)
    release = Release(ref, commit, root / commit[:12])
    if release.installed:
        return release
    shutil.rmtree(release.directory, ignore_errors=True)
    release.checkout.mkdir(parents=True)
    archive = _git("archive", "--format=tar", commit, repo=repo).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(release.checkout, filter="data")
    uv = uv_command()
    _run([*uv, "venv", "-q", "--python", sys.executable, str(release.venv)], "creating the venv")
    _run(
        [*uv, "pip", "install", "-q", "--python", str(release.python), "-e", str(release.checkout)],
        f"installing {ref} ({commit[:12]})",
    )
    (release.directory / _DONE).write_text(commit + "\n")
    return release
