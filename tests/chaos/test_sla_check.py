"""`python -m chaos.sla_check`: sla-check with chaos windows; its own argument rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from chaos import sla_check
from simulation.platforms.base import Endpoints


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--experiment", "kill-replica"], "--experiment needs --with-chaos"),
        (["--quick", "--duration", "1m"], "alternatives"),
        (["--profile", "staging"], "invalid choice"),
    ],
)
def test_argument_mistakes_are_usage_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        sla_check.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_without_chaos_it_is_the_plain_sla_check(
    capsys: pytest.CaptureFixture[str], tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[object] = []

    def fake_sla_check(args: object, measure: object) -> int:
        seen.append(measure)
        return 0

    monkeypatch.setattr(sla_check, "cmd_sla_check", fake_sla_check)
    assert sla_check.main(["--profile", "dev"]) == 0
    assert len(seen) == 1
    assert seen[0].__wrapped__ is sla_check.plain_measure  # type: ignore[attr-defined]


def test_the_alerts_of_the_measured_run_are_recorded_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = datetime(2026, 1, 1, tzinfo=UTC)
    results = SimpleNamespace(started_at=started, ended_at=started + timedelta(minutes=1))
    deployment = SimpleNamespace(endpoints=Endpoints("http://x", {}, monitoring={}))
    monkeypatch.setattr(sla_check, "ALERT_SETTLE_S", 0.0)
    measure = sla_check.with_alerts(lambda *_: results)  # type: ignore[arg-type]
    assert measure(deployment, None, tmp_path, []) is results  # type: ignore[arg-type]
    record = json.loads((tmp_path / "alerts.json").read_text())
    assert record["error"] == "the deployment has no Prometheus (dev without --monitoring)"
    assert record["started"] == started.isoformat()
