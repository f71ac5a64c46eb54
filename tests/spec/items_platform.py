"""SPEC.md › Services, Compute, Per-service resources, Autoscaling and disruption (prod)."""

from __future__ import annotations

from tests.spec.model import SpecItem

# Test files cited often; a node id is FILE + "::test_name".
PROD = "tests/chart/test_chart_prod.py::"
DEV = "tests/chart/test_chart_dev.py::"
TOPO = "tests/simulation/k8s/test_topology.py::"
DESIGN = "tests/simulation/k8s/test_design_check.py::"
GAPS = "tests/spec/test_spec_figures.py::"
STORE_IMAGES = "tests/simulation/k8s/test_store_images.py::"

VALUES_DEV = "charts/tripgen/values-dev.yaml"
VALUES_PROD = "charts/tripgen/values-prod.yaml"
TOPOLOGY = "simulation/k8s/topology.py"
NO_AZURE = (
    "an AKS cluster setting: the repository provisions no Azure resources (no Bicep/Terraform); "
    "the chart deploys onto an existing cluster"
)
V1_SUPERSEDED = (
    "superseded by prod v2 under SPEC.md's rule (the prod profile follows 001 where it gives a "
    "figure); no profile renders the v1 column"
)
NO_METRICS_ADAPTER = (
    "no metrics adapter serves it (SPEC.md conflict 5): the prod HPA scales on CPU/memory and "
    "records the metric as an annotation with provider `none`; KEDA is wired for ai only"
)

SERVICES = (
    SpecItem(
        id="svc-port-health",
        section="Services",
        quote="all four listen on 8080; health at /actuator/health, /liveness, /readiness, "
        "/startup",
        implemented_in=("services/kit/health.py", "services/kit/settings.py", VALUES_PROD),
        tested_by=(
            "tests/user/test_tokens_and_resilience.py::test_health_endpoints_and_metrics",
            "tests/trip/test_resilience.py::test_health_and_openapi",
            f"{PROD}test_spec_probes_liveness_restart_after_3_failures",
        ),
    ),
    SpecItem(
        id="svc-user",
        section="Services",
        quote="user-service: user_db; accounts, login (JWT), roles USER/POWER_USER/ADMIN, "
        "profile & preferences",
        implemented_in=("services/user/", "services/user/migrations/"),
        tested_by=(
            "tests/user/test_routes.py::test_login_issues_a_token_pair",
            "tests/user/test_routes.py::test_profile_and_preferences_update",
            "tests/user/test_routes.py::test_only_admins_list_users_or_change_roles",
            "tests/datainit/test_datainit.py::test_schema_sample_validate_and_reload",
        ),
    ),
    SpecItem(
        id="svc-trip",
        section="Services",
        quote="trip-service: trip_db; trips, members, destinations, requests for AI schedules, "
        "trip events",
        implemented_in=("services/trip/", "services/trip/migrations/"),
        tested_by=(
            "tests/trip/test_trips.py::test_create_returns_the_trip_with_me_as_owner",
            "tests/trip/test_members_and_access.py::test_members_are_listed_owner_first",
            "tests/trip/test_schedules_and_events.py::"
            "test_a_schedule_request_reaches_the_ai_queue_with_the_trip_snapshot",
            "tests/trip/test_schedules_and_events.py::test_trip_events_are_published_in_order",
        ),
    ),
    SpecItem(
        id="svc-ai",
        section="Services",
        quote="ai-service: ai_db (JSON columns); itinerary generation, consumes "
        "ai-schedule-generation",
        implemented_in=("services/ai/", "services/ai/migrations/"),
        tested_by=(
            "tests/ai/test_worker.py::"
            "test_a_message_becomes_a_verified_itinerary_with_events_and_a_notification",
            "tests/datainit/test_datainit.py::test_schema_sample_validate_and_reload",
        ),
        note="the JSON columns are PostgreSQL jsonb (services/ai/migrations/); no test inspects "
        "the column types",
    ),
    SpecItem(
        id="svc-location",
        section="Services",
        quote="location-service: location_db (GIS extension); places, nearby & text search",
        implemented_in=("services/location/", "services/location/migrations/"),
        tested_by=(
            "tests/location/test_nearby.py::test_nearby_equals_a_brute_force_haversine_filter",
            "tests/location/test_routes.py::test_search_finds_korean_names",
            "tests/simulation/backing/test_servers.py::test_postgis_and_trigram_work",
        ),
    ),
)

COMPUTE = (
    SpecItem(
        id="compute-k8s-version",
        section="Compute",
        quote="Kubernetes 1.29 (dev, prod v1, prod v2)",
        implemented_in=(TOPOLOGY, "simulation/k8s/chart.py", "kind-config.yaml"),
        tested_by=(
            "tests/chart/test_chart_standards.py::"
            "test_every_profile_validates_against_kubernetes_1_29",
            f"{TOPO}test_prod_sim_nodes",
        ),
        note="manifests validate against the 1.29 schemas and kind's nodes pin 1.29; no 1.29 "
        "cluster has run here",
    ),
    SpecItem(
        id="compute-dev-aks",
        section="Compute",
        quote="dev: Basic tier, Azure CNI",
        out_of_scope=NO_AZURE,
        note="the dev pool's max 30 pods/node (the Azure CNI default) is in the topology model",
    ),
    SpecItem(
        id="compute-prod-aks",
        section="Compute",
        quote="prod: Standard tier, Azure NetworkPolicies, private cluster, Azure AD RBAC",
        out_of_scope=NO_AZURE,
    ),
    SpecItem(
        id="compute-pool-dev",
        section="Compute",
        quote="dev: 2 × Standard_B2s, fixed, zone 1, spot, max 30 pods/node; apps share them",
        implemented_in=(TOPOLOGY, "kind-config.yaml"),
        tested_by=(
            f"{TOPO}test_spec_prod_v1_and_dev_pools",
            f"{TOPO}test_dev_sim_nodes",
            f"{GAPS}test_dev_pool_is_fixed_at_two_nodes",
        ),
    ),
    SpecItem(
        id="compute-pool-v1-system",
        section="Compute",
        quote="prod v1 system pool: 3 × D2s_v3, autoscale 3–5, zones 1,2,3",
        implemented_in=(TOPOLOGY,),
        tested_by=(f"{TOPO}test_spec_prod_v1_and_dev_pools", f"{GAPS}test_prod_v1_pools"),
        note="modelled for design-check's v1-vs-v2 finding; the prod profile follows v2",
    ),
    SpecItem(
        id="compute-pool-v1-application",
        section="Compute",
        quote="prod v1 application pool: 3 × D4s_v3, autoscale 3–10, zones 1,2,3, taint",
        implemented_in=(TOPOLOGY,),
        tested_by=(f"{TOPO}test_spec_prod_v1_and_dev_pools", f"{GAPS}test_prod_v1_pools"),
        note="modelled for design-check's v1-vs-v2 finding; the prod profile follows v2",
    ),
    SpecItem(
        id="compute-pool-v2-system",
        section="Compute",
        quote="prod v2 system pool: 3 × D4s_v3 (4 vCPU, 16 GB), autoscale 3–5, zones 1,2,3",
        implemented_in=(TOPOLOGY, "kind-config.yaml"),
        tested_by=(f"{TOPO}test_spec_prod_v2_pools", f"{TOPO}test_prod_sim_nodes"),
    ),
    SpecItem(
        id="compute-pool-v2-application",
        section="Compute",
        quote="prod v2 application pool: 6 × D8s_v3 (8 vCPU, 32 GB), autoscale 6–20, zones "
        "1,2,3, taint application-workload=true:NoSchedule",
        implemented_in=(TOPOLOGY, "kind-config.yaml", VALUES_PROD),
        tested_by=(
            f"{TOPO}test_spec_prod_v2_pools",
            f"{TOPO}test_prod_sim_nodes",
            f"{PROD}test_spec_application_pool_taint_and_affinity",
        ),
    ),
    SpecItem(
        id="compute-placement-zones",
        section="Compute",
        quote="placement: spread evenly across zones",
        implemented_in=(VALUES_PROD, "charts/tripgen/templates/deployment.yaml"),
        tested_by=(
            f"{PROD}test_spec_placement_zone_spread",
            "tests/simulation/platforms/test_profiles.py::"
            "test_replicas_spread_over_zones_round_robin_per_service",
        ),
    ),
    SpecItem(
        id="compute-placement-anti-affinity",
        section="Compute",
        quote="placement: anti-affinity, same service on different nodes",
        implemented_in=(VALUES_PROD, "charts/tripgen/templates/deployment.yaml"),
        tested_by=(
            f"{PROD}test_spec_placement_anti_affinity_by_hostname",
            f"{DESIGN}test_anti_affinity_vs_nodes_after_zone_loss",
        ),
    ),
)

_RES_DEV = "test_spec_per_service_resources_dev"
_RES_V2 = ("test_spec_per_service_resources_prod_v2", "test_spec_per_service_replicas_prod_v2")
_LOCAL_REPLICAS = (
    "tests/simulation/platforms/test_profiles.py::test_prod_replicas_follow_spec_prod_v2_column"
)

RESOURCES = (
    SpecItem(
        id="res-dev-user",
        section="Per-service resources",
        quote="user, dev: 50m/128Mi → 200m/256Mi, 1",
        implemented_in=(VALUES_DEV,),
        tested_by=(f"{DEV}{_RES_DEV}[user]",),
    ),
    SpecItem(
        id="res-dev-trip",
        section="Per-service resources",
        quote="trip, dev: 100m/256Mi → 500m/512Mi, 1",
        implemented_in=(VALUES_DEV,),
        tested_by=(f"{DEV}{_RES_DEV}[trip]",),
    ),
    SpecItem(
        id="res-dev-ai",
        section="Per-service resources",
        quote="ai, dev: 200m/512Mi → 1000m/1Gi, 1",
        implemented_in=(VALUES_DEV,),
        tested_by=(f"{DEV}{_RES_DEV}[ai]",),
    ),
    SpecItem(
        id="res-dev-location",
        section="Per-service resources",
        quote="location, dev: 50m/128Mi → 200m/256Mi, 1",
        implemented_in=(VALUES_DEV,),
        tested_by=(f"{DEV}{_RES_DEV}[location]",),
    ),
    SpecItem(
        id="res-prod-v1",
        section="Per-service resources",
        quote="prod v1: user 200m/512Mi → 1000m/1Gi ×3, trip 500m/1Gi → 2000m/2Gi ×3, "
        "ai 1000m/2Gi → 4000m/4Gi ×2, location 200m/512Mi → 1000m/1Gi ×2",
        out_of_scope=V1_SUPERSEDED,
    ),
    SpecItem(
        id="res-prod-v2-user",
        section="Per-service resources",
        quote="user, prod v2: 500m/1Gi → 2000m/2Gi, 3",
        implemented_in=(VALUES_PROD, "simulation/profiles.py"),
        tested_by=(*(f"{PROD}{t}[user]" for t in _RES_V2), _LOCAL_REPLICAS),
    ),
    SpecItem(
        id="res-prod-v2-trip",
        section="Per-service resources",
        quote="trip, prod v2: 1000m/2Gi → 4000m/4Gi, 3",
        implemented_in=(VALUES_PROD, "simulation/profiles.py"),
        tested_by=(*(f"{PROD}{t}[trip]" for t in _RES_V2), _LOCAL_REPLICAS),
    ),
    SpecItem(
        id="res-prod-v2-ai",
        section="Per-service resources",
        quote="ai, prod v2: 2000m/4Gi → 8000m/8Gi, 2",
        implemented_in=(VALUES_PROD, "simulation/profiles.py"),
        tested_by=(*(f"{PROD}{t}[ai]" for t in _RES_V2), _LOCAL_REPLICAS),
    ),
    SpecItem(
        id="res-prod-v2-location",
        section="Per-service resources",
        quote="location, prod v2: 500m/1Gi → 2000m/2Gi, 2",
        implemented_in=(VALUES_PROD, "simulation/profiles.py"),
        tested_by=(*(f"{PROD}{t}[location]" for t in _RES_V2), _LOCAL_REPLICAS),
    ),
    SpecItem(
        id="res-postgresql-dev",
        section="Per-service resources",
        quote="PostgreSQL dev pod: 500m/1Gi → 1000m/2Gi, 20 Gi hostPath, bitnami/postgresql:16, "
        "max_connections 100, shared_buffers 256MB, effective_cache_size 1GB",
        implemented_in=(
            VALUES_DEV,
            "charts/tripgen/templates/postgresql-statefulset.yaml",
            "images/postgres/Dockerfile",
            "simulation/k8s/store_images.py",
        ),
        tested_by=(
            f"{DEV}test_spec_dev_postgresql_pod",
            f"{STORE_IMAGES}test_chart_defaults_name_the_images_the_harness_builds",
            f"{STORE_IMAGES}test_kind_runs_only_images_the_harness_builds_and_loads",
            f"{STORE_IMAGES}test_store_images_install_the_local_platforms_debian_packages",
            f"{STORE_IMAGES}test_store_image_serves_the_rendered_statefulset[postgresql]",
        ),
        note="20 Gi is a volumeClaimTemplate, not a hostPath. Not SPEC's image: "
        "bitnami/postgresql:16 left Docker Hub in 2025, so the chart runs "
        "tripgen-postgresql:15-postgis-3-bookworm, built by the harness from Debian 12's "
        "PostgreSQL 15 + PostGIS (the local platform's packages) and loaded into kind; "
        "PostgreSQL 15, not 16",
    ),
    SpecItem(
        id="res-redis-dev",
        section="Per-service resources",
        quote="Redis dev pod: 100m/256Mi → 500m/1Gi, memory only, bitnami/redis:7.2, maxmemory "
        "512MB, allkeys-lru",
        implemented_in=(
            VALUES_DEV,
            "charts/tripgen/templates/redis-statefulset.yaml",
            "simulation/backing/redis.py",
            "images/redis/Dockerfile",
            "simulation/k8s/store_images.py",
        ),
        tested_by=(
            f"{DEV}test_spec_dev_redis_pod",
            "tests/simulation/backing/test_servers.py::test_redis_is_the_spec_dev_redis",
            f"{STORE_IMAGES}test_chart_defaults_name_the_images_the_harness_builds",
            f"{STORE_IMAGES}test_store_image_serves_the_rendered_statefulset[redis]",
        ),
        note="not SPEC's image: bitnami/redis:7.2 left Docker Hub in 2025, so the chart runs "
        "tripgen-redis:7.0-bookworm, built by the harness from Debian 12's redis-server 7.0 "
        "(images/redis) and loaded into kind",
    ),
    SpecItem(
        id="res-stores-prod-managed",
        section="Per-service resources",
        quote="PostgreSQL and Redis in prod: managed (Azure Flexible Server, Premium)",
        implemented_in=(VALUES_PROD,),
        tested_by=(
            f"{PROD}test_spec_prod_managed_data_stores",
            f"{PROD}test_contract_command_and_env_prod",
        ),
        note="the chart points at managed hosts; creating them is outside the repository",
    ),
)

_HPA = f"{PROD}test_spec_autoscaling_hpa_prod"
_PDB = f"{PROD}test_spec_pdb_min_available_v2"
_CUSTOM = f"{PROD}test_spec_custom_metric_recorded_without_provider"

AUTOSCALING = (
    SpecItem(
        id="hpa-user",
        section="Autoscaling and disruption (prod)",
        quote="user: HPA 3–10, CPU 70% / memory 80%",
        implemented_in=(VALUES_PROD, "charts/tripgen/templates/hpa.yaml"),
        tested_by=(f"{_HPA}[user]",),
    ),
    SpecItem(
        id="hpa-trip",
        section="Autoscaling and disruption (prod)",
        quote="trip: HPA 3–15, CPU 70% / memory 80%",
        implemented_in=(VALUES_PROD, "charts/tripgen/templates/hpa.yaml"),
        tested_by=(f"{_HPA}[trip]", f"{DESIGN}test_workloads_read_from_the_prod_render"),
    ),
    SpecItem(
        id="hpa-ai",
        section="Autoscaling and disruption (prod)",
        quote="ai: HPA 2–8, CPU 80% / memory 85%",
        implemented_in=(VALUES_PROD, "charts/tripgen/templates/hpa.yaml"),
        tested_by=(f"{_HPA}[ai]",),
    ),
    SpecItem(
        id="hpa-location",
        section="Autoscaling and disruption (prod)",
        quote="location: HPA 2–10 (v2), CPU 70% / memory 80%",
        implemented_in=(VALUES_PROD, "charts/tripgen/templates/hpa.yaml"),
        tested_by=(f"{_HPA}[location]",),
    ),
    SpecItem(
        id="custom-metric-user",
        section="Autoscaling and disruption (prod)",
        quote="user: custom metric requests_per_second > 100",
        implemented_in=(VALUES_PROD, "services/kit/metrics.py"),
        tested_by=(f"{_CUSTOM}[user]",),
        out_of_scope=NO_METRICS_ADAPTER,
    ),
    SpecItem(
        id="custom-metric-trip",
        section="Autoscaling and disruption (prod)",
        quote="trip: custom metric active_connections > 50",
        implemented_in=(VALUES_PROD, "services/trip/connections.py"),
        tested_by=(
            f"{_CUSTOM}[trip]",
            "tests/trip/test_resilience.py::test_active_connections_counts_requests_in_flight",
        ),
        out_of_scope=NO_METRICS_ADAPTER,
    ),
    SpecItem(
        id="custom-metric-ai",
        section="Autoscaling and disruption (prod)",
        quote="ai: custom metric queue_length > 10",
        implemented_in=(
            "charts/tripgen/templates/scaledobject.yaml",
            "charts/tripgen/ci/prod-keda-values.yaml",
            "services/ai/queue_gauge.py",
        ),
        tested_by=(
            f"{PROD}test_keda_scaled_object_for_ai_queue_length",
            "tests/ai/test_worker.py::test_the_queue_length_gauge_follows_the_queue",
        ),
        note="opt-in (keda.enabled); values-prod.yaml keeps KEDA off because SPEC.md provisions "
        "no adapter (conflict 5)",
    ),
    SpecItem(
        id="custom-metric-location",
        section="Autoscaling and disruption (prod)",
        quote="location: custom metric search_requests > 200",
        implemented_in=(VALUES_PROD, "services/location/"),
        tested_by=(
            f"{_CUSTOM}[location]",
            "tests/location/test_routes.py::test_search_requests_metric_counts_searches",
        ),
        out_of_scope=NO_METRICS_ADAPTER,
    ),
    SpecItem(
        id="pdb-v2-user",
        section="Autoscaling and disruption (prod)",
        quote="user: PDB minAvailable 2 (v2)",
        implemented_in=(VALUES_PROD, "charts/tripgen/templates/pdb.yaml"),
        tested_by=(f"{_PDB}[user]",),
    ),
    SpecItem(
        id="pdb-v2-trip",
        section="Autoscaling and disruption (prod)",
        quote="trip: PDB minAvailable 3 (v2)",
        implemented_in=(VALUES_PROD, "charts/tripgen/templates/pdb.yaml"),
        tested_by=(f"{_PDB}[trip]",),
    ),
    SpecItem(
        id="pdb-v2-ai",
        section="Autoscaling and disruption (prod)",
        quote="ai: PDB minAvailable 2 (v2)",
        implemented_in=(VALUES_PROD, "charts/tripgen/templates/pdb.yaml"),
        tested_by=(f"{_PDB}[ai]",),
    ),
    SpecItem(
        id="pdb-v2-location",
        section="Autoscaling and disruption (prod)",
        quote="location: PDB minAvailable 2 (v2)",
        implemented_in=(VALUES_PROD, "charts/tripgen/templates/pdb.yaml"),
        tested_by=(f"{_PDB}[location]",),
    ),
    SpecItem(
        id="pdb-v1",
        section="Autoscaling and disruption (prod)",
        quote="PDB minAvailable v1: user 2, trip 2, ai 1, location 1",
        out_of_scope=V1_SUPERSEDED,
    ),
)

ITEMS = (*SERVICES, *COMPUTE, *RESOURCES, *AUTOSCALING)
