"""Profiles: replica counts from SPEC.md and zone placement of the local replicas."""

from __future__ import annotations

import pytest

from simulation.profiles import (
    LOCAL_ZONES,
    SERVICE_PATHS,
    SERVICES,
    UnknownProfile,
    check_dependency,
    check_service,
    local_zone,
    profile,
    zone_index,
)


def test_prod_replicas_follow_spec_prod_v2_column() -> None:
    # SPEC.md › Compute › Per-service resources, prod v2 (001): user 3, trip 3, ai 2, location 2.
    assert dict(profile("prod").replicas) == {"user": 3, "trip": 3, "ai": 2, "location": 2}
    assert profile("prod").total_replicas == 10


def test_dev_runs_one_replica_of_each_service() -> None:
    # SPEC.md › Compute › Per-service resources, dev (004): 1 replica each.
    assert dict(profile("dev").replicas) == dict.fromkeys(SERVICES, 1)


def test_replicas_spread_over_zones_round_robin_per_service() -> None:
    specs = profile("prod").replica_specs()
    placed = {(r.name, r.zone) for r in specs}
    assert ("user-1", "zone-1") in placed
    assert ("user-2", "zone-2") in placed
    assert ("user-3", "zone-3") in placed
    assert ("ai-1", "zone-1") in placed
    assert ("ai-2", "zone-2") in placed
    assert {r.zone for r in specs} == set(LOCAL_ZONES)
    # every service with ≥ 2 replicas survives the loss of any one zone
    for zone in LOCAL_ZONES:
        survivors = {r.service for r in specs if r.zone != zone}
        assert survivors == set(SERVICES)


def test_unknown_profile_names_the_choices() -> None:
    with pytest.raises(UnknownProfile, match="dev, prod"):
        profile("staging")


@pytest.mark.parametrize(
    ("spelling", "index"),
    [("zone-2", 2), ("koreacentral-3", 3), ("1", 1), (" Zone-1 ", 1)],
)
def test_zone_index_accepts_local_and_aks_spellings(spelling: str, index: int) -> None:
    assert zone_index(spelling) == index
    assert local_zone(spelling) == f"zone-{index}"


@pytest.mark.parametrize("bad", ["zone-4", "westeurope", "", "zone-"])
def test_unknown_zone_is_rejected(bad: str) -> None:
    with pytest.raises(UnknownProfile, match="unknown zone"):
        zone_index(bad)


def test_service_and_dependency_names_are_checked() -> None:
    assert check_service("trip") == "trip"
    assert check_dependency("postgres") == "postgresql"
    with pytest.raises(UnknownProfile):
        check_service("payments")
    with pytest.raises(UnknownProfile):
        check_dependency("kafka")


def test_every_service_has_an_ingress_path() -> None:
    assert set(SERVICE_PATHS) == set(SERVICES)
    assert SERVICE_PATHS["location"] == "/api/locations"
