"""The disaster-recovery drill, short: rows, a backup, more rows, the data directory deleted,
restored to the latest point and to an explicit earlier time; RTO and RPO judged against
runs/specs/prod.yaml, reported like sla-check."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulation.backing.dr_drill import build_parser, drill, main, render_markdown, write_report

pytestmark = pytest.mark.integration


def test_a_short_drill_restores_within_rto_and_rpo_and_pitr_is_exact(
    prod_tools: None, scratch: Path, tmp_path: Path
) -> None:
    result = drill(scratch, before_backup_s=1.0, after_backup_s=4.0, archive_timeout_s=1)
    print(
        f"\n[dr drill] RTO {result.rto_s:.1f} s, RPO {result.rpo_s:.1f} s "
        f"({result.acknowledged_lost} acknowledged rows lost of {result.rows_acknowledged}); "
        f"backup {result.backup_s:.1f} s"
    )
    assert result.targets == {"rto_s": 1800.0, "rpo_s": 900.0}
    assert result.passed
    assert result.pitr_exact and result.pitr_rows_after_target == 0
    assert 0 < result.pitr_expected_last_row <= result.pitr_restored_last_row
    assert result.rows_restored + result.acknowledged_lost >= result.rows_acknowledged
    # archive_timeout 1 s: a crash loses at most a few seconds of acknowledged rows.
    assert result.rpo_s < 5
    report = write_report(result, tmp_path / "report")
    text = report.read_text()
    assert "| RTO: data directory deleted → first write accepted | < 30 min |" in text
    assert "**FAIL**" not in text
    assert (tmp_path / "report" / "dr-drill.html").exists()
    assert render_markdown(result) == text


@pytest.mark.parametrize(
    "argv", [["--after-backup", "0"], ["--archive-timeout", "0"], ["--before-backup", "-1"]]
)
def test_bad_drill_arguments_are_usage_errors(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "--after-backup must be > 0" in capsys.readouterr().err
    assert build_parser().parse_args([]).archive_timeout == 30
