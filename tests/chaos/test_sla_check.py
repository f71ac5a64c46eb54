"""`python -m chaos.sla_check`: sla-check with chaos windows; its own argument rules."""

from __future__ import annotations

import pytest

from chaos import sla_check


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
    monkeypatch.setattr(sla_check, "cmd_sla_check", lambda args, measure: seen.append(measure) or 0)
    assert sla_check.main(["--profile", "dev"]) == 0
    assert seen == [sla_check.plain_measure]
