"""What a rollout did, as the report and the command's summary read it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from scenarios.rollout.analysis import Judgement, Measured, Thresholds
from scenarios.rollout.traffic import Answer
from simulation.platforms.local_tracks import Reload

PROMOTED = "promoted"
ROLLED_BACK = "rolled back"
SWITCHED = "switched"
SWITCHED_BACK = "switched back"


@dataclass
class StepRecord:
    label: str
    percent: int
    started: float  # unix seconds the split was applied
    ended: float
    reload: Reload | None
    measured: dict[str, Measured] = field(default_factory=dict)  # track → numbers
    judgement: Judgement | None = None
    result: str = "passed"  # passed | breach | inconclusive | measured


@dataclass(frozen=True)
class VersionTraffic:
    """What users saw of one version: answers, failures (no answer, 5xx, unexpected status)."""

    track: str
    version: str
    requests: int
    failed: int
    limited: int

    @property
    def failed_share(self) -> float:
        return self.failed / self.requests if self.requests else 0.0


@dataclass
class RolloutOutcome:
    strategy: str
    services: list[str]
    version: str
    commit: str
    revision: int
    tracks: dict[str, str]  # track → version label
    port_tracks: dict[int, str]  # replica port → track
    thresholds: Thresholds
    started: float
    decision: str = ""
    reason: str = ""
    finished: float = 0.0
    prepare_s: float = 0.0
    ready_s: float = 0.0
    steps: list[StepRecord] = field(default_factory=list)
    breach_at: float | None = None
    rollback: Reload | None = None
    answers: list[Answer] = field(default_factory=list)
    command: str = ""

    @property
    def ok(self) -> bool:
        return self.decision in (PROMOTED, SWITCHED, SWITCHED_BACK)

    def track_of(self, answer: Answer) -> str:
        if answer.upstream_port is None:
            return "no answer" if answer.status is None else "gateway"
        return self.port_tracks.get(answer.upstream_port, "other")

    def traffic(self) -> list[VersionTraffic]:
        counts: dict[str, list[int]] = {}
        for a in self.answers:
            c = counts.setdefault(self.track_of(a), [0, 0, 0])
            c[0] += 1
            c[1] += 0 if a.ok else 1
            c[2] += 1 if a.limited else 0
        return [
            VersionTraffic(t, self.tracks.get(t, "—"), c[0], c[1], c[2])
            for t, c in sorted(counts.items())
        ]

    @property
    def failed(self) -> int:
        return sum(0 if a.ok else 1 for a in self.answers)

    @property
    def breach_to_rollback_s(self) -> float | None:
        if self.breach_at is None or self.rollback is None or self.rollback.drained is None:
            return None
        return self.rollback.drained - self.breach_at

    def first_failure_of(self, track: str) -> float | None:
        times = [a.at for a in self.answers if not a.ok and self.track_of(a) == track]
        return min(times) if times else None

    def last_answer_of(self, track: str) -> float | None:
        times = [a.at + a.latency_ms / 1000 for a in self.answers if self.track_of(a) == track]
        return max(times) if times else None


def percent_served(outcome: RolloutOutcome, step: StepRecord) -> Mapping[str, float]:
    """Each track's share of users' answers during `step`."""
    answers: Sequence[Answer] = [a for a in outcome.answers if step.started <= a.at < step.ended]
    total = len(answers) or 1
    shares: dict[str, float] = {}
    for a in answers:
        track = outcome.track_of(a)
        shares[track] = shares.get(track, 0.0) + 1 / total
    return shares
