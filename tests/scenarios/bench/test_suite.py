"""`python -m scenarios.bench`'s parts that can be checked without a deployment: the targets'
verdicts, the baseline runs beside each route case, the py-spy summary, the baseline served like
a service, and its arguments."""

from __future__ import annotations

import argparse

import httpx
import pytest

from scenarios.bench import suite as bench
from scenarios.bench.ai import AiBenchResult, Generation
from scenarios.bench.baseline import BaselineServer
from scenarios.bench.cases import ROUTE_CASES, Case, Figures
from scenarios.bench.pyspy import summarise
from scenarios.bench.verdicts import ai_dict, evaluate, print_bench, ratio_of
from scenarios.load.locustfiles.routes import BASELINE_PATH
from simulation.platforms import nginx


def figures(key: str, rps: float, *, ratio: float, p95: float = 20.0, failures: int = 0) -> Figures:
    return Figures(
        key=key,
        title=next((c.title for c in ROUTE_CASES if c.key == key), key),
        requests=int(rps * 20),
        failures=failures,
        rps=rps,
        p50_ms=p95 / 3,
        p95_ms=p95,
        p99_ms=p95 * 2,
        users=50,
        processes=1,
        run_folder="/tmp/x",
        ratio=ratio,
    )


def test_targets_pass_and_miss_as_the_performance_targets_state() -> None:
    measured = [
        figures("baseline", 2000, ratio=1.0),
        figures("nearby_cached", 1300, ratio=0.65),
        figures("trip_create", 600, ratio=0.30),
        figures("profile_read", 900, ratio=0.45, failures=3),  # fast enough, but errors
        figures("login", 250, ratio=0.125),
        figures("search_text", 300, ratio=0.15),  # reference only: no target
        figures("mix", 1100, ratio=0.55, p95=120.0),
    ]
    ai = AiBenchResult(10, [Generation(400.0, "done")] * 19 + [Generation(900.0, "done")], 5.0)
    verdicts = {c.name: c.passed for c in evaluate(measured, ai, "")}
    assert verdicts == {
        "cached place search (nearby) throughput": True,
        "place text search (uncached) throughput": False,
        "trip creation throughput": True,
        "profile read throughput": False,
        "journey mix throughput": True,
        "journey mix p95": False,
        "journey mix errors": True,
        "AI generation end to end p95 at 10 concurrent": True,
    }


def test_each_route_case_with_a_target_sits_between_two_baseline_runs() -> None:
    order: list[str] = []
    speeds = iter([1900.0, 1400.0, 1700.0, 1800.0])  # the machine slows, then recovers

    def measure_case(case: Case) -> Figures:
        order.append(case.key)
        return figures(case.key, 500.0, ratio=0.0)

    def measure_baseline_after(case: Case) -> Figures:
        order.append(f"baseline after {case.key}")
        return figures("baseline", next(speeds), ratio=1.0)

    first = figures("baseline", 2000.0, ratio=1.0)
    measured = bench.between_baselines(ROUTE_CASES, first, measure_case, measure_baseline_after)
    assert order == [
        "nearby_cached",
        "baseline after nearby_cached",
        "search_text",
        "baseline after search_text",
        "trip_create",
        "baseline after trip_create",
        "profile_read",
        "baseline after profile_read",
        "login",  # no throughput target: no baseline run of its own
    ]
    assert [f.baseline_beside_rps for f in measured] == [
        [2000.0, 1900.0],
        [1900.0, 1400.0],
        [1400.0, 1700.0],
        [1700.0, 1800.0],
        [],
    ]
    # judged against the runs beside it, not the run's first and last baseline
    trip = measured[2]
    assert ratio_of(trip, 1900.0) == pytest.approx(500.0 / 1550.0)
    assert ratio_of(measured[4], 1900.0) == pytest.approx(500.0 / 1900.0)
    assert ratio_of(measured[4], None) is None


def test_a_subset_of_cases_chains_its_baselines_too() -> None:
    wanted = [c for c in ROUTE_CASES if c.key in ("trip_create", "login")]
    after = iter([figures("baseline", 1500.0, ratio=1.0)])
    measured = bench.between_baselines(
        wanted,
        figures("baseline", 2000.0, ratio=1.0),
        lambda case: figures(case.key, 400.0, ratio=0.0),
        lambda case: next(after),
    )
    assert [f.baseline_beside_rps for f in measured] == [[2000.0, 1500.0], []]


def test_ai_failures_count_as_slowest_and_absence_is_not_run() -> None:
    slow = AiBenchResult(
        10, [Generation(300.0, "done")] * 9 + [Generation(30_000, "timed out")], 30
    )
    assert slow.failed == 1 and slow.percentile(0.95) == float("inf")
    (check,) = evaluate([], slow, "")
    assert check.passed is False and "failed" in check.measured
    (missing,) = evaluate([], None, "ai-service is not deployed")
    assert missing.passed is None and missing.measured == "ai-service is not deployed"


def test_py_spy_summary_names_what_holds_the_gil() -> None:
    raw = "\n".join(
        [
            "<module> (a.py:1);serve (x/site-packages/uvicorn/main.py:5);handle (app.py:9) 60",
            "<module> (a.py:1);serve (x/site-packages/uvicorn/main.py:5);encode (json.py:3) 30",
            "<module> (a.py:1);run (threading.py:2) 10",
            "not a stack line",
        ]
    )
    summary = summarise(raw, top=3)
    assert summary.samples == 100
    assert [(f.frame, f.share) for f in summary.self_time] == [
        ("handle (app.py)", 0.6),
        ("encode (json.py)", 0.3),
        ("run (threading.py)", 0.1),
    ]
    inclusive = {f.frame: f.share for f in summary.inclusive}
    assert inclusive["serve (uvicorn/main.py)"] == 0.9
    assert "<module> (a.py)" not in inclusive  # on every stack: says nothing
    assert summarise("").samples == 0


def test_baseline_is_served_like_a_service_behind_nginx() -> None:
    try:
        nginx.find_nginx(install=False)
    except nginx.NginxMissing as exc:
        pytest.skip(str(exc))
    with BaselineServer(replicas=2) as baseline:
        assert len(baseline.pids) == 2
        with httpx.Client(timeout=5) as client:
            replies = [client.get(f"{baseline.base_url}{BASELINE_PATH}") for _ in range(4)]
            assert all(r.status_code == 200 and r.json() == {"status": "ok"} for r in replies)
            # Other service prefixes are not deployed: nginx answers them itself.
            assert client.get(f"{baseline.base_url}/api/trips").status_code == 503
        directory = baseline.directory
    assert not directory.exists()
    assert all(p.poll() is not None for p in baseline.processes) or not baseline.processes


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--quick", "--duration", "10s"], "alternatives"),
        (["--only", "everything"], "invalid choice"),
        (["--users", "0"], "at least 1"),
    ],
)
def test_bench_argument_mistakes(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_service_settings_are_parsed_and_bad_ones_named() -> None:
    args = bench.build_parser().parse_args(
        ["--service-env", "TRIPGEN_USER_PASSWORD_HASH_NICE=0", "--service-env", "TRIPGEN_X=a=b"]
    )
    assert args.service_env == [("TRIPGEN_USER_PASSWORD_HASH_NICE", "0"), ("TRIPGEN_X", "a=b")]
    for bad in ("PATH=/tmp", "TRIPGEN_USER", "TRIPGEN_A-B=1"):
        with pytest.raises(argparse.ArgumentTypeError, match="TRIPGEN_NAME=VALUE"):
            bench.service_setting(bad)


def test_the_ai_case_reports_the_planner_speed_it_ran_at(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ai = AiBenchResult(10, [Generation(400.0, "done")] * 10, 2.0, planner_speed_ms=84.0)
    assert ai_dict(ai, "")["planner_speed_ms"] == 84.0
    print_bench([], evaluate([], ai, ""), ai, "", None)
    assert "a fixed plan took 84 ms of CPU" in capsys.readouterr().out
