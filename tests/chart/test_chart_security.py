"""The chart's edge security: HSTS at the AKS ingress, and the checkov gate's skip list."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from simulation.k8s import chart, checkov
from tests.chart.chart_support import Doc, one

REWRITE = "tripgen-security-headers"


def _response_headers(rewrite: Doc) -> dict[str, str]:
    return {
        h["headerName"]: h["headerValue"]
        for rule in rewrite["spec"]["rewriteRules"]
        for h in rule["actions"]["responseHeaderConfigurations"]
        if h["actionType"] == "set"
    }


def test_prod_app_gateway_sends_hsts_on_every_answer(render: Callable[[str], list[Doc]]) -> None:
    docs = render("prod")
    ingress = one(docs, "Ingress", "tripgen")
    assert ingress["spec"]["ingressClassName"] == "azure-application-gateway"
    annotations = ingress["metadata"]["annotations"]
    assert annotations["appgw.ingress.kubernetes.io/rewrite-rule-set-custom-resource"] == REWRITE
    assert annotations["appgw.ingress.kubernetes.io/ssl-redirect"] == "true"
    rewrite = one(docs, "AzureApplicationGatewayRewrite", REWRITE)
    assert rewrite["metadata"]["namespace"] == ingress["metadata"]["namespace"]
    headers = _response_headers(rewrite)
    hsts = dict(
        part.strip().partition("=")[::2] for part in headers["Strict-Transport-Security"].split(";")
    )
    assert int(hsts["max-age"]) >= 31_536_000  # a year: OWASP's recommendation
    assert "includeSubDomains" in hsts
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert chart.validate_documents([rewrite]) == []  # against crd-schemas/ (AGIC's CRD)


@pytest.mark.parametrize("profile", ["dev", "prod+kind"])
def test_nginx_ingress_profiles_render_no_app_gateway_rewrite(
    render: Callable[[str], list[Doc]], profile: str
) -> None:
    docs = render(profile)
    assert chart.find(docs, "AzureApplicationGatewayRewrite") == []
    for ingress in chart.find(docs, "Ingress"):
        assert not any(k.startswith("appgw.") for k in ingress["metadata"].get("annotations", {}))


def test_every_checkov_skip_names_a_known_set_and_gives_its_reason() -> None:
    skips = checkov.load_skips()
    assert set(skips) == set(checkov.MANIFEST_SETS)
    for checks in skips.values():
        for check, reason in checks.items():
            assert check.startswith(("CKV_K8S_", "CKV2_K8S_")), check
            assert len(reason) > 40, f"{check}: say why in a sentence"
    # The AKS set keeps the strictest list: image digests, pull policy, UIDs and network policy
    # all pass there.
    assert set(skips["prod"]) <= set(skips["prod+kind"]) & set(skips["dev"])


def test_a_skip_without_a_reason_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "skips.yaml"
    bad.write_text("prod:\n  CKV_K8S_35: ''\n")
    with pytest.raises(checkov.CheckovError, match="needs a reason"):
        checkov.load_skips(bad)
    bad.write_text("staging:\n  CKV_K8S_35: a reason long enough to be one\n")
    with pytest.raises(checkov.CheckovError, match="unknown manifest set"):
        checkov.load_skips(bad)


def test_judge_counts_skips_failures_and_stale_skips() -> None:
    def finding(check: str) -> dict[str, str]:
        return {"check_id": check, "resource": "Deployment.tripgen.x", "check_name": "n"}

    report = {
        "results": {
            "passed_checks": [{}] * 7,
            "failed_checks": [finding("CKV_K8S_35"), finding("CKV_K8S_35"), finding("CKV_K8S_8")],
            "skipped_checks": [{}],
        }
    }
    skips = {"CKV_K8S_35": "env secrets, see the file", "CKV_K8S_43": "digest, see the file"}
    result = checkov.judge("prod", report, skips)
    assert (result.passed, result.skipped_findings) == (7, 3)
    assert result.failed == ["CKV_K8S_8 Deployment.tripgen.x: n"]
    assert result.stale_skips == ["CKV_K8S_43"]
    assert not result.ok
    assert any("STALE" in line for line in checkov.describe(result))


@pytest.mark.parametrize(
    ("profile", "proxies"),
    [("prod", "10.1.0.0/24"), ("prod+kind", "10.244.0.0/16"), ("dev", None)],
)
def test_forwarded_addresses_are_believed_from_the_ingress_only(
    render: Callable[[str], list[Doc]], profile: str, proxies: str | None
) -> None:
    """prod: the App Gateway subnet (networkPolicy.ingress.cidrs); kind: the pod network where
    ingress-nginx runs; dev: unset, so uvicorn believes loopback only (never "*")."""
    config = one(render(profile), "ConfigMap", "tripgen-config")["data"]
    assert config.get("TRIPGEN_FORWARDED_ALLOW_IPS") == proxies
