"""SPEC.md › Targets (SLA and phases), alerts, liveness, circuit breaker, deployment, conflicts."""

from __future__ import annotations

from tests.spec.model import SpecItem

# `[profile-objective]` picks the parametrised case of runs/specs/<profile>.yaml's objective.
THRESHOLD = "tests/runs/test_spec.py::test_thresholds_are_spec_md_figures"
JUDGE = "tests/scenarios/sla/test_judge.py::"
DESIGN = "tests/simulation/k8s/test_design_check.py::"
GAPS = "tests/spec/test_spec_figures.py::"

TARGETS = "Targets (SLA and phases)"
OPS = "Alerts, liveness, circuit breaker, deployment"
CONFLICTS = "Conflicts and risks"
SPECS = "runs/specs/"
JUDGE_PY = "scenarios/sla/judge.py"
NOT_AT_SCALE = "encoded and judged; never measured at production scale here (NO-DATA on a laptop)"
NO_ALERT_RULES = (
    "no alert rule (Prometheus/Alertmanager) exists in the repository today, so nothing fires "
    "while the system runs"
)
JUDGED_AFTER = "; runs/specs/prod.yaml judges after a load run that it would not have fired"
NO_ROLLOUT = (
    "`deploy-aks` is one `helm upgrade --install --atomic`; no blue-green or canary traffic "
    "shifting exists in the repository today"
)


def target(item_id: str, quote: str, objective: str, *judge_tests: str, note: str = "") -> SpecItem:
    """A Targets cell that runs/specs/<profile>.yaml encodes as objective `profile-objective`;
    `judge_tests` are tests of tests/scenarios/sla/test_judge.py that judge its metric."""
    profile = objective.split("-", 1)[0]
    return SpecItem(
        id=item_id,
        section=TARGETS,
        quote=quote,
        implemented_in=(f"{SPECS}{profile}.yaml", JUDGE_PY),
        tested_by=(f"{THRESHOLD}[{objective}]", *(f"{JUDGE}{t}" for t in judge_tests)),
        note=note,
    )


SLA = (
    target("sla-availability-dev", "availability, dev: 95%", "dev-availability"),
    target(
        "sla-availability-phase1",
        "availability, prod (phase 1): 99.9%",
        "prod-availability",
        "test_availability_from_the_steady_prober",
        "test_windowed_availability_catches_a_short_outage",
    ),
    target("sla-availability-phase2", "availability, phase 2: 99.95%", "phase2-availability"),
    target(
        "sla-availability-phase3",
        "availability, phase 3 / global: 99.99% (001) / 99.95% (003)",
        "phase3-availability",
        note="follows 001 (99.99%); the objective's source names the conflict",
    ),
    target("sla-ai-dev", "AI schedule generation, dev: < 10 s", "dev-ai-generation"),
    target(
        "sla-ai-phase1",
        "AI schedule generation, prod (phase 1): < 5 s (p95)",
        "prod-ai-generation-p95",
        "test_ai_generation_p95",
        "test_failed_generations_cannot_flatter_the_percentile",
    ),
    target("sla-ai-phase2", "AI schedule generation, phase 2: < 2 s", "phase2-ai-generation-p95"),
    target(
        "sla-ai-phase3", "AI schedule generation, phase 3: < 3 s (003)", "phase3-ai-generation-p95"
    ),
    target("sla-api-dev", "general API, dev: < 1 s", "dev-general-api"),
    target(
        "sla-api-phase1",
        "general API, prod (phase 1): < 200 ms (p95)",
        "prod-general-api-p95",
        "test_p95_over_all_endpoints_uses_final_histograms",
        "test_general_api_excludes_ai_generation",
    ),
    target("sla-api-phase2", "general API, phase 2: < 100 ms", "phase2-general-api-p95"),
    target("sla-api-phase3", "general API, phase 3: < 200 ms global", "phase3-general-api-p95"),
    target(
        "sla-throughput-phase1",
        "throughput, prod (phase 1): 1,000 TPS",
        "prod-throughput",
        "test_throughput_miss_on_a_laptop_is_no_data_not_fail",
        note=NOT_AT_SCALE,
    ),
    target(
        "sla-throughput-phase2",
        "throughput, phase 2: 5,000 TPS",
        "phase2-throughput",
        note=NOT_AT_SCALE,
    ),
    target(
        "sla-throughput-phase3",
        "throughput, phase 3: 10,000 TPS",
        "phase3-throughput",
        note=NOT_AT_SCALE,
    ),
    target(
        "sla-error-rate-phase1",
        "error rate, prod (phase 1): < 0.1%",
        "prod-error-rate",
        "test_error_rate",
    ),
    SpecItem(
        id="sla-users-dev",
        section=TARGETS,
        quote="concurrent users, dev: 6",
        implemented_in=(f"{SPECS}dev.yaml",),
        tested_by=(f"{GAPS}test_concurrent_users_per_phase",),
        note="recorded and shown in the report; runs state the users they used",
    ),
    SpecItem(
        id="sla-users-phase1",
        section=TARGETS,
        quote="concurrent users, prod (phase 1): 50,000 (001 phase 1) / 100,000",
        implemented_in=(f"{SPECS}prod.yaml", "scenarios/sla/report.py"),
        tested_by=(
            "tests/runs/test_spec.py::test_throughput_is_scale_bound_and_the_goal_does_not_gate",
            "tests/scenarios/sla/test_report.py::test_report_states_the_scale_and_embeds_the_plots",
        ),
        note="follows 001 (50,000); never reached here, the report says so",
    ),
    SpecItem(
        id="sla-users-phase2",
        section=TARGETS,
        quote="concurrent users, phase 2: 100,000",
        implemented_in=(f"{SPECS}phase2.yaml",),
        tested_by=(f"{GAPS}test_concurrent_users_per_phase",),
    ),
    SpecItem(
        id="sla-users-phase3",
        section=TARGETS,
        quote="concurrent users, phase 3 / global: 1,000,000",
        implemented_in=(f"{SPECS}phase3.yaml",),
        tested_by=(f"{GAPS}test_concurrent_users_per_phase",),
    ),
    SpecItem(
        id="sla-cache-hit-ratio",
        section=TARGETS,
        quote="cache hit ratio, prod (phase 1): ≥ 80% (goal 95%)",
        implemented_in=(f"{SPECS}prod.yaml", JUDGE_PY),
        tested_by=(
            f"{THRESHOLD}[prod-cache-hit-ratio]",
            f"{THRESHOLD}[prod-cache-hit-ratio-goal]",
            f"{JUDGE}test_cache_hit_ratio",
            f"{JUDGE}test_cache_hit_ratio_is_judged_after_the_warm_up",
        ),
    ),
    SpecItem(
        id="sla-recovery-dev",
        section=TARGETS,
        quote="recovery, dev: manual",
        implemented_in=(f"{SPECS}dev.yaml", "chaos/sla.py"),
        tested_by=(
            "tests/chaos/test_events_and_tolerances.py::test_tolerances_come_from_the_sla_specs",
        ),
        note="dev.yaml has no recovery objective; chaos on dev borrows prod's and says so",
    ),
    target(
        "sla-recovery-phase1",
        "recovery, prod (phase 1): < 5 min automatic",
        "prod-recovery",
        "test_recovery_from_chaos_events",
        note="measured by the chaos experiments (replica kill, zone outage, dependency outages)",
    ),
    target(
        "sla-recovery-postgresql",
        "recovery: PostgreSQL failover < 30 s (v2)",
        "prod-postgres-failover",
        "test_recovery_from_chaos_events",
        note="judged on postgres* chaos events; today that is a restart of the one server, not a "
        "failover to a standby (see pg-prod-ha)",
    ),
    target(
        "sla-recovery-redis",
        "recovery: Redis < 60 s",
        "prod-redis-recovery",
        "test_recovery_from_chaos_events",
    ),
    target("sla-recovery-phase3", "recovery, phase 3: < 2 min", "phase3-recovery"),
    SpecItem(
        id="sla-rto-rpo",
        section=TARGETS,
        quote="RTO / RPO: 30 min / 15 min",
        out_of_scope="backup/DR figures a load run cannot measure (runs/specs/prod.yaml says so), "
        "and no backup or restore exists in the repository today",
        pending="pgBackRest backups / DR drill",
    ),
    SpecItem(
        id="cost-dev",
        section=TARGETS,
        quote="monthly cost, dev: $150",
        implemented_in=("simulation/k8s/topology.py",),
        tested_by=(f"{GAPS}test_monthly_costs_recorded_in_the_topology",),
        out_of_scope="nothing prices a deployment: the figure is recorded in the topology and "
        "feeds design-check's cost finding only",
        pending="capacity simulation with costs",
    ),
    SpecItem(
        id="cost-phase1",
        section=TARGETS,
        quote="monthly cost, prod: $2,650 (v1) / $5,600 → $4,200 optimised (v2)",
        implemented_in=("simulation/k8s/topology.py", "simulation/k8s/design_check.py"),
        tested_by=(
            f"{GAPS}test_monthly_costs_recorded_in_the_topology",
            f"{DESIGN}test_cost_conflict",
        ),
        out_of_scope="nothing prices a deployment: the figures are recorded in the topology and "
        "feed design-check's conflict-4 cost finding only",
        pending="capacity simulation with costs",
    ),
    SpecItem(
        id="cost-phase2",
        section=TARGETS,
        quote="monthly cost, phase 2: $8,500",
        out_of_scope="no price table or cost model exists in the repository today; the capacity "
        "model sizes replicas and nodes, not dollars",
        pending="capacity simulation with costs",
    ),
    SpecItem(
        id="cost-phase3",
        section=TARGETS,
        quote="monthly cost, phase 3 / global: $25,000",
        out_of_scope="no price table or cost model exists in the repository today; the capacity "
        "model sizes replicas and nodes, not dollars",
        pending="capacity simulation with costs",
    ),
    SpecItem(
        id="coverage-gate-dev",
        section=TARGETS,
        quote="test coverage gate, dev: > 70%",
        out_of_scope="the tests session (noxfile.py) runs pytest without coverage measurement; "
        "no coverage gate exists",
    ),
    SpecItem(
        id="coverage-gate-prod",
        section=TARGETS,
        quote="test coverage gate, prod: > 80%",
        out_of_scope="the tests session (noxfile.py) runs pytest without coverage measurement; "
        "no coverage gate exists",
    ),
)

ALERTS = (
    SpecItem(
        id="alert-availability",
        section=OPS,
        quote="alert (v2): availability < 99.9% (5 min)",
        implemented_in=(f"{SPECS}prod.yaml",),
        tested_by=(
            f"{GAPS}test_alert_objectives_of_prod",
            f"{JUDGE}test_windowed_availability_catches_a_short_outage",
        ),
        out_of_scope=NO_ALERT_RULES + JUDGED_AFTER,
        pending="Prometheus alerts from runs/specs",
    ),
    SpecItem(
        id="alert-error-rate",
        section=OPS,
        quote="alert (v2): error rate > 1% (5 min)",
        implemented_in=(f"{SPECS}prod.yaml",),
        tested_by=(
            f"{THRESHOLD}[prod-alert-error-rate]",
            f"{GAPS}test_alert_objectives_of_prod",
            f"{JUDGE}test_windowed_error_rate_finds_the_bad_stretch",
        ),
        out_of_scope=NO_ALERT_RULES + JUDGED_AFTER,
        pending="Prometheus alerts from runs/specs",
    ),
    SpecItem(
        id="alert-ai-response",
        section=OPS,
        quote="alert (v2): AI response > 5 s (2 min)",
        implemented_in=(f"{SPECS}prod.yaml",),
        tested_by=(f"{GAPS}test_alert_objectives_of_prod", f"{JUDGE}test_windowed_ai_generation"),
        out_of_scope=NO_ALERT_RULES + JUDGED_AFTER,
        pending="Prometheus alerts from runs/specs",
    ),
    SpecItem(
        id="alert-pod-restarts",
        section=OPS,
        quote="alert (v2): pod restarts > 5 in 10 min",
        out_of_scope=NO_ALERT_RULES,
        pending="Prometheus alerts from runs/specs",
    ),
    SpecItem(
        id="alert-cpu",
        section=OPS,
        quote="alert (v2): CPU > 80% (10 min)",
        out_of_scope=NO_ALERT_RULES,
        pending="Prometheus alerts from runs/specs",
    ),
    SpecItem(
        id="alert-memory",
        section=OPS,
        quote="alert (v2): memory > 85% (5 min)",
        out_of_scope=NO_ALERT_RULES,
        pending="Prometheus alerts from runs/specs",
    ),
    SpecItem(
        id="alert-db-connections",
        section=OPS,
        quote="alert (v2): DB connections > 80%",
        implemented_in=("services/kit/metrics.py",),
        out_of_scope=NO_ALERT_RULES + "; the services export db_pool_connections for one",
        pending="Prometheus alerts from runs/specs",
    ),
)

OPERATIONS = (
    SpecItem(
        id="ops-liveness",
        section=OPS,
        quote="liveness: restart after 3 consecutive failures",
        implemented_in=("charts/tripgen/values.yaml", "charts/tripgen/templates/deployment.yaml"),
        tested_by=(
            "tests/chart/test_chart_prod.py::test_spec_probes_liveness_restart_after_3_failures",
            "tests/chart/test_chart_dev.py::test_spec_probes_and_security_dev",
        ),
        note="on the local platform supervisord restarts a dead replica instead",
    ),
    SpecItem(
        id="ops-circuit-breaker",
        section=OPS,
        quote="circuit breaker: external API failure rate > 50% → open, half-open after 5 min",
        implemented_in=("services/ai/breaker.py", "services/ai/settings.py", "services/ai/llm.py"),
        tested_by=(
            "tests/ai/test_breaker.py::test_it_opens_above_half_failures_not_at_exactly_half",
            "tests/ai/test_breaker.py::"
            "test_open_refuses_then_half_opens_after_the_reset_time_and_a_good_trial_closes",
            f"{GAPS}test_breaker_defaults_are_the_spec_figures",
        ),
        note="guards the LLM calls, the one external API",
    ),
    SpecItem(
        id="ops-breaker-fallback",
        section=OPS,
        quote="circuit breaker: fallback logic",
        implemented_in=("services/ai/llm.py", "services/ai/generation.py"),
        tested_by=(
            "tests/ai/test_llm.py::"
            "test_failing_llm_opens_the_breaker_then_half_opens_after_the_reset_time",
            "tests/ai/test_llm.py::test_an_unreachable_llm_endpoint_still_yields_itineraries",
        ),
        note="fallback = the planner's itinerary without LLM enrichment",
    ),
    SpecItem(
        id="ops-blue-green",
        section=OPS,
        quote="deployment: blue-green",
        out_of_scope=NO_ROLLOUT,
        pending="blue-green/canary rollouts",
    ),
    SpecItem(
        id="ops-canary",
        section=OPS,
        quote="deployment: canary 10% → 50% → 100%",
        out_of_scope=NO_ROLLOUT,
        pending="blue-green/canary rollouts",
    ),
    SpecItem(
        id="ops-auto-rollback",
        section=OPS,
        quote="automatic rollback when error rate > 1% (or > 0.5% / response > 10 s)",
        implemented_in=("simulation/platforms/aks.py",),
        tested_by=(
            "tests/simulation/platforms/test_aks.py::test_a_failed_upgrade_is_rolled_back_and_explained",
        ),
        out_of_scope="no rollback on error rate or latency exists today; `helm --atomic` rolls "
        "back only an upgrade whose rollout fails",
        pending="blue-green/canary rollouts",
    ),
)

CONFLICT_ITEMS = (
    SpecItem(
        id="conflict-1-pdb-blocks-drain",
        section=CONFLICTS,
        quote="1. PDB v2 = HPA minimum for trip, ai, location: no voluntary disruption can proceed",
        implemented_in=("simulation/k8s/design_check.py",),
        tested_by=(
            f"{DESIGN}test_drain_blocked_where_pdb_equals_hpa_min",
            f"{DESIGN}test_drain_finding_follows_the_manifests",
            "tests/simulation/platforms/test_kind.py::"
            "test_zone_outage_cordons_and_drains_and_reports_a_blocked_drain",
        ),
    ),
    SpecItem(
        id="conflict-2-service-mesh",
        section=CONFLICTS,
        quote="2. service mesh: 002 Istio mTLS, 003 NetworkPolicies instead, 001 still opens "
        "istio-system ports",
        out_of_scope="design-check has no service-mesh finding, so the harness does not report "
        "it; the chart follows 003 (NetworkPolicies, no Istio)",
    ),
    SpecItem(
        id="conflict-3-rate-limit-and-ttls",
        section=CONFLICTS,
        quote="3. WAF rate limit 100 vs 1000 req/min/IP; L2 TTL 30 vs 60 min; AI result TTL 1 vs "
        "2 h",
        implemented_in=("services/kit/settings.py", "services/kit/cache.py"),
        tested_by=(
            "tests/kit/test_settings.py::test_profile_picks_spec_cache_defaults",
            "tests/kit/test_cache.py::test_lifetimes_come_from_the_profile",
        ),
        out_of_scope="the harness does not report it: the code resolves the TTLs by SPEC.md's "
        "rule (v2, tested) and the WAF limit is not modelled",
    ),
    SpecItem(
        id="conflict-4-cost-and-nodes",
        section=CONFLICTS,
        quote="4. prod cost $2,650 vs $4,200–5,600; prod nodes D4s_v3 × 3 vs D8s_v3 × 6",
        implemented_in=("simulation/k8s/design_check.py", "simulation/k8s/topology.py"),
        tested_by=(
            f"{DESIGN}test_v2_workload_does_not_fit_the_v1_pool",
            f"{DESIGN}test_cost_conflict",
        ),
    ),
    SpecItem(
        id="conflict-5-custom-metrics-adapter",
        section=CONFLICTS,
        quote="5. HPA custom metrics need a metrics adapter no document provisions",
        implemented_in=("simulation/k8s/design_check.py", "charts/tripgen/values-prod.yaml"),
        tested_by=(
            f"{DESIGN}test_custom_metrics_without_provider",
            "tests/chart/test_chart_prod.py::test_spec_custom_metric_recorded_without_provider",
        ),
    ),
)

ITEMS = (*SLA, *ALERTS, *OPERATIONS, *CONFLICT_ITEMS)
