"""SPEC.md › Data, cache, messaging (PostgreSQL, Redis, cache, Service Bus) and Dev data
initialisation."""

from __future__ import annotations

from tests.spec.model import SpecItem

CACHE = "tests/kit/test_cache.py::"
CONTRACT = "tests/kit/queue/test_queue_contract.py::"
SB = "tests/kit/queue/test_servicebus_adapter.py::"
FILES = "tests/datainit/test_data_files.py::"
GAPS = "tests/spec/test_spec_figures.py::"

DATA = "Data, cache, messaging"
INIT = "Dev data initialisation"
VALUES_PROD = "charts/tripgen/values-prod.yaml"
PORT = "services/kit/queue/port.py"
PLACES = "services/datainit/data/places.json"
AI_DATA = "services/datainit/data/ai/"
AZURE_SKU = (
    "a setting of the managed Azure service, which the repository does not provision; the chart "
    "only points at its host"
)
HA = "tests/simulation/backing/test_ha.py::"
PROD_SIM_E2E = "tests/chaos/test_prod_sim.py::"
LOCAL = "tests/simulation/platforms/test_local.py::"
PGBACKREST = ("simulation/backing/pgbackrest.py", "simulation/platforms/local_ha.py")

POSTGRESQL_REDIS = (
    SpecItem(
        id="pg-prod-sku",
        section=DATA,
        quote="PostgreSQL prod: GeneralPurpose, v1 D4s_v3 256 GB / v2 D8s_v3 512 GB",
        out_of_scope=AZURE_SKU,
    ),
    SpecItem(
        id="pg-prod-ha",
        section=DATA,
        quote="PostgreSQL prod: zone-redundant HA",
        implemented_in=(
            "simulation/backing/pg_auto_failover.py",
            "simulation/platforms/local_ha.py",
            "chaos/experiments/postgresql-failover.json",
            "chaos/experiments/zone-outage.json",
        ),
        tested_by=(
            f"{HA}test_postgres_fails_over_to_the_standby_without_losing_an_acknowledged_write",
            f"{LOCAL}test_every_ha_member_has_a_zone_and_a_zone_outage_leaves_a_quorum",
            f"{LOCAL}test_prod_services_reach_whichever_node_is_primary",
            f"{PROD_SIM_E2E}test_postgresql_and_redis_fail_over_within_spec_losing_nothing",
            f"{PROD_SIM_E2E}test_an_outage_of_the_primaries_zone_fails_both_stores_over",
        ),
        note="prod-sim: pg_auto_failover monitor + primary + synchronous standby, one per "
        "zone label on one machine; the services follow the primary through a multi-host "
        "read-write DSN. On AKS it is the Flexible Server's HA setting, not provisioned here",
    ),
    SpecItem(
        id="pg-prod-backups-pitr",
        section=DATA,
        quote="PostgreSQL prod: backups 35 d, PITR 5 min granularity",
        implemented_in=(*PGBACKREST, "simulation/backing/dr_drill.py"),
        tested_by=(
            f"{GAPS}test_pgbackrest_keeps_35_days_and_archives_well_inside_5_minutes",
            f"{HA}test_pgbackrest_restores_the_latest_point_and_an_explicit_earlier_time",
            "tests/simulation/backing/test_dr_drill.py::"
            "test_a_short_drill_restores_within_rto_and_rpo_and_pitr_is_exact",
        ),
        out_of_scope="expiry after 35 days is never exercised (it needs 35 days of backups), and "
        "Azure's backup setting is not provisioned; checked: pgBackRest's time-based "
        "repo1-retention-full=35, archive_timeout 30 s and exact restores to a given time",
    ),
    SpecItem(
        id="pg-prod-geo-backup",
        section=DATA,
        quote="PostgreSQL prod: geo backup",
        implemented_in=PGBACKREST,
        out_of_scope="a Flexible Server option (copies to the paired region), not provisioned "
        "here; prod-sim's pgBackRest keeps one repository on this machine and no second region "
        "exists here, so no cross-region copy is made or restored",
    ),
    SpecItem(
        id="pg-prod-read-replicas",
        section=DATA,
        quote="PostgreSQL prod: 2 read replicas",
        out_of_scope="prod-sim runs one synchronous standby for failover, no read replica, and "
        "the services send every query to the primary (target_session_attrs=read-write): no "
        "read routing exists; Azure's replicas are not provisioned",
    ),
    SpecItem(
        id="pg-dev-backup",
        section=DATA,
        quote="PostgreSQL dev: manual pg_dump backups",
        out_of_scope="a manual operator task; the repository ships no pg_dump script or Job "
        "(pgBackRest backs up prod-sim only, not the dev profile)",
    ),
    SpecItem(
        id="redis-prod-sku",
        section=DATA,
        quote="Redis prod: Premium, v1 P2 6 GB 3 shards / v2 P4 26 GB 6 shards, 1 replica per "
        "shard",
        implemented_in=(
            "simulation/backing/redis_ha.py",
            "services/kit/redis_client.py",
            "simulation/platforms/local_ha.py",
        ),
        tested_by=(
            f"{HA}test_redis_fails_over_and_the_services_client_follows",
            f"{PROD_SIM_E2E}test_postgresql_and_redis_fail_over_within_spec_losing_nothing",
        ),
        out_of_scope=f"{AZURE_SKU}; prod-sim has one shard (primary + 1 replica + 3 Sentinels, "
        "512 MB), no cluster mode, so the size and shard counts are not reproduced",
        note="checked: the one replica takes over and the services' Sentinel-aware client "
        "follows it, losing no acknowledged write",
    ),
    SpecItem(
        id="redis-prod-persistence",
        section=DATA,
        quote="Redis prod: RDB hourly + AOF everysec",
        implemented_in=("simulation/backing/redis_ha.py",),
        tested_by=(f"{GAPS}test_prod_sim_redis_persists_rdb_hourly_and_aof_every_second",),
        note="prod-sim's Redis nodes (the local platform's prod profile) are configured so; on "
        "AKS it is a setting of the managed cache the chart points at; the dev/kind Redis is "
        "memory only, as SPEC.md's dev pod is",
    ),
    SpecItem(
        id="redis-auth",
        section=DATA,
        quote="Redis: auth required",
        implemented_in=(VALUES_PROD, "charts/tripgen/templates/redis-statefulset.yaml"),
        tested_by=(
            "tests/chart/test_chart_dev.py::test_spec_dev_redis_pod",
            "tests/chart/test_chart_prod.py::test_contract_command_and_env_prod",
        ),
    ),
)

CACHES = (
    SpecItem(
        id="cache-l1-ttl-lru",
        section=DATA,
        quote="L1 in-process cache (Caffeine in the docs): TTL 5 min, LRU",
        implemented_in=("services/kit/cache.py", "services/kit/settings.py"),
        tested_by=(
            f"{CACHE}test_l1_evicts_least_recently_used",
            f"{CACHE}test_l1_entry_expires_at_the_shorter_ttl",
            f"{GAPS}test_l1_cache_lives_5_minutes_by_default",
        ),
        note="cachetools' TLRUCache (services/kit/cache.py) stands in for Caffeine",
    ),
    SpecItem(
        id="cache-l1-max-entries",
        section=DATA,
        quote="L1 max entries: dev 1000 / v1 2000 / v2 5000",
        implemented_in=("services/kit/settings.py",),
        tested_by=("tests/kit/test_settings.py::test_profile_picks_spec_cache_defaults",),
        note="v1's 2000 is superseded by v2 (SPEC.md rule)",
    ),
    SpecItem(
        id="cache-l2-ttl-policy",
        section=DATA,
        quote="L2 Redis: TTL 30 min (v1) / 60 min (v2), allkeys-lru",
        implemented_in=("services/kit/settings.py", "services/kit/cache.py"),
        tested_by=(
            "tests/kit/test_settings.py::test_profile_picks_spec_cache_defaults",
            f"{CACHE}test_lifetimes_come_from_the_profile",
            f"{CACHE}test_every_write_lives_as_long_as_the_settings_say",
            "tests/chart/test_chart_dev.py::test_spec_dev_redis_pod",
        ),
        note="prod follows v2 (60 min); dev keeps 30 min; allkeys-lru is asserted on the "
        "dev/kind Redis (on Azure it is a cache setting)",
    ),
    SpecItem(
        id="cache-session",
        section=DATA,
        quote="user session: session:{userId}, 30 min",
        implemented_in=("services/kit/cache.py", "services/user/"),
        tested_by=(
            f"{CACHE}test_key_patterns_follow_spec",
            f"{CACHE}test_lifetimes_come_from_the_profile",
            "tests/user/test_tokens_and_resilience.py::"
            "test_a_revocation_outlives_every_token_it_revokes",
        ),
    ),
    SpecItem(
        id="cache-location",
        section=DATA,
        quote="location data: location:{lat}:{lng}:{radius}, 4 h",
        implemented_in=("services/kit/cache.py", "services/location/"),
        tested_by=(
            f"{CACHE}test_key_patterns_follow_spec",
            "tests/location/test_nearby.py::test_the_second_call_is_a_cache_hit_under_the_spec_key",
        ),
        out_of_scope="the 4 h TTL is not followed by design: the profile's L2 TTL (30/60 min) "
        "bounds every L2 entry so one setting caps Redis memory; the key pattern is SPEC's",
    ),
    SpecItem(
        id="cache-ai-results",
        section=DATA,
        quote="AI results: ai:schedule:{tripId}:{hash}, 1 h (v1) / 2 h (v2)",
        implemented_in=("services/kit/cache.py", "services/kit/settings.py", "services/ai/"),
        tested_by=(
            f"{CACHE}test_key_patterns_follow_spec",
            f"{CACHE}test_lifetimes_come_from_the_profile",
            "tests/ai/test_worker.py::"
            "test_an_identical_request_is_served_from_the_cache_without_planning",
        ),
        note="2 h in every profile (v2; SPEC.md conflict 3)",
    ),
    SpecItem(
        id="cache-static",
        section=DATA,
        quote="static content: static:{resource}:{version}, 24 h",
        implemented_in=("services/kit/cache.py", "services/location/"),
        tested_by=(
            f"{CACHE}test_key_patterns_follow_spec",
            "tests/location/test_routes.py::test_cities_are_cached_under_the_static_pattern",
        ),
        out_of_scope="the 24 h TTL is not followed by design: the profile's L2 TTL (30/60 min) "
        "bounds every L2 entry so one setting caps Redis memory; the key pattern is SPEC's",
    ),
)

SERVICE_BUS = (
    SpecItem(
        id="sb-dev-basic",
        section=DATA,
        quote="dev Service Bus (Basic): 256 MB queues, no duplicate detection on "
        "ai-schedule-generation",
        implemented_in=("services/kit/queue/redis_streams.py",),
        out_of_scope="dev runs the Redis Streams adapter, not a Basic namespace: no 256 MB entity "
        "size, and duplicate detection stays on in every profile (the outbox relies on it)",
    ),
    SpecItem(
        id="sb-ai-schedule-generation",
        section=DATA,
        quote="ai-schedule-generation (prod): duplicate detection, sessions, partitioned, "
        "dead-letter queue, max delivery count 3",
        implemented_in=(
            PORT,
            "services/kit/queue/redis_streams.py",
            "services/kit/queue/servicebus.py",
        ),
        tested_by=(
            f"{CONTRACT}test_duplicate_message_id_is_dropped_within_the_window",
            f"{CONTRACT}test_a_session_is_delivered_in_order_one_at_a_time",
            f"{CONTRACT}test_third_failed_delivery_moves_to_dead_letter_queue",
            f"{SB}test_session_queue_needs_a_session_id",
            f"{SB}test_outgoing_message_carries_id_session_json_and_ttl",
        ),
        note="the contract runs live on Redis Streams and against fakes for Service Bus; "
        "partitioning is a namespace setting the repository does not provision",
    ),
    SpecItem(
        id="sb-location-search",
        section=DATA,
        quote="location-search (prod): no duplicate detection, auto-delete when idle 14 d",
        implemented_in=(PORT,),
        out_of_scope="the queue is named in the port but no service sends to it; the port applies "
        "one duplicate window to every queue, and auto-delete-on-idle is a Service Bus entity "
        "property not provisioned here",
    ),
    SpecItem(
        id="sb-notification",
        section=DATA,
        quote="notification (prod): duplicate detection",
        implemented_in=(PORT, "services/ai/messages.py"),
        tested_by=(
            "tests/ai/test_worker.py::"
            "test_a_message_becomes_a_verified_itinerary_with_events_and_a_notification",
            f"{CONTRACT}test_duplicate_message_id_is_dropped_within_the_window",
        ),
        note="ai-service sends one notification per schedule with a stable message id; nothing in "
        "the repository consumes the queue",
    ),
    SpecItem(
        id="sb-topic-events",
        section=DATA,
        quote="topic system_events (v1) / trip_events (v2): subscriptions audit, monitoring, "
        "analytics",
        implemented_in=(PORT, "services/kit/trip_events.py", "services/trip/events.py"),
        tested_by=(
            f"{CONTRACT}test_a_topic_fans_out_to_every_subscription",
            f"{CONTRACT}test_subscription_dead_letters_are_per_subscription",
            f"{CONTRACT}test_a_subscription_rule_takes_only_its_subjects",
            f"{SB}test_subscriptions_have_their_own_receivers",
            f"{SB}test_an_event_carries_its_type_as_the_subject_subscription_rules_filter_on",
        ),
        note="named trip-events (Service Bus names take dashes), v2; a fourth subscription, "
        "trip-sync, feeds trip-service's read model and takes schedule outcomes only (a "
        "subject rule)",
    ),
    SpecItem(
        id="sb-message-ttl",
        section=DATA,
        quote="message TTL 14 d",
        implemented_in=(PORT,),
        tested_by=(
            f"{CONTRACT}test_expired_messages_are_never_delivered",
            f"{SB}test_outgoing_message_carries_id_session_json_and_ttl",
        ),
        note="SPEC.md gives 14 d for dev; the same TTL applies in prod",
    ),
)

DEV_DATA = (
    SpecItem(
        id="data-init-jobs",
        section=INIT,
        quote="Jobs: schema init → sample data load → validation (backoffLimit 3)",
        implemented_in=("charts/tripgen/templates/job-datainit.yaml", "services/datainit/"),
        tested_by=(
            "tests/chart/test_chart_dev.py::test_spec_dev_data_init_jobs",
            "tests/datainit/test_datainit.py::test_schema_sample_validate_and_reload",
            "tests/datainit/test_datainit.py::test_validation_catches_a_missing_row",
        ),
    ),
    SpecItem(
        id="data-sample-users",
        section=INIT,
        quote="users admin (ADMIN, 5 trips), testuser1 (USER, 3), testuser2 (USER, 2), "
        "poweruser (POWER_USER, 7)",
        implemented_in=("services/datainit/expected.py", "services/datainit/sample.py"),
        tested_by=(
            f"{GAPS}test_sample_users_are_the_spec_table",
            "tests/datainit/test_datainit.py::test_schema_sample_validate_and_reload",
        ),
    ),
    SpecItem(
        id="data-places-seoul",
        section=INIT,
        quote="Seoul: 25 districts / 150 attractions (culture, shopping, food)",
        implemented_in=(PLACES,),
        tested_by=(
            f"{FILES}test_counts_per_city",
            f"{FILES}test_every_seoul_gu_has_at_least_two_places",
            f"{FILES}test_categories",
        ),
    ),
    SpecItem(
        id="data-places-busan",
        section=INIT,
        quote="Busan: 16 districts / 80 (ocean, culture, food)",
        implemented_in=(PLACES,),
        tested_by=(
            f"{FILES}test_counts_per_city",
            f"{FILES}test_every_busan_district_is_covered",
            f"{FILES}test_categories",
        ),
    ),
    SpecItem(
        id="data-places-jeju",
        section=INIT,
        quote="Jeju: 2 cities / 100 (nature, leisure, culture)",
        implemented_in=(PLACES,),
        tested_by=(
            f"{FILES}test_counts_per_city",
            f"{FILES}test_both_jeju_cities_are_well_represented",
            f"{FILES}test_categories",
        ),
    ),
    SpecItem(
        id="data-places-overseas",
        section=INIT,
        quote="overseas: 10 cities / 200",
        implemented_in=(PLACES,),
        tested_by=(f"{FILES}test_counts_per_city", f"{FILES}test_countries"),
    ),
    SpecItem(
        id="data-places-gps",
        section=INIT,
        quote="all places with accurate GPS coordinates",
        implemented_in=(PLACES,),
        tested_by=(
            f"{FILES}test_coordinates_inside_city_bounds",
            f"{FILES}test_famous_landmarks_are_where_they_should_be",
            f"{FILES}test_no_two_places_share_a_position",
        ),
    ),
    SpecItem(
        id="data-ai-profiles",
        section=INIT,
        quote="AI test data: 50 preference profiles",
        implemented_in=(AI_DATA,),
        tested_by=(f"{FILES}test_preference_profiles",),
    ),
    SpecItem(
        id="data-ai-templates",
        section=INIT,
        quote="AI test data: 30 itinerary templates (1–7 days)",
        implemented_in=(AI_DATA,),
        tested_by=(f"{FILES}test_itinerary_templates",),
    ),
    SpecItem(
        id="data-ai-reviews",
        section=INIT,
        quote="AI test data: 500 reviews (1–5 stars)",
        implemented_in=(AI_DATA,),
        tested_by=(f"{FILES}test_reviews",),
    ),
    SpecItem(
        id="data-ai-seasonal",
        section=INIT,
        quote="AI test data: 12 monthly seasonal patterns",
        implemented_in=(AI_DATA,),
        tested_by=(f"{FILES}test_seasonal_patterns",),
    ),
)

ITEMS = (*POSTGRESQL_REDIS, *CACHES, *SERVICE_BUS, *DEV_DATA)
