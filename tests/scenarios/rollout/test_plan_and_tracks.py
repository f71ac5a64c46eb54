"""A rollout's plan (steps, splits, which replicas serve) and the pieces that change a running
deployment: supervisord sections, nginx weights, the report of an outcome."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runs.spec import load_spec
from scenarios.rollout.analysis import Measured, thresholds_from_spec
from scenarios.rollout.outcome import ROLLED_BACK, RolloutOutcome, StepRecord
from scenarios.rollout.plan import (
    Releases,
    RolloutInputError,
    as_track,
    check_services,
    new_replicas,
    split,
    steps,
)
from scenarios.rollout.report import summary, write_report
from scenarios.rollout.traffic import Answer, _port
from simulation.platforms import nginx
from simulation.platforms.local_tracks import Reload, TrackReplica, without_sections

STABLE = [
    TrackReplica("user", 1, "zone-1", 21001, "stable", "v1", "user-1"),
    TrackReplica("user", 2, "zone-2", 21002, "stable", "v1", "user-2"),
    TrackReplica("user", 3, "zone-3", 21003, "stable", "v1", "user-3"),
]


def test_steps_of_each_strategy() -> None:
    assert [s.percent for s in steps("canary", 5)] == [10, 50, 100]
    assert [s.percent for s in steps("blue-green", 5)] == [100]
    with pytest.raises(RolloutInputError, match="canary"):
        steps("rolling", 5)


def test_new_replicas_mirror_the_stable_ones() -> None:
    new = new_replicas(STABLE, "canary", "v2", 4, [22001, 22002, 22003])
    assert [(r.name, r.zone, r.port) for r in new] == [
        ("user-r4-1", "zone-1", 22001),
        ("user-r4-2", "zone-2", 22002),
        ("user-r4-3", "zone-3", 22003),
    ]
    assert all(r.track == "canary" and r.version == "v2" for r in new)
    assert [r.name for r in as_track(new, "stable")] == ["user-r4-1", "user-r4-2", "user-r4-3"]


@pytest.mark.parametrize(("percent", "stable_weight", "canary_weight"),
                         [(10, 90, 10), (50, 50, 50), (100, None, 0)])  # fmt: skip
def test_weights_give_each_version_its_share(
    percent: int, stable_weight: int | None, canary_weight: int
) -> None:
    new = new_replicas(STABLE, "canary", "v2", 1, [22001, 22002, 22003])
    upstreams, weights = split(["user"], "canary", percent).weights([*STABLE, *new])
    if stable_weight is None:
        assert upstreams["user"] == [22001, 22002, 22003]  # the old version out of nginx
    else:
        assert {weights[p] for p in (21001, 21002, 21003)} == {stable_weight * 3}
        assert {weights[p] for p in (22001, 22002, 22003)} == {canary_weight * 3}
    canary_share = sum(weights[p] for p in (22001, 22002, 22003)) / sum(weights.values())
    assert canary_share == pytest.approx(percent / 100)


def test_uneven_replica_counts_still_split_by_percent() -> None:
    new = [TrackReplica("user", 1, "zone-1", 22001, "canary", "v2", "user-r1-1")]
    _, weights = split(["user"], "canary", 10).weights([*STABLE, *new])
    share = weights[22001] / sum(weights.values())
    assert share == pytest.approx(0.10)


def test_nginx_renders_weights_and_the_upstream_header(tmp_path: Path) -> None:
    paths = nginx.NginxPaths(tmp_path)
    paths.create()
    conf = nginx.render_nginx_conf(
        paths=paths,
        listen_port=20080,
        upstreams={"user": [21001, 22001]},
        weights={21001: 90, 22001: 10},
        upstream_header=True,
    )
    assert "server 127.0.0.1:21001 weight=90 max_fails=0;" in conf
    assert "server 127.0.0.1:22001 weight=10 max_fails=0;" in conf
    assert "add_header X-Upstream $upstream_addr always;" in conf
    paths.conf.write_text(conf)
    nginx.check_config(nginx.find_nginx(), paths)  # nginx itself accepts it


def test_supervisord_sections_removed_by_name() -> None:
    conf = (
        "[supervisord]\nnodaemon=true\n\n[program:user-1]\ncommand=a\n\n"
        '[program:user-r2-1]\ncommand=b\nenvironment=X="1"\n\n[program:nginx]\ncommand=c\n'
    )
    left = without_sections(conf, ["user-r2-1"])
    assert "[program:user-r2-1]" not in left and "command=b" not in left
    assert "[program:user-1]\ncommand=a" in left and "[program:nginx]\ncommand=c" in left


def test_services_and_releases_record() -> None:
    assert check_services("all", ["user", "location"]) == ["user", "location"]
    with pytest.raises(RolloutInputError, match="--service 'trip'"):
        check_services("trip", ["user", "location"])
    record = Releases(STABLE[:1], as_track(STABLE[1:], "standby"), 3)
    again = Releases.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again == record and Releases.from_dict(None) == Releases()


def test_upstream_header_to_port() -> None:
    assert _port("127.0.0.1:21001") == 21001
    assert _port("127.0.0.1:21001, 127.0.0.1:21002") == 21002  # retried: the last answered
    assert _port(None) is None and _port("garbage") is None


def test_report_of_a_rollback(tmp_path: Path) -> None:
    thresholds = thresholds_from_spec(load_spec("prod"))
    outcome = RolloutOutcome(
        "canary", ["location"], "HEAD", "a" * 40, 2, {"stable": "v1", "canary": "HEAD+fault"},
        {21001: "stable", 22001: "canary"}, thresholds, 1000.0,
    )  # fmt: skip
    outcome.steps.append(
        StepRecord(
            "10%",
            10,
            1002.0,
            1010.0,
            Reload(1002.0, 1002.1),
            {"canary": Measured(60, 3, 9.0, None, 0)},
            None,
            "breach",
        )
    )
    outcome.answers = [
        Answer(1001.0 + i / 10, "location", "/c", 200, 5, 21001, None, True) for i in range(90)
    ] + [Answer(1005.0, "location", "/c", 500, 5, 22001, None, False)] + [
        Answer(1006.0, "location", "/c", 200, 5, 22001, None, True)
    ]  # fmt: skip
    outcome.breach_at, outcome.rollback = 1010.0, Reload(1010.05, 1010.2)
    outcome.decision, outcome.reason, outcome.finished = ROLLED_BACK, "error rate 5%", 1012.0
    md, page = write_report(outcome, tmp_path)
    text = md.read_text()
    assert "**rolled back** — error rate 5%" in text
    assert "| canary | HEAD+fault | 2 | 1 | 50.00% | 0 |" in text
    assert "| stable | v1 | 90 | 0 | 0.00% | 0 |" in text
    assert "breach → traffic off the new version: 0.05 s" in text
    assert "<table>" in page.read_text()
    figures = summary(outcome)
    assert figures["breach_to_rollback_s"] == pytest.approx(0.2)
    assert figures["first_failure_to_rollback_s"] == pytest.approx(5.2)
    assert figures["users"]["stable"]["failed"] == 0
