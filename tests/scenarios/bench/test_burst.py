"""The login-burst verdicts and the idle CPU's median, without a deployment."""

from __future__ import annotations

from typing import Any

from scenarios.bench.burst import BURST_KEY, QUIET_KEY, burst_checks
from scenarios.bench.cases import BURST_LOGIN_CLASS, BURST_PACED_CLASS, BURST_ROUTES, Figures
from scenarios.bench.measure import REPO_ROOT, median_rates
from scenarios.load.locustfiles import routes

ME, NEARBY = BURST_ROUTES


def run(key: str, per_route: dict[str, dict[str, Any]]) -> Figures:
    return Figures(key=key, title=key, requests=1, failures=0, rps=1.0, p50_ms=1.0, p95_ms=1.0,
                   p99_ms=1.0, users=10, processes=1, run_folder="/tmp/x",
                   per_route=per_route)  # fmt: skip


def route(p95: float | None, failures: int = 0, rps: float = 50.0) -> dict[str, Any]:
    return {"requests": 1000, "failures": failures, "rps": rps, "p95_ms": p95}


def test_the_burst_routes_are_what_the_paced_users_call() -> None:
    # Read, not imported: importing locust patches the test process (gevent).
    source = (REPO_ROOT / "scenarios/load/locustfiles/bench_routes.py").read_text()
    paced = source.split(f"class {BURST_PACED_CLASS}(")[1].split("\nclass ")[0]
    called = {n for n in ("PROFILE", "NEARBY", "LOGIN") if f"routes.{n}" in paced}
    assert {getattr(routes, n).name for n in called} == set(BURST_ROUTES)
    assert f"class {BURST_LOGIN_CLASS}(" in source


def test_each_route_is_judged_against_its_quiet_p95_with_slack() -> None:
    quiet = run(QUIET_KEY, {ME: route(8.0), NEARBY: route(20.0)})
    during = run(BURST_KEY, {ME: route(22.0), NEARBY: route(31.0),
                             routes.LOGIN.name: route(900.0, failures=4, rps=40.0)})  # fmt: skip
    checks = {c.name.split()[0]: c for c in burst_checks(quiet, during)}
    # 22 ≤ 1.5 × 8 + 10 = 22 holds; 31 > 1.5 × 20 + 10 = 40? no: 31 ≤ 40 holds as well.
    assert checks[ME].passed is True
    assert checks[NEARBY].passed is True
    assert "40 logins/s, 4 shed" in checks[ME].measured
    slower = run(BURST_KEY, {ME: route(23.0), NEARBY: route(31.0, failures=1),
                             routes.LOGIN.name: route(900.0)})  # fmt: skip
    verdicts = [c.passed for c in burst_checks(quiet, slower)]
    assert verdicts == [False, False]  # too slow; an error on the other route


def test_a_burst_without_logins_is_a_miss_not_a_pass() -> None:
    quiet = run(QUIET_KEY, {ME: route(8.0), NEARBY: route(20.0)})
    during = run(BURST_KEY, {ME: route(8.0), NEARBY: route(20.0)})
    checks = burst_checks(quiet, during)
    assert [c.passed for c in checks] == [False, False]
    assert all("the burst did not happen" in c.measured for c in checks)
    assert burst_checks(None, during) == []


def test_idle_rate_is_the_median_window() -> None:
    windows = [{"user": 0.01, "postgres": 0.2}, {"user": 0.5}, {"user": 0.02, "postgres": 0.1}]
    assert median_rates(windows) == {"postgres": 0.1, "user": 0.02}
