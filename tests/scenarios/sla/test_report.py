"""The report (markdown + self-contained HTML with embedded plots) and the gate file."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

from runs.results import ChaosEvent, LoadResults
from runs.spec import load_spec
from scenarios.sla.gate import read_gate
from scenarios.sla.judge import NoDataPolicy, judge
from scenarios.sla.report import write_report
from tests.scenarios.helpers import MakeResults, endpoint

PNG = b"\x89PNG\r\n\x1a\n"


def with_chaos(results: LoadResults) -> LoadResults:
    start = results.started_at + timedelta(seconds=1)
    results.add_chaos_events(
        [
            ChaosEvent(
                name="kill-replica-trip",
                started_at=start,
                ended_at=start,
                recovered_at=start + timedelta(seconds=2),
                details={"service": "trip", "replica": "trip-0"},
            )
        ]
    )
    return results


def test_report_states_the_scale_and_embeds_the_plots(locust_run: Path, tmp_path: Path) -> None:
    results = with_chaos(LoadResults.load(locust_run))
    spec = load_spec("prod")
    verdicts = judge(results, spec)
    paths = write_report(
        results,
        verdicts,
        tmp_path / "report",
        spec=spec,
        results_path=locust_run,
        gate_root=tmp_path / "gate",
    )
    markdown = paths.markdown.read_text()
    # The scale, prominently, before the verdicts.
    head = markdown.split("## Verdict")[0]
    assert "**Scale measured:** platform `local`, profile `dev`, **5 users**" in head
    assert f"**{results.machine.cores} cores**" in head
    assert "replicas per service: ai 1, location 1, trip 1, user 1" in head
    assert "laptop/local simulation, not production scale" in head
    assert "SPEC.md targets 50,000 concurrent users for `prod`; this run used 5" in head
    assert "**Warning:** spec 'prod' is measured on the 'prod' profile" in head
    # Every verdict row, with its SPEC.md source.
    for verdict in verdicts:
        assert f"| {verdict.objective_id}" in markdown
        assert verdict.source.replace("|", "\\|") in markdown
    assert "availability@chaos" in markdown
    assert "## Chaos events" in markdown
    assert "| kill-replica-trip |" in markdown
    assert "Shaded red: chaos windows" in markdown
    # The plots: files beside the markdown, embedded in the HTML.
    assert set(paths.plots) == {"latency", "throughput", "errors", "probes", "ai_generation"}
    for stem, png in paths.plots.items():
        assert png.read_bytes().startswith(PNG)
        assert f"](plots/{stem}.png)" in markdown
    html = paths.html.read_text()
    embedded = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(embedded) == len(paths.plots)
    assert 'src="plots/' not in html  # self-contained
    assert "<table>" in html
    assert "not production scale" in html
    # Verdict marks are words styled by CSS, never emoji (empty boxes without an emoji font).
    for verdict in verdicts:
        word = verdict.outcome.value
        assert f'<span class="verdict verdict-{word.lower()}">{word}</span>' in html
    assert not re.search(r"[\U0001F300-\U0001FAFF\u2600-\u27BF]", html + markdown)


def test_gate_file_for_deploy_aks(locust_run: Path, tmp_path: Path) -> None:
    results = LoadResults.load(locust_run)
    prod = load_spec("prod")
    paths = write_report(
        results,
        judge(results, prod),
        tmp_path / "prod-report",
        spec=prod,
        results_path=locust_run,
        gate_root=tmp_path / "gate",
    )
    assert paths.gate == tmp_path / "gate" / "prod.json"
    data = json.loads(paths.gate.read_text())
    assert {"profile", "passed", "report", "results", "git_commit", "timestamp"} <= set(data)
    gate = read_gate("prod", tmp_path / "gate")
    assert gate.profile == "prod"
    assert gate.passed is False  # the tiny app's flaky route misses 0.1%; no chaos → NO-DATA
    assert {"error-rate", "recovery"} <= set(gate.blocking)
    assert gate.report == str(paths.markdown.resolve())
    assert gate.report_html == str(paths.html.resolve())
    assert gate.results == str(locust_run.resolve())
    assert gate.platform == "local"
    assert gate.no_data_policy == "fail"
    assert gate.git_commit is None or re.fullmatch(r"[0-9a-f]{40}", gate.git_commit)
    assert gate.timestamp.tzinfo is not None

    dev = load_spec("dev")
    write_report(
        results,
        judge(results, dev),
        tmp_path / "dev-report",
        spec=dev,
        results_path=locust_run,
        gate_root=tmp_path / "gate",
    )
    assert read_gate("dev", tmp_path / "gate").passed is True


def test_no_data_policy_allow_opens_the_gate_on_no_data(
    make_results: MakeResults, tmp_path: Path
) -> None:
    # Nothing but requests: availability, AI and cache are NO-DATA; latency and errors pass.
    results = make_results([endpoint("/api/x", 6000)], profile="prod")
    spec = load_spec("prod")
    verdicts = judge(results, spec)
    closed = write_report(results, verdicts, tmp_path / "a", spec=spec, gate_root=tmp_path / "g")
    assert closed.gate is not None
    assert json.loads(closed.gate.read_text())["passed"] is False
    opened = write_report(
        results,
        verdicts,
        tmp_path / "b",
        spec=spec,
        gate_root=tmp_path / "g",
        policy=NoDataPolicy.ALLOW,
    )
    assert read_gate("prod", tmp_path / "g").passed is True
    assert "NO-DATA allowed" in opened.markdown.read_text()
    # Without time series or probes there is nothing to plot, and the report says so.
    assert opened.plots == {}
    assert "nothing to plot" in opened.markdown.read_text()


def test_production_platform_and_no_gate(make_results: MakeResults, tmp_path: Path) -> None:
    results = make_results(platform="aks", replicas={"trip": 3})
    paths = write_report(results, [], tmp_path, gate_root=None)
    text = paths.markdown.read_text()
    assert "measured on the production platform `aks`" in text
    assert "not production scale" not in text
    assert paths.gate is None


def test_untrusted_names_are_escaped_in_html(make_results: MakeResults, tmp_path: Path) -> None:
    results = make_results([endpoint("/api/<script>alert(1)</script>|x", 10)])
    html = write_report(results, [], tmp_path, gate_root=None).html.read_text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_load_generator_near_its_ceiling_is_called_out(
    make_results: MakeResults, tmp_path: Path
) -> None:
    busy = make_results([endpoint("/api/x", 200_000)])  # 3,333 requests/s from one process
    text = write_report(busy, [], tmp_path / "busy", gate_root=None).markdown.read_text()
    assert "Load generator near its limit" in text
    calm = make_results([endpoint("/api/x", 6_000)])
    text = write_report(calm, [], tmp_path / "calm", gate_root=None).markdown.read_text()
    assert "Load generator near its limit" not in text
