"""The SLA spec files: each holds SPEC.md's figures with its source row, and an invalid file is
reported as `file:line: field: message`."""

from __future__ import annotations

from pathlib import Path

import pytest

from runs.spec import SlaSpec, SpecError, available_specs, load_spec

# SPEC.md › Targets (SLA and phases): (profile, objective id) → threshold in the spec's units.
EXPECTED = {
    ("dev", "availability"): 0.95,
    ("dev", "ai-generation"): 10_000,
    ("dev", "general-api"): 1_000,
    ("prod", "availability"): 0.999,
    ("prod", "ai-generation-p95"): 5_000,
    ("prod", "general-api-p95"): 200,
    ("prod", "throughput"): 1_000,
    ("prod", "error-rate"): 0.001,
    ("prod", "cache-hit-ratio"): 0.80,
    ("prod", "cache-hit-ratio-goal"): 0.95,
    ("prod", "recovery"): 300,
    ("prod", "postgres-failover"): 30,
    ("prod", "redis-recovery"): 60,
    ("prod", "alert-error-rate"): 0.01,
    ("phase2", "availability"): 0.9995,
    ("phase2", "ai-generation-p95"): 2_000,
    ("phase2", "general-api-p95"): 100,
    ("phase2", "throughput"): 5_000,
    ("phase3", "availability"): 0.9999,
    ("phase3", "ai-generation-p95"): 3_000,
    ("phase3", "general-api-p95"): 200,
    ("phase3", "throughput"): 10_000,
    ("phase3", "recovery"): 120,
}


def test_every_profile_has_a_spec() -> None:
    assert set(available_specs()) >= {"dev", "prod", "phase2", "phase3"}
    for name in available_specs():
        spec = load_spec(name)
        assert spec.profile == name
        for objective in spec.objectives:
            assert objective.source.startswith("SPEC.md ›")
            assert objective.target_text()


@pytest.mark.parametrize(("profile", "objective_id"), sorted(EXPECTED))
def test_thresholds_are_spec_md_figures(profile: str, objective_id: str) -> None:
    assert load_spec(profile).objective(objective_id).threshold == EXPECTED[(profile, objective_id)]


def test_general_api_excludes_ai_generation_everywhere() -> None:
    for name in ("dev", "prod", "phase2", "phase3"):
        spec = load_spec(name)
        general = next(o for o in spec.objectives if o.metric == "p95_ms")
        assert general.endpoints == ["*"]
        assert "ai_generation*" in general.exclude


def test_throughput_is_scale_bound_and_the_goal_does_not_gate() -> None:
    prod = load_spec("prod")
    assert prod.objective("throughput").requires_production_scale
    assert not prod.objective("cache-hit-ratio-goal").gating
    assert prod.concurrent_users is not None
    assert prod.concurrent_users.value == 50_000
    assert {load_spec(p).deploys for p in ("prod", "phase2", "phase3")} == {"prod"}


GOOD_OBJECTIVE = """\
  - id: availability
    description: Probes answered
    source: "SPEC.md › Targets › availability › prod"
    metric: availability
    comparator: ">="
    threshold: 0.999
"""


def write_spec(tmp_path: Path, objectives: str, *, name: str = "bad", profile: str = "bad") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"profile: {profile}\ndeploys: prod\ntitle: Test\nobjectives:\n{GOOD_OBJECTIVE}{objectives}"
    )
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(path) in str(caught.value)
    return caught.value.problems


def test_a_valid_file_loads(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, ""))
    assert isinstance(spec, SlaSpec)
    assert spec.objectives[0].target_text() == "≥ 99.9%"


def test_percent_written_as_a_number_points_at_the_threshold_line(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        """\
  - id: errors
    description: Errors
    source: "SPEC.md › Targets › error rate › prod"
    metric: error_rate
    comparator: "<"
    threshold: 0.1%
""",
    )
    (problem,) = problems(path)
    # Line 16 is `threshold: 0.1%` (a YAML string, not a number).
    assert problem.startswith(f"{path}:16: objectives[1].threshold:")


def test_ratio_above_one_is_refused_with_the_unit(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path, GOOD_OBJECTIVE.replace("availability\n", "avail\n", 1).replace("0.999", "99.9")
    )
    (problem,) = problems(path)
    assert f"{path}:16: objectives[1].threshold:" in problem
    assert "fraction, e.g. 0.999 for 99.9%" in problem


def test_unknown_metric_typo_and_misplaced_fields(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        """\
  - id: latency
    description: Latency
    source: "SPEC.md › Targets › general API › prod"
    metric: p99_ms
    comparator: "<"
    threshold: 200
  - id: recovery
    description: Recovery
    source: "SPEC.md › Targets › recovery › prod"
    metric: recovery_s
    endpoints: ["/api/*"]
    comparator: "<"
    treshold: 300
""",
    )
    found = problems(path)
    assert any(p.startswith(f"{path}:14: objectives[1].metric: Input should be") for p in found)
    assert any(f"{path}:21: objectives[2].endpoints: only for" in p for p in found)
    assert any(f"{path}:17: objectives[2].threshold: Field required" in p for p in found)
    assert any(f"{path}:23: objectives[2].treshold: Extra inputs" in p for p in found)


def test_duplicate_ids_source_and_windowed_error_rate(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        GOOD_OBJECTIVE
        + """\
  - id: errors
    description: Errors
    source: "the wiki"
    metric: error_rate
    exclude: ["ai*"]
    window_s: 300
    comparator: "<="
    threshold: 0.01
""",
    )
    found = problems(path)
    assert any("objectives[2].source: Value error" not in p and "must cite" in p for p in found)
    assert any("objectives[2].window_s:" in p and "all endpoints" in p for p in found)
    path = write_spec(tmp_path, GOOD_OBJECTIVE)
    (problem,) = problems(path)
    assert f"{path}:4: objectives:" in problem
    assert "'availability' appears twice" in problem


def test_profile_must_match_the_file_name(tmp_path: Path) -> None:
    path = write_spec(tmp_path, "", name="prod", profile="dev")
    (problem,) = problems(path)
    assert problem == f"{path}:1: profile: 'dev' must equal the file name 'prod'"


def test_yaml_syntax_error_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("profile: broken\nobjectives: [\n")
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:3: not valid YAML")
    with pytest.raises(SpecError, match="not found"):
        load_spec("no-such-profile")


def test_a_warm_up_belongs_to_the_cache_hit_ratio_only(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        GOOD_OBJECTIVE.replace("id: availability", "id: availability-first", 1)
        + """\
  - id: warm
    description: Errors after a warm-up
    source: "SPEC.md › Targets › error rate"
    metric: error_rate
    warmup_s: 30
    comparator: "<="
    threshold: 0.01
""",
    )
    assert any(
        "objectives[2].warmup_s:" in p and "only for cache_hit_ratio" in p for p in problems(path)
    )
