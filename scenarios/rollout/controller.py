"""Running a rollout on the local platform (the effects; `plan` decides, `analysis` judges):

release (own checkout + venv) → its migrations (expand) → its replicas beside the serving
ones (same count and zones), labelled by version in Prometheus → users' traffic → per step:
nginx weights (graceful reload), counters per version judged against the SLA lines →
breach: all traffic back to the serving version, new replicas removed → else promoted
(canary) or switched with the old version kept in standby (blue-green)
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from runs.spec import load_spec
from scenarios.rollout import measure
from scenarios.rollout.analysis import Counters, Measured, Thresholds, judge, thresholds_from_spec
from scenarios.rollout.outcome import (
    PROMOTED,
    ROLLED_BACK,
    SWITCHED,
    SWITCHED_BACK,
    RolloutOutcome,
    StepRecord,
)
from scenarios.rollout.plan import (
    NEW_TRACK,
    STABLE,
    STANDBY,
    Releases,
    RolloutInputError,
    Step,
    as_track,
    check_services,
    new_replicas,
    split,
    steps,
)
from scenarios.rollout.traffic import PreviewError, Traffic, TrafficRoute, preview, routes_for
from simulation.backing.processes import fixed_ports
from simulation.platforms.local import datainit_environment
from simulation.platforms.local_plan import LocalLayout, LocalPlan
from simulation.platforms.local_release import REPO_ROOT, Release, prepare_release
from simulation.platforms.local_tracks import (
    ProgramControl,
    ReleaseDataInit,
    TrackReplica,
    add_programs,
    apply_split,
    base_track,
    remove_programs,
    scrape_versions,
    track_program,
)
from simulation.platforms.readiness import wait_ready
from simulation.state import DeploymentState, load_state, save_state

POLL_S = 1.0
LEAD_IN_S = 2.0  # users' traffic on the serving version alone before the first shift
TAIL_S = 2.0  # and after the last change, so the report shows it settled
# Direct requests a new replica answers before users reach it: they prove each route answers
# and warm its caches and pools (a cold replica's first answers are several times slower).
WARM_UP_PER_ROUTE = 20


def deployed_version(repo: Path = REPO_ROOT) -> str:
    """The working tree the deployment was started from: `git describe --always --dirty`."""
    proc = subprocess.run(
        ["git", "-C", str(repo), "describe", "--always", "--dirty"],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    return proc.stdout.strip() or "deployed"


class LocalRollout:
    def __init__(
        self,
        run_dir: Path,
        *,
        console: Console,
        pause_s: float = 30.0,
        rate_rps: float = 40.0,
        ready_timeout_s: float = 300.0,
        spec: str = "prod",
    ) -> None:
        self.run_dir = run_dir
        self.console = console
        self.pause_s = pause_s
        self.rate_rps = rate_rps
        self.ready_timeout_s = ready_timeout_s
        self.state = self._state()
        self.plan = LocalPlan.from_dict(self.state.details["plan"])
        if self.plan.monitoring is None:
            raise RolloutInputError(
                "the deployment has no Prometheus to judge a rollout by: deploy prod-sim, or dev "
                "with --monitoring"
            )
        self.prometheus = self.plan.monitoring.prometheus_url
        self.layout = LocalLayout(run_dir)
        self.control = ProgramControl(self.layout.supervisor.socket)
        self.releases = Releases.from_dict(self.state.details.get("rollout"))
        # SPEC.md's rollback rule is production's, whatever profile rehearses it.
        self.thresholds: Thresholds = thresholds_from_spec(load_spec(spec))

    def _state(self) -> DeploymentState:
        state = load_state(self.run_dir)
        if state is None or state.platform != "local":
            raise RolloutInputError(
                f"no local deployment in {self.run_dir}: run `nox -s deploy-prod-sim` first "
                "(rollouts run on the local platform; kind and AKS use Argo Rollouts)"
            )
        if state.details.get("phase") != "running":
            raise RolloutInputError(f"the deployment in {self.run_dir} is not running")
        return state

    def _save(self) -> None:
        self.state.details["rollout"] = self.releases.to_dict()
        save_state(self.run_dir, self.state)

    def serving(self, services: Sequence[str]) -> list[TrackReplica]:
        found: list[TrackReplica] = []
        for s in services:
            found += as_track(self.releases.serving_of(s), STABLE) or base_track(
                self.plan, [s], deployed_version()
            )
        return found

    def _others(self, services: Sequence[str]) -> dict[str, list[int]]:
        """nginx upstreams of services this rollout leaves alone but an earlier one replaced."""
        return {
            r.service: [x.port for x in self.releases.serving_of(r.service)]
            for r in self.releases.serving
            if r.service not in services
        }

    # ------------------------------------------------------------------ a new version

    def run(self, strategy: str, service: str, version: str, fault: str | None) -> RolloutOutcome:
        services = check_services(service, self.plan.services)
        plan_steps = steps(strategy, self.pause_s)
        self._retire_standby(services)
        stable = self.serving(services)
        revision = self.releases.revision + 1
        began = time.time()
        release = self._release(version)
        prepared = time.time() - began
        track = NEW_TRACK[strategy]
        label = version + ("+fault" if fault else "")
        new = new_replicas(stable, track, label, revision, fixed_ports(len(stable)))
        outcome = RolloutOutcome(
            strategy, services, version, release.commit, revision,
            {STABLE: stable[0].version, track: label},
            {**{r.port: STABLE for r in stable}, **{r.port: track for r in new}},
            self.thresholds, began, prepare_s=prepared,
        )  # fmt: skip
        traffic = Traffic(self.plan.base_url, _routes(services), self.rate_rps).prepare()
        try:
            outcome.ready_s = self._start(release, new, stable, fault)
            try:
                # blue-green: green is checked before the switch (Argo's pre-promotion
                # analysis); a canary is judged on its share of users' traffic alone.
                wrong = preview(
                    self.plan.base_url, new, _routes(services), WARM_UP_PER_ROUTE,
                    strict=strategy == "blue-green",
                )  # fmt: skip
            except PreviewError as exc:
                traffic.stop()
                self._roll_back(outcome, stable, new, track, reason=f"before any user: {exc}")
                outcome.finished = time.time()
                return outcome
            self.console.print(
                f"  {track} answers every route directly ({len(new)} replicas, "
                f"{WARM_UP_PER_ROUTE} requests a route each to warm them)"
                + (f"; {wrong} replica(s) answered a warm-up request wrongly" if wrong else "")
            )
            self._drive(outcome, traffic, plan_steps, stable, new, track)
        except BaseException:
            traffic.stop()
            if not outcome.decision:  # whatever failed, users go back to the serving version
                self._roll_back(outcome, stable, new, track, reason=None)
            raise
        return outcome

    def _release(self, version: str) -> Release:
        with self.console.status(f"checking out and installing {version}"):
            release = prepare_release(version, root=self.run_dir / "releases")
        self.console.print(f"  release {version} = {release.commit[:12]} in {release.directory}")
        return release

    def _start(
        self,
        release: Release,
        new: list[TrackReplica],
        stable: list[TrackReplica],
        fault: str | None,
    ) -> float:
        """Expand the schema with the release's migrations, start its replicas, have Prometheus
        scrape them; the seconds until they were ready."""
        datainit = ReleaseDataInit(
            release,
            environment=datainit_environment(self.plan),
            services=self.plan.services,
            logs=self.layout.logs,
            console=self.console,
        )
        with self.console.status("schema: the new version's migrations (expand)"):
            began = time.monotonic()
            datainit.run("schema", timeout_s=120)
        self.console.print(
            f"  schema: the new version's migrations ({time.monotonic() - began:.1f} s)"
        )
        extra = {"TRIPGEN_FAULT": fault} if fault else {}
        programs = [track_program(self.plan, r, self.layout, release, extra) for r in new]
        add_programs(self.layout, self.control, programs)
        for program in programs:
            self.control.start(program.name, wait=False)
        ready_s = wait_ready(
            new,
            states=self.control.all_info,
            log_of=self.layout.log,
            console=self.console,
            timeout_s=self.ready_timeout_s,
        )
        scrape_versions(self.plan, [*self.releases.serving, *stable, *new])
        took = measure.wait_scraped(self.prometheus, [r.name for r in new])
        self.console.print(f"  Prometheus scrapes the new replicas ({took:.1f} s)")
        return ready_s

    def _drive(
        self,
        outcome: RolloutOutcome,
        traffic: Traffic,
        plan_steps: list[Step],
        stable: list[TrackReplica],
        new: list[TrackReplica],
        track: str,
    ) -> None:
        traffic.start()
        self.console.print(
            f"  users' traffic: {self.rate_rps:g} requests/s ({traffic.setup_s:.1f} s to log in)"
        )
        try:
            time.sleep(LEAD_IN_S)
            for step in plan_steps:
                record = self._step(outcome, step, stable, new, track)
                outcome.steps.append(record)
                if record.result != "passed":
                    why = "; ".join(record.judgement.breaches) if record.judgement else ""
                    reason = why or (
                        f"inconclusive: the new version served too few requests to judge "
                        f"(< {self.thresholds.min_requests}) in the step"
                    )
                    self._roll_back(outcome, stable, new, track, reason=reason)
                    break
            else:
                self._promote(outcome, stable, new)
            time.sleep(TAIL_S)
        finally:
            outcome.answers = traffic.stop()
            outcome.finished = time.time()

    def _step(
        self,
        outcome: RolloutOutcome,
        step: Step,
        stable: list[TrackReplica],
        new: list[TrackReplica],
        track: str,
    ) -> StepRecord:
        start = measure.snapshot(self.prometheus, outcome.services)
        reload = apply_split(
            self.plan, self.layout, [*stable, *new], split(outcome.services, track, step.percent),
            others=self._others(outcome.services),
        )  # fmt: skip
        record = StepRecord(step.label, step.percent, reload.applied, reload.applied, reload)
        self.console.print(f"  {track} at {step.label}: judging for {step.pause_s:g} s …")
        give_up = step.pause_s + max(60.0, 3 * step.pause_s)
        while True:
            time.sleep(POLL_S)
            record.measured = self._measured(start, stable, new, track)
            judged = judge(record.measured[track], self.thresholds)
            record.judgement = judged
            elapsed = time.time() - record.started
            record.ended = time.time()
            if judged.breach:
                outcome.breach_at = record.ended
                record.result = "breach"
                break
            if judged.conclusive and elapsed >= step.pause_s:
                break
            if elapsed >= give_up:
                record.result = "inconclusive"
                break
        self.console.print(f"    {record.result}: {_numbers(record.measured[track])}")
        return record

    def _measured(
        self,
        start: dict[str, Counters],
        stable: list[TrackReplica],
        new: list[TrackReplica],
        track: str,
    ) -> dict[str, Measured]:
        now = measure.snapshot(self.prometheus, [r.service for r in new])
        return {
            t: Measured.of(measure.track_delta(now, start, [r.name for r in rs]))
            for t, rs in ((STABLE, stable), (track, new))
        }

    def _roll_back(
        self,
        outcome: RolloutOutcome,
        stable: list[TrackReplica],
        new: list[TrackReplica],
        track: str,
        reason: str | None,
    ) -> None:
        """Every request back to the serving version (graceful nginx reload), then the new
        version's replicas removed."""
        outcome.breach_at = outcome.breach_at or time.time()
        outcome.rollback = apply_split(
            self.plan, self.layout, [*stable, *new], split(outcome.services, track, 0),
            others=self._others(outcome.services),
        )  # fmt: skip
        remove_programs(self.layout, self.control, [r.name for r in new])
        scrape_versions(self.plan, [*self.releases.serving, *stable], retired=[r.name for r in new])
        self.releases.revision = outcome.revision
        self._save()
        outcome.decision = ROLLED_BACK
        outcome.reason = reason or "the rollout was interrupted"

    def _promote(
        self, outcome: RolloutOutcome, stable: list[TrackReplica], new: list[TrackReplica]
    ) -> None:
        """Canary: the old version's replicas stop. Blue-green: they stay up, out of nginx, for a
        fast switch back."""
        kept = [r for r in self.releases.serving if r.service not in outcome.services]
        self.releases.serving = kept + as_track(new, STABLE)
        self.releases.revision = outcome.revision
        if outcome.strategy == "blue-green":
            self.releases.standby += as_track(stable, STANDBY)
            scrape_versions(self.plan, [*self.releases.serving, *self.releases.standby])
            outcome.decision = SWITCHED
            outcome.reason = "green served every request within the SLA lines; blue kept in standby"
        else:
            self._stop_replicas(stable)
            scrape_versions(self.plan, self.releases.serving, retired=[r.name for r in stable])
            outcome.decision = PROMOTED
            outcome.reason = "every step within the SLA lines"
        self._save()

    def _stop_replicas(self, replicas: Sequence[TrackReplica]) -> None:
        own = {r.name for r in self.plan.replicas}
        for r in replicas:
            if r.name in own:  # the deployment's own programs stay defined, stopped
                self.control.stop(r.name, wait=False)
        remove_programs(self.layout, self.control, [r.name for r in replicas if r.name not in own])

    def _retire_standby(self, services: Sequence[str]) -> None:
        kept = [r for r in self.releases.standby if r.service in services]
        if kept:
            self.console.print(f"  retiring the standby of {', '.join(services)} first")
            self._stop_replicas(kept)
            self.releases.standby = [r for r in self.releases.standby if r.service not in services]
            self._save()

    # ------------------------------------------------------------------ blue-green switch back

    def switch_back(self, service: str) -> RolloutOutcome:
        """All traffic back to the standby version at once; the current one becomes standby."""
        services = check_services(service, self.plan.services)
        standby = as_track([r for r in self.releases.standby if r.service in services], STANDBY)
        missing = [s for s in services if not any(r.service == s for r in standby)]
        if missing:
            raise RolloutInputError(
                f"nothing to switch back to for {', '.join(missing)}: no standby version "
                "(a blue-green rollout keeps one)"
            )
        serving = self.serving(services)
        outcome = RolloutOutcome(
            "blue-green", services, standby[0].version, "", self.releases.revision,
            {STABLE: serving[0].version, STANDBY: standby[0].version},
            {**{r.port: STABLE for r in serving}, **{r.port: STANDBY for r in standby}},
            self.thresholds, time.time(),
        )  # fmt: skip
        traffic = Traffic(self.plan.base_url, _routes(services), self.rate_rps).start()
        try:
            time.sleep(LEAD_IN_S)
            start = measure.snapshot(self.prometheus, services)
            reload = apply_split(
                self.plan, self.layout, [*serving, *standby], split(services, STANDBY, 100),
                others=self._others(services),
            )  # fmt: skip
            record = StepRecord("switch back", 100, reload.applied, reload.applied, reload)
            time.sleep(self.pause_s)
            record.measured = self._measured(start, serving, standby, STANDBY)
            record.ended, record.result = time.time(), "measured"
            outcome.steps.append(record)
            time.sleep(TAIL_S)
        finally:
            outcome.answers = traffic.stop()
            outcome.finished = time.time()
        keep = [r for r in self.releases.serving if r.service not in services]
        rest = [r for r in self.releases.standby if r.service not in services]
        self.releases.serving = keep + as_track(standby, STABLE)
        self.releases.standby = rest + as_track(serving, STANDBY)
        self._save()
        outcome.decision, outcome.reason = SWITCHED_BACK, "every request on the standby version"
        return outcome


def _routes(services: Sequence[str]) -> list[TrafficRoute]:
    return [r for s in services for r in routes_for(s)]


def _numbers(m: Measured) -> str:
    p95 = "—" if m.p95_ms is None else f"{m.p95_ms:.0f} ms"
    return f"{m.requests:.0f} requests, {m.errors:.0f} errors ({m.error_rate:.2%}), p95 {p95}"
