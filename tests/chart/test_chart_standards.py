"""Chart standards: documented values, tripgen.* helpers, one template per kind, validation."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from simulation.k8s import chart

TEMPLATES = chart.CHART_DIR / "templates"
VALUES = chart.CHART_DIR / "values.yaml"
# Maps documented as one value (their keys are free-form): a @param on the map covers its entries.
FREE_FORM_MAPS = re.compile(
    r"(^|\.)(commonLabels|commonAnnotations|extraPodLabels|annotations|env|secretEnv|"
    r"podAnnotations|extraEnv)$"
)


def _leaves(node: Any, prefix: str = "") -> list[str]:
    if isinstance(node, dict) and node and not FREE_FORM_MAPS.search(prefix):
        out: list[str] = []
        for key, value in node.items():
            out += _leaves(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    return [prefix]


def test_every_value_has_a_param_line() -> None:
    text = VALUES.read_text()
    documented = set(re.findall(r"^\s*## @param (\S+)", text, flags=re.MULTILINE))
    leaves = _leaves(yaml.safe_load(text))
    missing = [leaf for leaf in leaves if leaf not in documented]
    assert not missing, f"values.yaml keys without a `## @param` line: {missing}"
    stale = documented - set(leaves)
    assert not stale, f"`## @param` lines for keys that do not exist: {sorted(stale)}"


def test_schema_is_tight() -> None:
    schema = json.loads((chart.CHART_DIR / "values.schema.json").read_text())

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node.get("additionalProperties") is False, f"{path} accepts unknown keys"
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}/{i}")

    walk(schema, "#")
    # every top-level value of values.yaml is described by the schema
    assert set(yaml.safe_load(VALUES.read_text())) == set(schema["properties"])


def test_helpers_are_named_tripgen_and_commented() -> None:
    text = (TEMPLATES / "_helpers.tpl").read_text()
    defines = re.findall(r'\{\{-? define "([^"]+)"', text)
    assert defines
    assert all(d.startswith("tripgen.") for d in defines)
    for name in defines:
        # the line just above each define is a one-line {{/* name: … */}} comment
        m = re.search(r"\{\{/\* (\S+?):? [^\n]*\*/\}\}\n\{\{-? define \"" + re.escape(name), text)
        assert m, f"{name} has no one-line comment"
        assert m.group(1).rstrip(":") == name, f"{name}'s comment names {m.group(1)}"


PER_SERVICE_KINDS = {
    "deployment.yaml": "tripgen.deployment",
    "service.yaml": "tripgen.service",
    "serviceaccount.yaml": "tripgen.serviceAccount",
    "hpa.yaml": "tripgen.hpa",
    "pdb.yaml": "tripgen.pdb",
    "networkpolicy.yaml": "tripgen.networkPolicy",
    "scaledobject.yaml": "tripgen.scaledObject",
}


@pytest.mark.parametrize(("file", "template"), PER_SERVICE_KINDS.items())
def test_one_named_template_per_kind_ranges_over_services(file: str, template: str) -> None:
    text = (TEMPLATES / file).read_text()
    assert f'define "{template}"' in text
    assert "range $name, $svc := .Values.services" in text
    # no per-service copy: no service name is spelled out in the template
    for svc in ("user", "trip", "location"):
        assert not re.search(rf"\b{svc}-service\b|\"{svc}\"", text), f"{file} names {svc}"


def test_one_file_per_resource_kind(dev: list[dict], prod: list[dict], render) -> None:
    docs = dev + prod + render("ci:prod-keda") + render("prod+kind")
    kinds_by_file: dict[str, set[str]] = {}
    for profile in ("dev", "prod", "ci:prod-keda", "prod+kind"):
        text = chart.render_text(chart.values_files(profile))
        for block in text.split("\n---\n"):
            m = re.search(r"# Source: tripgen/templates/(\S+)", block)
            kind = re.search(r"^kind: (\S+)", block, flags=re.MULTILINE)
            if m and kind:
                kinds_by_file.setdefault(m.group(1), set()).add(kind.group(1))
    for file, kinds in kinds_by_file.items():
        assert len(kinds) == 1, f"{file} renders several kinds: {kinds}"
    assert len({d["kind"] for d in docs}) == len({k for ks in kinds_by_file.values() for k in ks})


def test_ci_values_files_declare_their_base() -> None:
    files = sorted((chart.CHART_DIR / "ci").glob("*-values.yaml"))
    assert len(files) >= 4
    for f in files:
        assert f.read_text().startswith("# base:"), f"{f.name}: first line must be `# base: …`"
        for base in chart.ci_bases(f):
            assert (chart.CHART_DIR / base).exists()


def test_strict_validation_catches_unknown_fields(dev: list[dict]) -> None:
    dep = json.loads(json.dumps(chart.find(dev, "Deployment", "tripgen-user")[0]))
    dep["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["failureTreshold"] = 3
    errors = chart.validate_documents([dep])
    assert errors
    assert "failureTreshold" in errors[0]


def test_crd_schemas_validate_custom_resources(render) -> None:
    docs = render("ci:prod-keda") + render("prod")
    so = json.loads(json.dumps(chart.find(docs, "ScaledObject", "tripgen-ai")[0]))
    spc = chart.find(docs, "SecretProviderClass")[0]
    assert chart.validate_document(so)[1] == []
    assert chart.validate_document(spc)[1] == []
    so["spec"]["triggers"][2]["metadata"]["queueNme"] = "typo"
    where, errors = chart.validate_document(so)
    assert where.startswith("crd-schemas/")
    assert errors


def test_unknown_kinds_are_errors_not_skipped() -> None:
    doc = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert "no schema for example.com/v1 Widget" in chart.validate_documents([doc])[0]


@pytest.mark.parametrize("profile", chart.all_profiles())
def test_every_profile_validates_against_kubernetes_1_29(profile: str, render) -> None:
    assert chart.validate_documents(render(profile)) == []


def test_kind_config_file_is_checked_in() -> None:
    assert (Path(chart.REPO_ROOT) / "kind-config.yaml").exists()


def test_readme_parameter_tables_are_current() -> None:
    # regenerate with `python -m simulation.k8s.chart readme`
    readme = chart.README.read_text(encoding="utf-8")
    assert readme == chart.readme_with_parameters(readme)


def test_verify_exits_non_zero_when_a_step_fails() -> None:
    import io

    from rich.console import Console
    from rich.table import Table

    console = Console(file=io.StringIO(), width=120)
    assert chart._summary(console, Table, [chart.Step("lint", ok=True)]) == 0
    assert chart._summary(console, Table, [chart.Step("lint", ok=False, errors=["x"])]) == 1
    assert "1 of 1 steps failed" in console.file.getvalue()  # type: ignore[attr-defined]
