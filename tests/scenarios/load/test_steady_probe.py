"""The steady prober against a real local server: stopped mid-way, hanging, and as a process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runs.jsonl import read_jsonl
from runs.results import ProbeResult
from runs.spec import SlaSpec, load_spec
from scenarios.load.probe import Prober, ProbeTarget, main
from scenarios.sla.judge import Outcome, judge
from tests.scenarios.helpers import MakeResults, ServerThread


def test_server_stopped_mid_way_lowers_availability(
    server: ServerThread, tmp_path: Path, make_results: MakeResults
) -> None:
    out = tmp_path / "probes.jsonl"
    targets = [
        ProbeTarget(name="health", url=f"{server.url}/actuator/health"),
        ProbeTarget(name="places", url=f"{server.url}/api/locations/places"),
    ]
    with Prober(targets, out, interval_s=0.1, timeout_s=0.5) as prober:
        time.sleep(1.0)
        server.stop()
        stopped_at = time.time()
        time.sleep(1.0)
    results = prober.results
    # Written as each completed (so in completion order), and all of them.
    assert sorted(read_jsonl(out, ProbeResult), key=lambda r: r.timestamp) == results
    ok = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    assert len(ok) >= 10
    assert len(failed) >= 10
    assert {r.target for r in ok} == {"health", "places"}
    assert all(r.status == 200 for r in ok)
    # Every failure is the refused connection after the stop, recorded with its cause.
    assert all(r.timestamp.timestamp() >= stopped_at - 0.2 for r in failed)
    assert all(r.status is None and r.error for r in failed)
    availability = len(ok) / len(results)
    assert 0 < availability < 1

    spec = SlaSpec(
        profile="prod", deploys="prod", title="t", objectives=[load_spec("prod").objectives[0]]
    )
    (verdict,) = judge(make_results(probes=results), spec)
    assert verdict.outcome is Outcome.FAIL
    assert verdict.measured == pytest.approx(availability)


def test_hanging_target_does_not_thin_out_the_samples(server: ServerThread) -> None:
    """Timeouts are when availability matters; ticks keep their pace while probes wait."""
    target = ProbeTarget(name="hang", url=f"{server.url}/hang")
    started = time.monotonic()
    with Prober([target], interval_s=0.1, timeout_s=0.3, duration_s=1.5) as prober:
        time.sleep(1.6)
    results = prober.results
    assert time.monotonic() - started < 5  # in-flight probes end at their timeout
    assert len(results) >= 12  # ~15 ticks in 1.5 s, none skipped for the 0.3 s waits
    assert not any(r.ok for r in results)
    assert all(r.error is not None and "Timeout" in r.error for r in results)
    assert all(250 <= r.latency_ms < 1500 for r in results)


def test_prober_as_a_process_stops_on_sigterm(server: ServerThread, tmp_path: Path) -> None:
    out = tmp_path / "probes.jsonl"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scenarios.load.probe",
            "--target",
            f"health={server.url}/actuator/health",
            "--out",
            str(out),
            "--interval",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while len(read_jsonl(out, ProbeResult)) < 5:
            assert time.monotonic() < deadline, "the prober process wrote nothing"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    written = read_jsonl(out, ProbeResult)
    assert f"{len(written)}/{len(written)} probes ok" in stdout
    assert all(r.ok for r in written)


def test_cli_with_a_duration(server: ServerThread, tmp_path: Path) -> None:
    out = tmp_path / "p.jsonl"
    code = main(
        [
            "--target",
            f"{server.url}/actuator/health",
            "--out",
            str(out),
            "--interval",
            "0.1",
            "--duration",
            "0.5",
        ]
    )
    assert code == 0
    written = read_jsonl(out, ProbeResult)
    assert 4 <= len(written) <= 7
    assert {r.target for r in written} == {"/actuator/health"}


def test_target_parsing() -> None:
    assert ProbeTarget.parse("health=http://h:8080/actuator/health") == ProbeTarget(
        name="health", url="http://h:8080/actuator/health"
    )
    assert ProbeTarget.parse("http://h/api/x?a=b").name == "/api/x"
    with pytest.raises(ValueError, match="at least one target"):
        Prober([])
