"""The benchmark's per-route CPU as the capacity model reads it: which cases count, which report
is used, what a bad one says, and how the figures weigh a service's routes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from runs.results import LoadResults
from scenarios.bench.cases import Figures
from scenarios.bench.measure import _per_route
from scenarios.bench.results import ModeRun, build_report
from simulation.capacity import __main__ as capacity_cli
from simulation.capacity.__main__ import main as capacity_main
from simulation.capacity.report import _calibration
from simulation.capacity.route_cpu import (
    RouteCpu,
    RouteCpuError,
    latest_route_cpu,
    load_route_cpu,
    resolve_route_cpu,
    route_cpu_from_report,
)
from simulation.capacity.workload import (
    CPU_FROM_BENCHMARK,
    CPU_FROM_RESPONSE_TIME,
    Workload,
    calibrate_workload,
)
from tests.simulation.capacity.helpers import endpoint, measured

NEARBY = "GET /api/locations/places/nearby"
PLACE = "GET /api/locations/places/[id]"
ME = "GET /api/users/me"


def case(
    key: str,
    names: list[str],
    cpu: dict[str, float],
    *,
    method: str = "GET",
    failures: int = 0,
    requests: int = 10_000,
) -> Figures:
    """A benchmark case as `scenarios.bench.measure` records it (per_route from locust's rows)."""
    rows = [endpoint(name, requests // len(names), 5.0, method) for name in names]
    results = measured().model_copy(update={"endpoints": rows})
    return Figures(key=key, title=key, requests=requests, failures=failures, rps=500.0,
                   p50_ms=5.0, p95_ms=9.0, p99_ms=12.0, users=50, processes=1,
                   run_folder="/tmp/x", cpu_ms_per_request=cpu,
                   per_route=_per_route(results))  # fmt: skip


def bench_report(*modes: tuple[str, list[Figures]], complete: bool = True) -> dict[str, Any]:
    """A report written by the benchmark's own code."""
    runs = [ModeRun(mode, {"location": 2}, figures, None, "") for mode, figures in modes]
    return build_report({}, runs, datetime.now(UTC), (0.0, 0.0, 0.0), complete=complete)


def usual_cases() -> list[Figures]:
    return [
        case("baseline", ["/baseline (trivial FastAPI)"], {"baseline": 0.12}),
        case("nearby_cached", ["/api/locations/places/nearby"], {"location": 0.26, "nginx": 0.05}),
        case("place", ["/api/locations/places/[id]"], {"location": 0.52}),
        case("profile_read", ["/api/users/me"], {"user": 0.6, "postgresql": 0.08}),
        case("mix", ["/api/users/me", "/api/locations/places/nearby"], {"user": 0.4}),
        case("errors", ["/api/trips"], {"trip": 1.0}, method="POST", failures=3),
        case("idle_service", ["/api/trips/[id]"], {"trip": 0.0}),
    ]


def test_a_benchmark_report_gives_each_one_route_case_as_its_route() -> None:
    report = bench_report(("prod", usual_cases()), ("one", [case("p", ["/api/users/me"], {})]))
    figures = route_cpu_from_report(report, "bench.json")
    assert figures.mode == "prod"  # the profile's replica counts, when the report has them
    # Only one API route, no errors, a CPU figure for its own service: not the baseline, the
    # mix, a case with errors or one whose service used no CPU.
    assert figures.ms_per_request == {NEARBY: 0.26, PLACE: 0.52, ME: 0.6}
    assert figures.requests[NEARBY] == 10_000
    assert "GET /api/users/me 0.60 ms (n=10,000)" in figures.describe()
    with pytest.raises(RouteCpuError, match="no 'both' run"):
        route_cpu_from_report(report, "bench.json", "both")


def test_two_cases_of_one_route_give_the_larger_sample() -> None:
    cases = [case("a", ["/api/users/me"], {"user": 0.7}, requests=100),
             case("b", ["/api/users/me"], {"user": 0.5}, requests=9000)]  # fmt: skip
    assert route_cpu_from_report(bench_report(("one", cases)), "x").ms_per_request == {ME: 0.5}


def test_a_report_without_route_methods_says_to_run_the_benchmark_again(tmp_path: Path) -> None:
    report = bench_report(("prod", usual_cases()))
    for row in report["runs"]["prod"]["cases"]:
        for route in row["per_route"].values():
            del route["method"]  # the format before routes carried their method
    path = tmp_path / "old.json"
    path.write_text(json.dumps(report))
    with pytest.raises(RouteCpuError, match="rerun `nox -s bench`"):
        load_route_cpu(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not a benchmark report"),
        ("[1, 2]", "not a JSON object"),
        ('{"complete": false, "runs": {}}', "unfinished benchmark run"),
        ('{"complete": true, "runs": {}}', "holds no benchmark runs"),
    ],
)
def test_a_file_that_is_not_a_usable_report_is_named_with_the_reason(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bench.json"
    path.write_text(text)
    with pytest.raises(RouteCpuError, match=message):
        load_route_cpu(path)
    with pytest.raises(RouteCpuError, match="no benchmark report at"):
        load_route_cpu(tmp_path / "missing.json")


def test_the_default_is_the_newest_finished_report_that_can_weigh_routes(tmp_path: Path) -> None:
    assert latest_route_cpu(tmp_path) is None
    good = bench_report(("prod", usual_cases()))
    (tmp_path / "20261201T000000Z.json").write_text(json.dumps(good))
    two_routes = [
        case("p", ["/api/users/me"], {"user": 0.9}),
        case("login", ["/api/users/login"], {"user": 27.0}, method="POST"),
    ]
    (tmp_path / "20261202T000000Z.json").write_text(json.dumps(bench_report(("prod", two_routes))))
    one_route = bench_report(("one", [case("p", ["/api/users/me"], {"user": 0.8})]))
    (tmp_path / "20261203T000000Z.json").write_text(json.dumps(one_route))
    unfinished = bench_report(("prod", usual_cases()), complete=False)
    (tmp_path / "20261204T000000Z.json").write_text(json.dumps(unfinished))
    (tmp_path / "20261205T000000Z.json").write_text("{broken")
    chosen = latest_route_cpu(tmp_path)
    assert chosen is not None and chosen.source.endswith("20261202T000000Z.json")
    assert chosen.weighed_services() == ["user"]
    assert load_route_cpu(tmp_path / "20261203T000000Z.json").weighed_services() == []
    assert resolve_route_cpu(None, enabled=False, root=tmp_path) is None
    with pytest.raises(RouteCpuError):
        resolve_route_cpu(tmp_path / "20261204T000000Z.json", enabled=True, root=tmp_path)


def figures(ms: dict[str, float]) -> RouteCpu:
    return RouteCpu("bench.json", "prod", None, ms, dict.fromkeys(ms, 1000))


def test_measured_routes_share_their_estimates_by_the_benchmark_figures() -> None:
    """Location's two routes: by response time nearby costs 2 × a place read (10 vs 5 ms); the
    benchmark measured a place read at 4 × nearby. They split what their estimates add up to
    in that proportion; the service's CPU stays what the run measured."""
    plain = calibrate_workload(measured())
    weighed = calibrate_workload(measured(), route_cpu=figures({NEARBY: 0.25, PLACE: 1.0, ME: 0.6}))
    by_name = {r.name: r for r in weighed.routes}
    nearby, place = by_name[NEARBY], by_name[PLACE]
    assert place.demand_s == pytest.approx(4 * nearby.demand_s)
    assert 3000 * nearby.demand_s + 1000 * place.demand_s == pytest.approx(14.0)
    assert nearby.cpu_from == place.cpu_from == CPU_FROM_BENCHMARK
    # user-service has one measured route: nothing to compare it with, the estimate stands.
    assert by_name[ME] == next(r for r in plain.routes if r.name == ME)
    assert by_name[ME].cpu_from == CPU_FROM_RESPONSE_TIME
    assert weighed.service_demand_s == plain.service_demand_s
    assert weighed.route_cpu_source == "bench.json"
    assert Workload.from_dict(weighed.to_dict()) == weighed


def test_unmeasured_routes_keep_their_estimates() -> None:
    results = measured()
    extra = endpoint("/api/locations/cities", 500, 8.0)
    results = results.model_copy(update={"endpoints": [*results.endpoints, extra]})
    plain = {r.name: r for r in calibrate_workload(results).routes}
    weighed = calibrate_workload(results, route_cpu=figures({NEARBY: 0.3, PLACE: 0.3}))
    cities = next(r for r in weighed.routes if r.name == "GET /api/locations/cities")
    assert cities == plain["GET /api/locations/cities"]
    measured_sum = sum(
        r.demand_s * (3000 if r.name == NEARBY else 1000)
        for r in weighed.routes
        if r.name in (NEARBY, PLACE)
    )
    assert measured_sum == pytest.approx(
        3000 * plain[NEARBY].demand_s + 1000 * plain[PLACE].demand_s
    )


def test_a_calibration_saved_before_route_weights_still_loads() -> None:
    saved = calibrate_workload(measured()).to_dict()
    del saved["route_cpu_source"]
    for route in saved["routes"]:
        del route["cpu_from"]
    loaded = Workload.from_dict(saved)
    assert loaded.route_cpu_source == ""
    assert {r.cpu_from for r in loaded.routes} == {CPU_FROM_RESPONSE_TIME}


def test_the_report_says_what_weighed_each_route() -> None:
    weighed = calibrate_workload(measured(), route_cpu=figures({NEARBY: 0.25, PLACE: 1.0}))
    text = "\n".join(_calibration(weighed))
    assert "weighed by" in text and "`bench.json`" in text
    assert f"| {NEARBY} | location |" in text and "| benchmark |" in text
    plain = "\n".join(_calibration(calibrate_workload(measured())))
    assert "apportioned by mean response time" in plain and "nox -s bench" in plain


def test_the_command_refuses_a_route_cpu_file_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results.json"
    results.write_text(measured().model_dump_json())
    assert LoadResults.load(results).endpoints  # a real results file: only --route-cpu is bad
    code = capacity_main(
        ["--results", str(results), "--route-cpu", str(tmp_path / "nope.json"), "--out",
         str(tmp_path / "out")]
    )  # fmt: skip
    assert code == 2
    assert "no benchmark report at" in capsys.readouterr().out


def test_route_weights_asked_for_over_a_saved_validation_are_said_not_to_apply(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = calibrate_workload(measured(), route_cpu=figures({ME: 0.9}))
    validation = SimpleNamespace(workload=saved.to_dict())
    monkeypatch.setattr(capacity_cli, "load_validation", lambda: validation)
    for argv in (["--no-route-cpu"], ["--route-cpu", "bench.json"], []):
        workload, used = capacity_cli._calibration_source(capacity_cli._parser().parse_args(argv))
        assert used is validation and workload == Workload.from_dict(saved.to_dict())
        said = capsys.readouterr().out
        assert ("keeps the route weights it was made with" in said) == bool(argv)
