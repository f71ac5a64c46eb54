"""Every entry point a TripGen user types: `nox -l` is the menu, `nox -s <session> -- <args>`.

Sessions are thin: each installs the project once (uv, reused venvs) and hands `session.posargs`
to a module of the project, so everything a session does can also be run as `python -m …`.
"""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "tests"]
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"


def _install(session: nox.Session) -> None:
    """Install the project with its harness and dev extras into the session's venv."""
    session.install("-e", ".[dev]")


def _run_module(session: nox.Session, module: str, *args: str) -> None:
    """Install, then run `python -m module args… posargs…`."""
    _install(session)
    session.run("python", "-m", module, *args, *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff (lint + format check) and mypy over the whole tree."""
    _install(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", "services", "runs", "simulation", "scenarios", "chaos", "tests")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """All tests on real PostgreSQL/PostGIS, Redis, nginx; chart checks; image build in CI."""
    _install(session)
    # Installs the Debian packages the tests need when run as root (CI), else names them.
    session.run("python", "-m", "simulation.backing", "ensure")
    if any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("CI", "TRIPGEN_IMAGE")):
        # Before the tests, which check the built images (in CI they fail, never skip, without
        # them): the service and data-store images from a locally made base; every service
        # answers health and each data store serves its rendered kind StatefulSet.
        session.run("python", "-m", "simulation.k8s.image", "--service", "all")
    session.run("pytest", *(session.posargs or ["-q", "-ra"]))
    # helm lint --strict and strict Kubernetes 1.29 validation of every values combination (the
    # conformance tests already ran above). checkov (minutes: its own venv, three manifest sets)
    # runs in `nox -s chart`.
    session.run("python", "-m", "simulation.k8s.chart", "verify", "--no-tests")


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """Fuzz every operation of the four services from their OpenAPI, as a user and as an admin
    (schemathesis; TRIPGEN_FUZZ_EXAMPLES per operation and mode, default 100); posargs → pytest."""
    _install(session)
    session.run("python", "-m", "simulation.backing", "ensure")
    examples = os.environ.get("TRIPGEN_FUZZ_EXAMPLES", "100")
    session.run(
        "pytest", "tests/fuzz", "-q", "-s", "-p", "no:cacheprovider", *session.posargs,
        env={"TRIPGEN_FUZZ_EXAMPLES": examples},
    )  # fmt: skip


@nox.session(python=PYTHON)
def chart(session: nox.Session) -> None:
    """Render dev/prod/kind with a real Helm, lint, validate on Kubernetes 1.29, conformance,
    then checkov over the rendered dev, prod and prod+kind manifests."""
    _run_module(session, "simulation.k8s.chart", "verify")
    session.run("python", "-m", "simulation.k8s.checkov")


@nox.session(python=PYTHON, name="design-check")
def design_check(session: nox.Session) -> None:
    """Findings from the rendered prod manifests and the topology (informs, never gates)."""
    _run_module(session, "simulation.k8s.design_check")


@nox.session(python=PYTHON)
def image(session: nox.Session) -> None:
    """Build and smoke-test the service and data-store images; `-- --push REGISTRY` pushes them."""
    _run_module(session, "simulation.k8s.image")


@nox.session(python=PYTHON, name="cluster-up")
def cluster_up(session: nox.Session) -> None:
    """Create the kind cluster for a profile (zones, pools, metrics-server, ingress-nginx)."""
    _run_module(session, "simulation.cli", "cluster-up")


@nox.session(python=PYTHON, name="cluster-down")
def cluster_down(session: nox.Session) -> None:
    """Delete the kind cluster."""
    _run_module(session, "simulation.cli", "cluster-down")


def _kind_unavailable() -> str:
    """Why the kind flow cannot run on this machine ("" when it can)."""
    import shutil
    import subprocess

    missing = [tool for tool in ("docker", "kind", "kubectl") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not on PATH (README › Kubernetes paths says how to install)"
    info = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=30)
    return "" if info.returncode == 0 else "no Docker daemon answers `docker info`"


@nox.session(python=PYTHON, name="kind-smoke")
def kind_smoke(session: nox.Session) -> None:
    """Whole kind flow (Docker + kind): cluster-up, deploy dev+prod, sla-check, chaos, down."""
    if reason := _kind_unavailable():
        session.error(f"kind-smoke did not run: {reason}")
    _install(session)
    cli = ("python", "-m", "simulation.cli")
    try:
        for profile in ("dev", "prod"):
            session.run(*cli, "cluster-up", "--profile", profile)
            session.run(*cli, "deploy", "--profile", profile, "--platform", "kind")
            if profile == "prod":
                session.run("python", "-m", "chaos.sla_check", "--profile", "prod",
                            "--platform", "kind", "--quick", "--no-data", "allow")  # fmt: skip
                session.run("python", "-m", "chaos.cli", "--profile", "prod", "--platform",
                            "kind", "--experiment", "kill-replica")  # fmt: skip
                # rollouts.enabled: Argo Rollouts controller installed, a blue-green switch of
                # every service judged by the AnalysisTemplate.
                session.run("python", "-m", "simulation.platforms.rollouts_kind_smoke",
                            "kind-smoke", "--profile", "prod")  # fmt: skip
            session.run(*cli, "down")
            session.run(*cli, "cluster-down", "--profile", profile)
    finally:
        session.run(*cli, "cluster-down", success_codes=[0, 1])


@nox.session(python=PYTHON, name="deploy-dev-sim")
def deploy_dev_sim(session: nox.Session) -> None:
    """Deploy the dev profile on --platform local|kind|auto (default auto)."""
    _run_module(session, "simulation.cli", "deploy", "--profile", "dev")


@nox.session(python=PYTHON, name="deploy-prod-sim")
def deploy_prod_sim(session: nox.Session) -> None:
    """Deploy the prod profile (3 zones, prod replicas) on --platform local|kind|auto."""
    _run_module(session, "simulation.cli", "deploy", "--profile", "prod")


@nox.session(python=PYTHON)
def status(session: nox.Session) -> None:
    """Show the running deployment: replicas, zones, pids/pods, readiness."""
    _run_module(session, "simulation.cli", "status")


@nox.session(python=PYTHON)
def down(session: nox.Session) -> None:
    """Stop the running deployment and everything it started."""
    _run_module(session, "simulation.cli", "down")


@nox.session(python=PYTHON, name="deploy-aks")
def deploy_aks(session: nox.Session) -> None:
    """helm upgrade --install prod to AKS: --kube-context, --values FILE, --set; SLA-gated."""
    _run_module(session, "simulation.cli", "deploy-aks")


@nox.session(python=PYTHON)
def load(session: nox.Session) -> None:
    """Run the locust journeys against the deployment and write the results JSON."""
    _run_module(session, "scenarios.cli", "load")


@nox.session(python=PYTHON, name="sla-check")
def sla_check(session: nox.Session) -> None:
    """Deploy (unless up), load, probe and judge every SLA objective; writes the report and gate."""
    _run_module(session, "chaos.sla_check")


@nox.session(python=PYTHON, name="dr-drill")
def dr_drill(session: nox.Session) -> None:
    """Delete PostgreSQL's data, restore from pgBackRest: RTO/RPO vs SPEC.md and PITR, reported."""
    _run_module(session, "simulation.backing.dr_drill")


@nox.session(python=PYTHON)
def rollout(session: nox.Session) -> None:
    """Canary (10 → 50 → 100%) or blue-green of a git ref beside the running version, judged from
    Prometheus per version, rolled back on a breach; `-- --rehearse`: the prod-count rehearsal."""
    _run_module(session, "scenarios.rollout")


@nox.session(python=PYTHON)
def chaos(session: nox.Session) -> None:
    """Run chaostoolkit experiments under background load (--experiment NAME|all)."""
    _run_module(session, "chaos.cli")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Throughput and latency of each key route and the journey mix, as ratios to a baseline app."""
    _run_module(session, "scenarios.bench")


@nox.session(python=PYTHON, name="bench-planner")
def bench_planner(session: nox.Session) -> None:
    """Planner wall/CPU p95 per trip length at the shipped limit; quality against the best
    known solution and, on small instances, a proven optimum."""
    _run_module(session, "scenarios.bench.planner")


@nox.session(python=PYTHON, name="bench-planner-search")
def bench_planner_search(session: nox.Session) -> None:
    """The planner's search settings side by side: CPU per plan and quality, same requests."""
    _run_module(session, "scenarios.bench.planner_search")


@nox.session(python=PYTHON)
def capacity(session: nox.Session) -> None:
    """Simulate the prod topology over time (HPA, autoscaler, zone loss, cost); `-- --validate`
    measures the model against real load on local prod-sim (minutes)."""
    _run_module(session, "simulation.capacity")


@nox.session(python=PYTHON, name="capacity-day")
def capacity_day(session: nox.Session) -> None:
    """Simulate each phase's day and print its wall time against the 10 s goal."""
    _run_module(session, "simulation.capacity", "--day")
