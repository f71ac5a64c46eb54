"""The local platform's plan and programs (no process is started here; the e2e test does that)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from simulation.backing.processes import PORT_RANGE
from simulation.platforms import local_ha, procfs
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
    assert env["TRIPGEN_RATE_LIMIT_PER_MINUTE"] == "0"  # --env wins


def test_prod_services_reach_whichever_node_is_primary(plan: LocalPlan) -> None:
    assert plan.ha is not None
    env = service_environment(plan)
    pg = [plan.ha.ports[n] for n in local_ha.PG_NODES]
    assert env["TRIPGEN_DATABASE_URL"] == (
        f"postgresql://tripgen:tripgen@127.0.0.1:{pg[0]},127.0.0.1:{pg[1]}/tripgen"
        "?target_session_attrs=read-write&connect_timeout=2"
    )
    sentinels = ",".join(f"127.0.0.1:{plan.ha.ports[s]}" for s in local_ha.SENTINELS)
    assert env["TRIPGEN_REDIS_URL"] == (
        f"redis+sentinel://:{plan.ha.redis_password}@{sentinels}/tripgen/0"
    )


def test_dev_stays_light(tmp_path: Path) -> None:
    dev = make_plan("dev", backing_dir=tmp_path)
    assert dev.ha is None and dev.monitoring is None
    env = service_environment(dev)
    assert env["TRIPGEN_DATABASE_URL"].endswith(f"127.0.0.1:{dev.postgres_port}/tripgen")
    assert env["TRIPGEN_REDIS_URL"] == f"redis://127.0.0.1:{dev.redis_port}/0"
    watched = make_plan("dev", backing_dir=tmp_path, monitoring=True)
    assert watched.monitoring is not None and watched.ha is None
    assert watched.monitoring.programs == [
        "prometheus", "nginx-exporter", "redis-exporter", "postgres-exporter-1"
    ]  # fmt: skip


def test_every_ha_member_has_a_zone_and_a_zone_outage_leaves_a_quorum(plan: LocalPlan) -> None:
    assert plan.ha is not None
    ha = plan.ha
    assert set(ha.ports) == set(local_ha.MEMBERS)
    assert [ha.zone(n) for n in local_ha.PG_NODES] == ["zone-1", "zone-2"]
    assert [ha.zone(n) for n in local_ha.REDIS_NODES] == ["zone-1", "zone-2"]
    assert ha.zone(local_ha.PG_MONITOR) == "zone-3"
    for zone in ("zone-1", "zone-2", "zone-3"):
        lost = set(ha.members_in(zone))
        assert len(set(local_ha.SENTINELS) - lost) >= 2  # Sentinel quorum
        assert len(set(local_ha.PG_NODES) - lost) >= 1
        assert len(set(local_ha.REDIS_NODES) - lost) >= 1
    # The primaries' zone holds both first primaries: its outage fails both stores over.
    assert {"pg-1", "redis-1"} <= set(ha.members_in("zone-1"))


def test_ports_stay_below_the_ephemeral_range(plan: LocalPlan) -> None:
    low, high = PORT_RANGE
    assert high <= 32768
    assert all(low <= port < high for port in plan.ports())
    assert len(plan.ports()) == len(plan.replicas) + 1 + len(local_ha.MEMBERS) + 6


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


def test_programs_supervise_replicas_and_dependencies(tmp_path: Path) -> None:
    plan = make_plan("dev", backing_dir=tmp_path / "backing")
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


def test_prod_programs_are_ha_members_that_stay_lost_and_monitoring(
    plan: LocalPlan, tmp_path: Path
) -> None:
    layout = LocalLayout(tmp_path / "run")
    by_name = {p.name: p for p in programs(plan, layout, Path("/usr/sbin/nginx"))}
    assert plan.monitoring is not None
    assert set(by_name) == {
        *local_ha.MEMBERS,
        "nginx",
        *plan.monitoring.programs,
        *(r.name for r in plan.replicas),
    }
    for member in local_ha.MEMBERS:
        program = by_name[member]
        assert program.autorestart is False  # a killed member is a lost machine
        assert program.autostart is False  # started in order by the deploy
        if os.geteuid() == 0:
            assert program.user is not None
    node = by_name["pg-1"]
    assert node.command[1:4] == ["create", "postgres", "--pgdata"]
    assert node.command[-1] == "--run"  # re-entrant: the same command resumes a lost node
    assert node.stopsignal == "INT" and node.stop_as_group is False
    assert "XDG_CONFIG_HOME" in node.environment
    assert by_name["sentinel-1"].command[0].endswith("redis-sentinel")
    assert plan.monitoring.programs == [
        "prometheus", "nginx-exporter", "redis-exporter",
        "postgres-exporter-1", "postgres-exporter-2",
    ]  # fmt: skip
    assert by_name["prometheus"].autorestart is True


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
