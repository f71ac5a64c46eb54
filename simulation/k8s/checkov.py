"""checkov over the rendered manifests: `python -m simulation.k8s.checkov [SET …]` (nox -s chart).

Each manifest set (dev, prod, prod+kind) is rendered with the real Helm and checked by checkov's
Kubernetes policies. A failed check fails the run unless `checkov-skips.yaml` skips it for that
set, with its reason on the same line; the reasons are printed with the figures, so a skip is
never silent. A skip that no longer matches any finding is reported too (stale: remove it).

checkov lives in its own virtualenv under `.tripgen/cache/` (pinned version, installed from PyPI
on first use): it pins older `packaging`/`pytest` than the project's environment allows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import venv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simulation.k8s import chart

CHECKOV_VERSION = "3.3.30"
MANIFEST_SETS = ("dev", "prod", "prod+kind")
SKIPS_FILE = Path(__file__).with_name("checkov-skips.yaml")
VENV_DIR = chart.REPO_ROOT / ".tripgen" / "cache" / f"checkov-{CHECKOV_VERSION}"


class CheckovError(RuntimeError):
    """checkov could not be installed or did not produce a report."""


@dataclass
class SetResult:
    """The figures of one manifest set."""

    name: str
    passed: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # check id → reason (used skips)
    skipped_findings: int = 0
    failed: list[str] = field(default_factory=list)  # "CKV_… resource: name"
    stale_skips: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.stale_skips


def load_skips(path: Path = SKIPS_FILE) -> dict[str, dict[str, str]]:
    """Set → {check id: reason}; a skip without a reason is refused."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    skips: dict[str, dict[str, str]] = {}
    for name, checks in raw.items():
        if name not in MANIFEST_SETS:
            raise CheckovError(f"{path.name}: unknown manifest set {name!r}")
        for check, reason in (checks or {}).items():
            if not isinstance(reason, str) or len(reason.split()) < 5:
                raise CheckovError(f"{path.name}: {name}/{check} needs a reason (a sentence)")
        skips[name] = dict(checks or {})
    return skips


def checkov_binary() -> Path:
    """The pinned checkov, installed into its own virtualenv on first use."""
    binary = VENV_DIR / "bin" / "checkov"
    if binary.is_file():
        return binary
    print(f"installing checkov {CHECKOV_VERSION} into {VENV_DIR} (first use) …", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(VENV_DIR)
    proc = subprocess.run(
        [str(VENV_DIR / "bin" / "python"), "-m", "pip", "install", "-q",
         f"checkov=={CHECKOV_VERSION}"],
        capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    if proc.returncode != 0 or not binary.is_file():
        raise CheckovError(f"pip install checkov=={CHECKOV_VERSION} failed:\n{proc.stderr[-2000:]}")
    return binary


def run_checkov(manifests: str, binary: Path) -> dict[str, Any]:
    """checkov's JSON report of one rendered manifest stream."""
    with tempfile.TemporaryDirectory(prefix="tripgen-checkov-") as tmp:
        (Path(tmp) / "manifests.yaml").write_text(manifests, encoding="utf-8")
        proc = subprocess.run(
            [str(binary), "-d", tmp, "--framework", "kubernetes", "-o", "json",
             "--compact", "--skip-download"],
            capture_output=True, text=True, check=False, timeout=900,
        )  # fmt: skip
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise CheckovError(
            f"checkov gave no report (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
        ) from exc
    return report[0] if isinstance(report, list) else report


def judge(name: str, report: dict[str, Any], skips: dict[str, str]) -> SetResult:
    """Passed, skipped (with reasons) and failed checks of one set."""
    results = report.get("results", {})
    result = SetResult(name, passed=len(results.get("passed_checks", [])))
    for check in results.get("failed_checks", []):
        check_id = check["check_id"]
        if check_id in skips:
            result.skipped[check_id] = skips[check_id]
            result.skipped_findings += 1
        else:
            result.failed.append(f"{check_id} {check['resource']}: {check['check_name']}")
    result.skipped_findings += len(results.get("skipped_checks", []))  # in-manifest skips
    result.stale_skips = sorted(set(skips) - set(result.skipped))
    return result


def check_sets(names: tuple[str, ...] = MANIFEST_SETS) -> list[SetResult]:
    skips = load_skips()
    binary = checkov_binary()
    return [
        judge(
            name,
            run_checkov(chart.render_text(chart.values_files(name)), binary),
            skips.get(name, {}),
        )
        for name in names
    ]


def describe(result: SetResult) -> list[str]:
    lines = [
        f"{result.name}: {result.passed} passed, {result.skipped_findings} skipped "
        f"({len(result.skipped)} checks), {len(result.failed)} failed"
    ]
    lines += [f"  skip {check}: {reason}" for check, reason in sorted(result.skipped.items())]
    lines += [f"  FAILED {failure}" for failure in result.failed]
    lines += [f"  STALE skip {check}: no finding left; remove it" for check in result.stale_skips]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulation.k8s.checkov", description=__doc__)
    parser.add_argument("sets", nargs="*", help=f"of {', '.join(MANIFEST_SETS)} (default: all)")
    args = parser.parse_args(argv)
    if unknown := set(args.sets) - set(MANIFEST_SETS):
        parser.error(f"unknown manifest set(s): {', '.join(sorted(unknown))}")
    try:
        results = check_sets(tuple(args.sets) or MANIFEST_SETS)
    except (CheckovError, chart.ChartError) as exc:
        print(exc, file=sys.stderr)
        return 1
    for result in results:
        print("\n".join(describe(result)))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
