"""SPEC.md › Network and security (ingress, WAF, NetworkPolicy, NSG, auth, secrets, encryption)."""

from __future__ import annotations

from tests.spec.model import SpecItem

PROD = "tests/chart/test_chart_prod.py::"
DEV = "tests/chart/test_chart_dev.py::"
KIND = "tests/chart/test_chart_kind.py::"
DESIGN = "tests/simulation/k8s/test_design_check.py::"

VALUES_DEV = "charts/tripgen/values-dev.yaml"
VALUES_PROD = "charts/tripgen/values-prod.yaml"
SECTION = "Network and security"
AZURE_EDGE = (
    "an Azure edge resource: the repository provisions no Azure resources and nothing like it can "
    "run on this workplace; the chart documents the App Gateway ingress (AGIC) only"
)

ITEMS = (
    SpecItem(
        id="net-ingress-dev-nginx",
        section=SECTION,
        quote="dev ingress: NGINX",
        implemented_in=(VALUES_DEV, "charts/tripgen/templates/ingress.yaml"),
        tested_by=(f"{DEV}test_spec_dev_ingress_nginx",),
    ),
    SpecItem(
        id="net-ingress-prod-agic",
        section=SECTION,
        quote="prod: Application Gateway ingress (AGIC)",
        implemented_in=(VALUES_PROD, "charts/tripgen/templates/ingress.yaml"),
        tested_by=(f"{PROD}test_spec_prod_ingress_app_gateway",),
        note="rendered and schema-checked only; no Application Gateway has been reached",
    ),
    SpecItem(
        id="net-routing",
        section=SECTION,
        quote="routing /api/* → services",
        implemented_in=(
            "charts/tripgen/templates/ingress.yaml",
            "simulation/platforms/nginx.py",
        ),
        tested_by=(
            f"{PROD}test_spec_prod_ingress_app_gateway",
            f"{DEV}test_spec_dev_ingress_nginx",
            "tests/simulation/platforms/test_profiles.py::test_every_service_has_an_ingress_path",
        ),
    ),
    SpecItem(
        id="net-front-door-cdn",
        section=SECTION,
        quote="prod: Front Door + CDN in front of the Application Gateway",
        out_of_scope=AZURE_EDGE,
    ),
    SpecItem(
        id="net-waf-owasp",
        section=SECTION,
        quote="App Gateway WAF: OWASP CRS 3.2, Prevention mode",
        out_of_scope="a WAF policy is an Application Gateway (Azure) resource; the repository "
        "provisions none and the chart's ingress annotations reference no WAF policy",
    ),
    SpecItem(
        id="net-private-link",
        section=SECTION,
        quote="Private Link → AKS",
        out_of_scope=AZURE_EDGE,
    ),
    SpecItem(
        id="net-waf-rate-limit",
        section=SECTION,
        quote="WAF rate limit v1 100 / v2 1000 req/min/IP; bot protection (v2)",
        out_of_scope="WAF custom rules live on the Application Gateway (Azure), not provisioned "
        "here; the per-user API rate limit (net-api-rate-limit) is the only limit implemented",
    ),
    SpecItem(
        id="net-api-rate-limit",
        section=SECTION,
        quote="Gateway/API rate limit 100 req/min per user (002)",
        implemented_in=("services/kit/ratelimit.py", "services/kit/settings.py", VALUES_PROD),
        tested_by=(
            f"{PROD}test_spec_prod_config_map",
            "tests/user/test_tokens_and_resilience.py::test_rate_limit_answers_429_with_retry_after",
            "tests/location/test_routes.py::test_routes_are_rate_limited_per_user",
        ),
    ),
    SpecItem(
        id="net-policy-prod",
        section=SECTION,
        quote="prod NetworkPolicy (tier: application): ingress from the ingress controller's "
        "namespace on TCP 8080; egress postgresql 5432, redis 6379, any 443, DNS 53/UDP",
        implemented_in=(VALUES_PROD, "charts/tripgen/templates/networkpolicy.yaml"),
        tested_by=(
            f"{PROD}test_spec_network_policy_prod",
            f"{KIND}test_kind_network_policy_admits_ingress_nginx",
            f"{DESIGN}test_network_findings_follow_the_rendered_policies",
        ),
        note="design-check reports where SPEC's rule alone would block traffic (managed stores "
        "by CIDR, Redis TLS on 6380, service-to-service calls)",
    ),
    SpecItem(
        id="net-policy-dev",
        section=SECTION,
        quote="dev: allow all, but PostgreSQL only from tier: application pods on 5432",
        implemented_in=(VALUES_DEV, "charts/tripgen/templates/networkpolicy.yaml"),
        tested_by=(f"{DEV}test_spec_dev_network_policy",),
    ),
    SpecItem(
        id="net-nsg",
        section=SECTION,
        quote="NSG: AKS → DB 5432, cache 6379, Service Bus 5671/5672",
        implemented_in=(VALUES_PROD,),
        out_of_scope="an NSG is an Azure subnet resource, not provisioned here; values-prod.yaml's "
        "egress NetworkPolicy opens the same ports (5671/5672 untested)",
    ),
    SpecItem(
        id="sec-jwt-dev",
        section=SECTION,
        quote="auth: JWT, dev with a fixed secret",
        implemented_in=("services/kit/auth.py", "services/kit/settings.py", VALUES_DEV),
        tested_by=(
            "tests/kit/test_settings.py::test_prod_requires_a_jwt_secret",
            "tests/kit/test_auth.py::test_issue_and_verify_round_trip",
            f"{DEV}test_spec_dev_secrets",
        ),
    ),
    SpecItem(
        id="sec-jwt-prod-key-vault",
        section=SECTION,
        quote="auth: prod JWT signing key from Key Vault",
        implemented_in=(VALUES_PROD, "charts/tripgen/templates/secretproviderclass.yaml"),
        tested_by=(
            f"{PROD}test_spec_prod_key_vault_csi",
            f"{PROD}test_contract_command_and_env_prod",
            "tests/kit/test_settings.py::test_prod_requires_a_jwt_secret",
        ),
    ),
    SpecItem(
        id="sec-roles",
        section=SECTION,
        quote="roles USER / POWER_USER / ADMIN",
        implemented_in=("services/kit/auth.py", "services/user/routes.py"),
        tested_by=(
            "tests/kit/test_auth.py::test_role_ranks",
            "tests/kit/test_auth.py::test_unknown_role_and_missing_claims_are_refused",
            "tests/user/test_routes.py::test_only_admins_list_users_or_change_roles",
        ),
    ),
    SpecItem(
        id="sec-rbac-service-accounts",
        section=SECTION,
        quote="RBAC service accounts user-service-sa, trip-service-sa (reader), deployment-sa "
        "(writer)",
        implemented_in=(
            VALUES_PROD,
            "charts/tripgen/templates/serviceaccount.yaml",
            "charts/tripgen/templates/role.yaml",
            "charts/tripgen/templates/rolebinding.yaml",
        ),
        tested_by=(f"{PROD}test_spec_rbac_service_accounts",),
    ),
    SpecItem(
        id="sec-secrets-dev",
        section=SECTION,
        quote="dev Kubernetes Secrets: database_password, redis_password, jwt_secret, "
        "openai_api_key",
        implemented_in=(VALUES_DEV, "charts/tripgen/templates/secret.yaml"),
        tested_by=(f"{DEV}test_spec_dev_secrets", f"{DEV}test_contract_env_dev"),
    ),
    SpecItem(
        id="sec-secrets-prod-key-vault",
        section=SECTION,
        quote="prod Key Vault (HSM) via CSI Secret Store: openai_api_key, jwt_signing_key, "
        "encryption_keys, database_passwords, external_api_keys",
        implemented_in=(VALUES_PROD, "charts/tripgen/templates/secretproviderclass.yaml"),
        tested_by=(
            f"{PROD}test_spec_prod_key_vault_csi",
            "tests/chart/test_chart_standards.py::test_crd_schemas_validate_custom_resources",
        ),
        note="the vault itself (HSM tier) is an Azure resource; the chart mounts its objects",
    ),
    SpecItem(
        id="sec-rotation",
        section=SECTION,
        quote="rotation: 90 d secrets, 180 d API keys, 365 d certificates",
        implemented_in=("services/kit/signing_keys.py", "docs/runbooks/jwt-key-rotation.md"),
        tested_by=("tests/kit/test_key_rotation.py::test_a_rolling_key_rotation_fails_no_request",),
        note="JWT keys rotate in three rollouts (tokens carry kid, two keys valid meanwhile); the "
        "periods themselves are Key Vault policies (Azure, not provisioned here)",
    ),
    SpecItem(
        id="sec-tls-in-transit",
        section=SECTION,
        quote="encryption in transit: TLS 1.2 (v1) / 1.3 (v2)",
        implemented_in=(VALUES_PROD,),
        tested_by=(f"{PROD}test_contract_command_and_env_prod",),
        out_of_scope="the TLS version floor is a setting of the Azure services (gateway SSL "
        "policy, PostgreSQL/Redis minimum TLS), not provisioned here; prod clients require TLS "
        "(sslmode=require, rediss://)",
    ),
    SpecItem(
        id="sec-tde-at-rest",
        section=SECTION,
        quote="encryption at rest: TDE",
        out_of_scope="storage encryption of the managed Azure PostgreSQL/Redis, which the "
        "repository does not provision; the dev/kind pods keep plain volumes",
    ),
)
