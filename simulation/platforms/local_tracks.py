"""A second version's replicas beside a local deployment's own, and the controls a rollout
needs: supervisord programs added and removed while the deployment runs, Prometheus told which
version each replica is (`version` label), nginx's upstream weights between the versions.

A track is one version of the rolled-out services: `stable` (what runs now) or the new one
(`canary`, or `green` for blue-green). The new track's replicas mirror the stable ones of each
service (same count, same zones) and run from a `Release` (local_release): its own checkout and
venv, its own `python -P -m services.<name>` so nothing of this checkout is imported.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from simulation.platforms import nginx
from simulation.platforms.base import PlatformError
from simulation.platforms.datainit import DataInit
from simulation.platforms.local_plan import (
    LocalLayout,
    LocalPlan,
    PlannedReplica,
    replica_program,
)
from simulation.platforms.local_release import Release
from simulation.platforms.supervisor import Program, SupervisorClient, render_supervisord_conf
from simulation.profiles import SERVICES

JOB = "tripgen"


@dataclass(frozen=True)
class TrackReplica(PlannedReplica):
    """A replica of one version: `location-canary-1`, `user-stable-2` (the deployment's own
    replicas keep their names, e.g. `user-2`, as the `stable` track of the first rollout)."""

    track: str = "stable"
    version: str = ""
    program: str = ""  # the supervisord program; the deployment's own: `<service>-<index>`

    @property
    def name(self) -> str:
        return self.program or f"{self.service}-{self.track}-{self.index}"


def replica_from_dict(raw: Mapping[str, Any]) -> TrackReplica:
    return TrackReplica(**dict(raw))


def base_track(plan: LocalPlan, services: Iterable[str], version: str) -> list[TrackReplica]:
    """The deployment's own replicas of `services` as the stable track."""
    return [
        TrackReplica(r.service, r.index, r.zone, r.port, "stable", version, r.name)
        for s in services
        for r in plan.replicas_of(s)
    ]


def track_program(
    plan: LocalPlan,
    replica: TrackReplica,
    layout: LocalLayout,
    release: Release,
    extra_env: Mapping[str, str],
) -> Program:
    """The deployment's replica program, run by the release's interpreter from its checkout."""
    base = replica_program(plan, replica, layout)
    env = {**base.environment, "PYTHONPATH": str(release.checkout), **extra_env}
    return dataclasses.replace(
        base,
        command=[str(release.python), "-P", "-m", f"services.{replica.service}"],
        environment=env,
        directory=release.checkout,
    )


class ReleaseDataInit(DataInit):
    """The data init steps run by a release's own code (its migrations: the expand step)."""

    def __init__(self, release: Release, **kwargs: Any) -> None:
        env = dict(kwargs.pop("environment"))
        env["PYTHONPATH"] = str(release.checkout)
        super().__init__(environment=env, **kwargs)
        self.release = release

    def command(self, step: str) -> list[str]:
        return [str(self.release.python), "-P", "-m", "services.datainit", step]


# ---------------------------------------------------------------------------- supervisord


class ProgramControl(SupervisorClient):
    """Adding and removing programs of a running supervisord (its documented XML-RPC calls)."""

    def reload_config(self) -> tuple[list[str], list[str], list[str]]:
        added, changed, removed = self._call("reloadConfig")[0]
        return list(added), list(changed), list(removed)

    def add_group(self, name: str) -> None:
        try:
            self._call("addProcessGroup", name)
        except Exception as exc:
            if "ALREADY_ADDED" not in str(exc):
                raise

    def remove_group(self, name: str) -> None:
        try:
            self._call("removeProcessGroup", name)
        except Exception as exc:
            if "BAD_NAME" not in str(exc):
                raise


_SECTION = re.compile(r"^\[program:(?P<name>[^\]]+)\]$", re.MULTILINE)


def without_sections(conf: str, names: Iterable[str]) -> str:
    """supervisord.conf text without the `[program:NAME]` sections of `names`."""
    drop = set(names)
    starts = [(m.start(), m["name"]) for m in _SECTION.finditer(conf)]
    kept, cursor = [], 0
    for i, (start, name) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(conf)
        if name in drop:
            kept.append(conf[cursor:start])
            cursor = end
    kept.append(conf[cursor:])
    return "".join(kept)


def add_programs(layout: LocalLayout, client: ProgramControl, programs: Sequence[Program]) -> None:
    """Append the programs' sections to supervisord.conf and have supervisord load them."""
    paths = layout.supervisor
    current = without_sections(paths.conf.read_text(), [p.name for p in programs])
    rendered = render_supervisord_conf(paths, programs)
    sections = rendered[rendered.index("[program:") :]
    paths.conf.write_text(current.rstrip("\n") + "\n\n" + sections)
    client.reload_config()
    for program in programs:
        client.add_group(program.name)


def remove_programs(layout: LocalLayout, client: ProgramControl, names: Sequence[str]) -> None:
    """Stop the programs, drop them from supervisord and from its config."""
    for name in names:
        client.stop(name, wait=False)
    if names:
        client.wait_for(names, {"STOPPED", "EXITED", "FATAL"}, timeout_s=30)
    paths = layout.supervisor
    paths.conf.write_text(without_sections(paths.conf.read_text(), names))
    client.reload_config()
    for name in names:
        client.remove_group(name)


# ---------------------------------------------------------------------------- Prometheus


def prometheus_config_path(plan: LocalPlan) -> Path:
    if plan.monitoring is None:
        raise PlatformError(
            "the deployment has no Prometheus: a rollout is judged from it; deploy prod, or dev "
            "with --monitoring"
        )
    return Path(plan.monitoring.backing_dir) / "prometheus" / "prometheus.yml"


def scrape_versions(
    plan: LocalPlan, replicas: Sequence[TrackReplica], retired: Iterable[str] = ()
) -> None:
    """Scrape `replicas` with `version` and `track` labels, and the deployment's own replicas
    that are neither among them nor `retired` as they are; reload Prometheus."""
    path = prometheus_config_path(plan)
    config = yaml.safe_load(path.read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == JOB)
    given = {r.name for r in replicas} | set(retired)
    own = {r.name for r in plan.replicas}
    entries = [
        static
        for static in job["static_configs"]
        if static["labels"].get("replica") in own and static["labels"]["replica"] not in given
    ]
    for r in replicas:
        labels = {"service": r.service, "zone": r.zone, "replica": r.name}
        labels |= {"version": r.version, "track": r.track}
        entries.append({"targets": [f"127.0.0.1:{r.port}"], "labels": labels})
    job["static_configs"] = entries
    path.write_text("# Written by simulation/platforms/local_tracks.py\n" + yaml.safe_dump(config))
    assert plan.monitoring is not None
    try:
        answer = httpx.post(f"{plan.monitoring.prometheus_url}/-/reload", timeout=10)
    except httpx.HTTPError as exc:
        raise PlatformError(f"Prometheus reload failed: {exc}") from exc
    if answer.status_code != 200:
        raise PlatformError(f"Prometheus refused the new scrape config: {answer.text[:300]}")


# ---------------------------------------------------------------------------- nginx


@dataclass(frozen=True)
class Split:
    """Which replicas serve each service and with what weight (percent of the service's
    requests per version, spread evenly over that version's replicas)."""

    percent: Mapping[str, Mapping[str, int]]  # service → version track → percent (sums to 100)

    def weights(
        self, replicas: Sequence[TrackReplica]
    ) -> tuple[dict[str, list[int]], dict[int, int]]:
        """nginx upstream ports per service and each port's weight: a version's replicas share
        its percent (weights scaled by the other track's replica count so both are integers)."""
        upstreams: dict[str, list[int]] = {}
        weights: dict[int, int] = {}
        for service, shares in self.percent.items():
            serving = {t: [r for r in replicas if r.service == service and r.track == t]
                       for t, p in shares.items() if p > 0}  # fmt: skip
            counts = {t: len(rs) for t, rs in serving.items()}
            product = 1
            for count in counts.values():
                product *= max(count, 1)
            for track, rs in serving.items():
                if not rs:
                    raise PlatformError(f"{service} has no {track} replica to send traffic to")
                for r in rs:
                    upstreams.setdefault(service, []).append(r.port)
                    weights[r.port] = shares[track] * product // counts[track]
        return upstreams, weights


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = task / "children"
        if children.exists():
            found |= {int(c) for c in children.read_text().split()}
    return found


@dataclass(frozen=True)
class Reload:
    """When nginx took a new configuration: its new workers serve from `applied`; the old ones
    finished their last requests and exited by `drained` (None: still draining at the timeout)."""

    applied: float
    drained: float | None


def apply_split(
    plan: LocalPlan,
    layout: LocalLayout,
    replicas: Sequence[TrackReplica],
    split: Split,
    *,
    others: Mapping[str, Sequence[int]] | None = None,
    drain_timeout_s: float = 30.0,
) -> Reload:
    """Render nginx.conf for `split` (services outside it keep `others`, by default the
    deployment's replicas), check it, and reload nginx gracefully (SIGHUP: new workers take new
    connections, old ones finish what they serve)."""
    upstreams = {s: [r.port for r in plan.replicas_of(s)] for s in SERVICES}
    upstreams.update({s: list(ports) for s, ports in (others or {}).items()})
    weighted, weights = split.weights(replicas)
    upstreams.update(weighted)
    paths = layout.nginx
    binary = nginx.find_nginx(install=False)
    paths.conf.write_text(
        nginx.render_nginx_conf(
            paths=paths,
            listen_port=plan.nginx_port,
            upstreams=upstreams,
            status_port=plan.monitoring.nginx_status_port if plan.monitoring else None,
            weights=weights,
            upstream_header=True,
        )
    )
    try:
        nginx.check_config(binary, paths)
    except ValueError as exc:
        raise PlatformError(str(exc)) from exc
    return reload_nginx(paths, drain_timeout_s)


def reload_nginx(paths: nginx.NginxPaths, drain_timeout_s: float) -> Reload:
    master = int(paths.pid.read_text().strip())
    old = _children(master)
    os.kill(master, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while not (_children(master) - old):
        if time.monotonic() > deadline:
            raise PlatformError(
                f"nginx did not start new workers after a reload; {paths.error_log}"
            )
        time.sleep(0.005)
    applied = time.time()
    deadline = time.monotonic() + drain_timeout_s
    while _children(master) & old:
        if time.monotonic() > deadline:
            return Reload(applied, None)
        time.sleep(0.01)
    return Reload(applied, time.time())
