"""The rendered dev profile (values-dev.yaml) holds every SPEC.md dev figure (seed `004`)."""

from __future__ import annotations

import pytest

from simulation.k8s import chart
from simulation.k8s.store_images import POSTGRESQL, REDIS
from tests.chart.chart_support import SERVICES, Doc, container, env_of, one

# SPEC.md › Per-service resources, dev: requests → limits, replicas.
DEV_RESOURCES = {
    "user": ("50m", "128Mi", "200m", "256Mi", 1),
    "trip": ("100m", "256Mi", "500m", "512Mi", 1),
    "ai": ("200m", "512Mi", "1000m", "1Gi", 1),
    "location": ("50m", "128Mi", "200m", "256Mi", 1),
}


def deployment(docs: list[Doc], svc: str) -> Doc:
    return one(docs, "Deployment", f"tripgen-{svc}")


@pytest.mark.parametrize("svc", SERVICES)
def test_spec_per_service_resources_dev(dev: list[Doc], svc: str) -> None:
    # SPEC.md: Per-service resources, dev (requests → limits, replicas)
    req_cpu, req_mem, lim_cpu, lim_mem, replicas = DEV_RESOURCES[svc]
    dep = deployment(dev, svc)
    assert dep["spec"]["replicas"] == replicas
    res = container(dep)["resources"]
    assert res["requests"] == {"cpu": req_cpu, "memory": req_mem}
    assert res["limits"] == {"cpu": lim_cpu, "memory": lim_mem}


@pytest.mark.parametrize("svc", SERVICES)
def test_dev_has_no_autoscaling_or_pdb(dev: list[Doc], svc: str) -> None:
    # SPEC.md: Autoscaling and disruption is a prod table; dev runs 1 fixed replica
    assert not chart.find(dev, "HorizontalPodAutoscaler", f"tripgen-{svc}")
    assert not chart.find(dev, "PodDisruptionBudget", f"tripgen-{svc}")


@pytest.mark.parametrize("svc", SERVICES)
def test_spec_probes_and_security_dev(dev: list[Doc], svc: str) -> None:
    # SPEC.md: Targets — liveness restarts after 3 consecutive failures; Services — health paths
    c = container(deployment(dev, svc))
    assert c["livenessProbe"]["failureThreshold"] == 3
    assert c["livenessProbe"]["httpGet"]["path"] == "/actuator/health/liveness"
    assert c["readinessProbe"]["httpGet"]["path"] == "/actuator/health/readiness"
    assert c["startupProbe"]["httpGet"]["path"] == "/actuator/health/startup"
    sc = c["securityContext"]
    assert (sc["readOnlyRootFilesystem"], sc["runAsNonRoot"]) == (True, True)
    assert sc["capabilities"] == {"drop": ["ALL"]}
    pod = deployment(dev, svc)["spec"]["template"]["spec"]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    # dev nodes are one shared, untainted pool: no zone spread, no toleration
    assert "tolerations" not in pod
    assert "topologySpreadConstraints" not in pod


@pytest.mark.parametrize("svc", SERVICES)
def test_contract_env_dev(dev: list[Doc], svc: str) -> None:
    # docs/contracts.md: Settings — shared TRIPGEN_* by envFrom, per-service prefix,
    # secrets from the Kubernetes Secret
    c = container(deployment(dev, svc))
    assert c["command"] == ["python", "-m", f"services.{svc}"]
    env = env_of(c)
    assert env["TRIPGEN_DATABASE_URL"]["value"] == (
        "postgresql://tripgen:$(DATABASE_PASSWORD)@tripgen-postgresql:5432/tripgen"
    )
    assert env["TRIPGEN_REDIS_URL"]["value"] == "redis://:$(REDIS_PASSWORD)@tripgen-redis:6379/0"
    assert env["DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "tripgen-secrets",
        "key": "database_password",
    }
    shared = {
        "TRIPGEN_REPLICA",
        "TRIPGEN_DATABASE_URL",
        "TRIPGEN_REDIS_URL",
        "TRIPGEN_JWT_SECRET",
        "TRIPGEN_JWT_SECOND_SECRET",  # the rotation key
    }
    for name in env:
        if name.startswith("TRIPGEN_") and name not in shared:
            assert name.startswith(f"TRIPGEN_{svc.upper()}_"), name  # per-service prefix


def test_contract_ai_service_env(dev: list[Doc]) -> None:
    # docs/contracts.md: TRIPGEN_AI_WORKER_CONCURRENCY, TRIPGEN_AI_PLANNER_TIME_LIMIT_S, LLM key
    env = env_of(container(deployment(dev, "ai")))
    assert env["TRIPGEN_AI_WORKER_CONCURRENCY"]["value"] == "4"
    assert env["TRIPGEN_AI_PLANNER_TIME_LIMIT_S"]["value"] == "1.0"
    key = env["TRIPGEN_AI_LLM_API_KEY"]["valueFrom"]["secretKeyRef"]
    assert (key["key"], key["optional"]) == ("openai_api_key", True)


def test_spec_dev_secrets(dev: list[Doc]) -> None:
    # SPEC.md: Network and security — dev Kubernetes Secrets database_password, redis_password,
    # jwt_secret, openai_api_key
    secret = one(dev, "Secret", "tripgen-secrets")
    assert {"database_password", "redis_password", "jwt_secret", "openai_api_key"} <= set(
        secret["stringData"]
    )
    assert not chart.find(dev, "SecretProviderClass")


def test_spec_dev_config_map(dev: list[Doc]) -> None:
    data = one(dev, "ConfigMap", "tripgen-config")["data"]
    assert data["TRIPGEN_PROFILE"] == "dev"
    assert data["TRIPGEN_QUEUE_BACKEND"] == "redis"


def test_spec_dev_postgresql_pod(dev: list[Doc]) -> None:
    # SPEC.md: Per-service resources, PostgreSQL (dev pod): 500m/1Gi → 1000m/2Gi, 20 Gi,
    # max_connections 100, shared_buffers 256MB, effective_cache_size 1GB. SPEC.md's image,
    # bitnami/postgresql:16, left Docker Hub in 2025: the harness builds PostgreSQL 15 + PostGIS
    # from the local platform's Debian packages (simulation/k8s/store_images.py).
    sts = one(dev, "StatefulSet", "tripgen-postgresql")
    c = container(sts)
    assert c["image"] == POSTGRESQL.ref
    assert "bitnami" not in c["image"]
    assert c["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "1000m", "memory": "2Gi"},
    }
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    settings = dict(a.split("=", 1) for a in c["args"] if "=" in a)
    assert c["args"][0] == "postgres"
    assert settings == {
        "max_connections": "100",
        "shared_buffers": "256MB",
        "effective_cache_size": "1GB",
    }
    env = env_of(c)
    assert env["POSTGRES_USER"]["value"] == "tripgen"
    assert env["POSTGRES_DB"]["value"] == "tripgen"
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "database_password"
    # PostGIS (and pg_trgm) for location_db (SPEC.md: Services, GIS extension), run at initdb
    init = one(dev, "ConfigMap", "tripgen-postgresql")["data"]["00-extensions.sql"]
    assert "CREATE EXTENSION IF NOT EXISTS postgis" in init
    assert "CREATE EXTENSION IF NOT EXISTS pg_trgm" in init
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert "/docker-entrypoint-initdb.d/00-extensions.sql" in mounts
    assert sts["spec"]["template"]["metadata"]["labels"]["app"] == "postgresql"


def test_spec_dev_redis_pod(dev: list[Doc]) -> None:
    # SPEC.md: Per-service resources, Redis (dev pod): 100m/256Mi → 500m/1Gi, memory only,
    # maxmemory 512MB, allkeys-lru; SPEC.md's bitnami/redis:7.2 is replaced by Debian's
    # redis-server built by the harness.
    sts = one(dev, "StatefulSet", "tripgen-redis")
    c = container(sts)
    assert c["image"] == REDIS.ref
    assert c["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "500m", "memory": "1Gi"},
    }
    conf = one(dev, "ConfigMap", "tripgen-redis")["data"]["redis.conf"]
    assert "maxmemory 512mb" in conf
    assert "maxmemory-policy allkeys-lru" in conf
    assert 'save ""' in conf
    assert "appendonly no" in conf
    assert "volumeClaimTemplates" not in sts["spec"]
    assert "--requirepass" in c["args"]  # SPEC.md: auth required


def test_spec_dev_network_policy(dev: list[Doc]) -> None:
    # SPEC.md: Network and security — dev: allow all, but PostgreSQL only from tier: application
    # pods on 5432
    policies = chart.find(dev, "NetworkPolicy")
    assert [p["metadata"]["name"] for p in policies] == ["tripgen-postgresql"]
    spec = policies[0]["spec"]
    assert spec["podSelector"] == {"matchLabels": {"app": "postgresql"}}
    assert spec["policyTypes"] == ["Ingress"]
    (rule,) = spec["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": {"tier": "application"}}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 5432}]
    # the services and the data-init Jobs are the tier=application pods allowed in
    for svc in SERVICES:
        labels = deployment(dev, svc)["spec"]["template"]["metadata"]["labels"]
        assert labels["tier"] == "application"
    for job in chart.find(dev, "Job"):
        assert job["spec"]["template"]["metadata"]["labels"]["tier"] == "application"


def test_spec_dev_ingress_nginx(dev: list[Doc]) -> None:
    # SPEC.md: Compute, dev — NGINX ingress; routing /api/* → services
    ing = one(dev, "Ingress", "tripgen")
    assert ing["spec"]["ingressClassName"] == "nginx"
    paths = {p["path"] for p in ing["spec"]["rules"][0]["http"]["paths"]}
    assert paths == {"/api/users", "/api/trips", "/api/ai", "/api/locations"}


def test_spec_dev_data_init_jobs(dev: list[Doc]) -> None:
    # SPEC.md: Dev data initialisation (004 §5.2.1) — schema init → sample data load → validation,
    # backoffLimit 3, as ordered post-install/post-upgrade hooks
    jobs = chart.find(dev, "Job")
    steps = [j["spec"]["template"]["spec"]["containers"][0]["command"][-1] for j in jobs]
    weights = [int(j["metadata"]["annotations"]["helm.sh/hook-weight"]) for j in jobs]
    order = [s for _, s in sorted(zip(weights, steps, strict=True))]
    assert order == ["schema", "sample", "validate"]
    assert len(set(weights)) == 3
    for job in jobs:
        assert job["spec"]["backoffLimit"] == 3
        ann = job["metadata"]["annotations"]
        assert ann["helm.sh/hook"] == "post-install,post-upgrade"
        assert job["spec"]["template"]["spec"]["containers"][0]["command"][:3] == [
            "python",
            "-m",
            "services.datainit",
        ]
