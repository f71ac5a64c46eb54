"""The local platform's plan and programs (no process is started here; the e2e test does that)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from simulation.platforms import procfs
from simulation.platforms.base import NotDeployed, PlatformError
from simulation.platforms.local import LocalPlatform, datainit_environment
from simulation.platforms.local_plan import (
    RUN_ID_ENV,
    LocalLayout,
    LocalPlan,
    free_ports,
    make_plan,
    programs,
    service_environment,
    supervisord_environment,
)
from simulation.state import DeploymentState, save_state


@pytest.fixture
def plan(tmp_path: Path) -> LocalPlan:
    return make_plan(
        "prod",
        backing_dir=tmp_path / "backing",
        extra_env={"TRIPGEN_RATE_LIMIT_PER_MINUTE": "0"},
        services=("user", "trip", "ai", "location"),
    )


def test_plan_places_prod_replicas_on_distinct_ports_and_zones(plan: LocalPlan) -> None:
    assert set(plan.services) == {"user", "trip", "ai", "location"}
    ports = [r.port for r in plan.replicas] + [plan.nginx_port, plan.postgres_port, plan.redis_port]
    assert len(set(ports)) == len(ports)
    expected = {"user": 3, "trip": 3, "ai": 2, "location": 2}
    for service in plan.services:
        replicas = plan.replicas_of(service)
        assert len(replicas) == expected[service]
        assert [r.zone for r in replicas] == ["zone-1", "zone-2", "zone-3"][: len(replicas)]
    assert plan.base_url == f"http://127.0.0.1:{plan.nginx_port}"
    assert len(plan.jwt_secret) >= 48


def test_plan_survives_the_state_file(plan: LocalPlan) -> None:
    assert LocalPlan.from_dict(plan.to_dict()) == plan


def test_a_deploy_can_name_its_services(tmp_path: Path) -> None:
    only = make_plan("dev", backing_dir=tmp_path, services=("user",))
    assert only.services == ("user",)


def test_services_talk_to_each_other_through_nginx(plan: LocalPlan) -> None:
    env = service_environment(plan)
    for service in ("USER", "TRIP", "AI", "LOCATION"):
        assert env[f"TRIPGEN_{service}_URL"] == plan.base_url
    assert env["TRIPGEN_PROFILE"] == "prod"
    assert env["TRIPGEN_JWT_SECRET"] == plan.jwt_secret  # prod refuses to start without one
    assert env["TRIPGEN_DATABASE_URL"].endswith(f"127.0.0.1:{plan.postgres_port}/tripgen")
    assert env["TRIPGEN_REDIS_URL"] == f"redis://127.0.0.1:{plan.redis_port}/0"
    assert env["TRIPGEN_RATE_LIMIT_PER_MINUTE"] == "0"  # --env wins


def test_the_data_init_loads_the_sample_set_even_for_prod_sim(plan: LocalPlan) -> None:
    env = datainit_environment(plan)
    assert env["TRIPGEN_PROFILE"] == "prod"
    assert env["TRIPGEN_DATAINIT_PROFILE"] == "dev"


def test_supervisord_environment_is_marked_and_not_the_shell_s(
    plan: LocalPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPORT", "1")
    monkeypatch.setenv("TRIPGEN_PROFILE", "dev")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    env = supervisord_environment(plan)
    assert env[RUN_ID_ENV] == plan.run_id
    assert "PGPORT" not in env
    assert "TRIPGEN_PROFILE" not in env
    assert "PYTHONDONTWRITEBYTECODE" not in env


def test_programs_supervise_replicas_and_dependencies(plan: LocalPlan, tmp_path: Path) -> None:
    (plan.postgres_dir).mkdir(parents=True)
    (plan.redis_dir).mkdir(parents=True)
    layout = LocalLayout(tmp_path / "run")
    by_name = {p.name: p for p in programs(plan, layout, Path("/usr/sbin/nginx"))}
    assert set(by_name) == {"postgresql", "redis", "nginx", *(r.name for r in plan.replicas)}
    pg = by_name["postgresql"]
    assert pg.stopsignal == "INT"  # fast shutdown
    assert pg.stop_as_group is False
    assert pg.autostart is False  # handed over after bootstrap
    if os.geteuid() == 0:
        assert pg.user is not None  # PostgreSQL refuses root
    first = plan.replicas[0]
    replica = by_name[first.name]
    assert replica.command == [sys.executable, "-m", f"services.{first.service}"]
    assert replica.autorestart is True
    assert replica.autostart is False
    assert replica.environment["TRIPGEN_PORT"] == str(first.port)
    assert replica.environment["TRIPGEN_ZONE"] == first.zone
    assert replica.environment["TRIPGEN_REPLICA"] == first.name
    assert replica.environment["TRIPGEN_LOG_JSON"] == "true"
    assert replica.log_file == layout.logs / f"{first.name}.log"
    assert by_name["redis"].priority < by_name["nginx"].priority < replica.priority


def test_free_ports_are_distinct_and_unused() -> None:
    ports = free_ports(20)
    assert len(set(ports)) == 20
    assert not set(ports) & procfs.listening_ports()


def test_operations_without_a_deployment_say_so(tmp_path: Path) -> None:
    platform = LocalPlatform(tmp_path)
    for operation in (
        platform.endpoints,
        platform.status,
        lambda: platform.kill_replica("user"),
        lambda: platform.zone_outage("zone-1"),
        lambda: platform.stop_dependency("redis"),
    ):
        with pytest.raises(NotDeployed, match="nothing is deployed"):
            operation()
    platform.down()  # nothing to stop is not an error


def test_local_refuses_to_act_on_another_platform_s_deployment(tmp_path: Path) -> None:
    save_state(tmp_path, DeploymentState("kind", "prod", "http://127.0.0.1"))
    with pytest.raises(PlatformError, match="runs on 'kind'"):
        LocalPlatform(tmp_path).status()
