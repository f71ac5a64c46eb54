"""A blue-green switch of every service on kind, judged by Argo Rollouts:

    python -m simulation.platforms.rollouts_kind_smoke kind-smoke [--profile prod]

deploys the profile on kind with `ci/kind-bluegreen-values.yaml` layered (Rollouts instead of
Deployments), then changes every pod template once, so each service goes through a real
blue-green switch judged by the AnalysisTemplate, and waits for every Rollout to be Healthy.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from simulation.k8s.kubeapi import namespaced
from simulation.platforms.argo_rollouts import (
    GROUP,
    RolloutAborted,
    restart_patch,
    rollout_names,
    wait_release,
)
from simulation.platforms.kind import CHART_DIR, KindPlatform
from simulation.platforms.select import default_runner


def kind_smoke(profile: str, run_dir: Path | None = None) -> int:
    console = Console(stderr=True, soft_wrap=True)
    values = [CHART_DIR / "ci" / "kind-bluegreen-values.yaml"]
    kind = KindPlatform(run_dir, runner=default_runner(), console=console, values_files=values)
    kind.deploy(profile)
    kube = kind._kube(profile)  # the context-checked release of the profile's cluster
    docs = kube.release_manifest()
    for name in rollout_names(docs):
        kube.api.merge_patch(namespaced(GROUP, kube.namespace, "rollouts", name), restart_patch())
    took = wait_release(kube.api, kube.namespace, docs, timeout_s=900, poll_s=5)
    console.print(f"[green]every Rollout switched and Healthy[/] ({took:.0f} s)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulation.platforms.rollouts_kind_smoke")
    sub = parser.add_subparsers(dest="command", required=True)
    smoke = sub.add_parser("kind-smoke", help="blue-green Rollouts on kind, one switch each")
    smoke.add_argument("--profile", default="prod", choices=("dev", "prod"))
    smoke.add_argument("--run-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        return kind_smoke(args.profile, args.run_dir)
    except RolloutAborted as exc:
        print(f"rollout aborted: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
