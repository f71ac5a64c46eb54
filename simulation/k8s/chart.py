"""Render, lint and validate the TripGen chart with a real Helm; `verify` is `nox -s chart`.

    python -m simulation.k8s.chart verify [--no-tests]   # everything below + pytest tests/chart -q
    python -m simulation.k8s.chart render PROFILE   # print the manifests (dev, prod, prod+kind …)
    python -m simulation.k8s.chart values PROFILE         # print the -f arguments of a profile

`verify` renders the dev, prod, prod+kind and dev+kind profiles and every `ci/*-values.yaml`
combination, runs `helm lint --strict` on each, validates every rendered document against the
Kubernetes 1.29 schemas in strict mode (kubernetes-validate; unknown fields are errors) and the
two custom resources against `charts/tripgen/crd-schemas/` (no kind is skipped silently), then
runs the conformance tests. It prints a summary table and exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from simulation.k8s.helm import Helm, HelmError, find_helm

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "tripgen"
CI_DIR = CHART_DIR / "ci"
CRD_SCHEMA_DIR = CHART_DIR / "crd-schemas"
CACHE_DIR = REPO_ROOT / ".tripgen" / "cache" / "chart"

KUBE_VERSION = "1.29"  # SPEC.md › Compute: Kubernetes 1.29
HELM_KUBE_VERSION = "1.29.0"
RELEASE = "tripgen"
NAMESPACE = "tripgen"

# Profile → values files layered on values.yaml, in order. `prod` alone does not render: it needs
# the operator's values (registry, Key Vault ids, hosts, subnets): ci/aks-values.yaml has examples.
PROFILES: dict[str, tuple[str, ...]] = {
    "dev": ("values-dev.yaml",),
    "prod": ("values-prod.yaml", "ci/aks-values.yaml"),
    "prod+kind": ("values-prod.yaml", "values-kind.yaml"),
    "dev+kind": ("values-dev.yaml", "values-kind.yaml"),
}

# Custom resources: (apiVersion, kind) → schema file under crd-schemas/.
CRD_SCHEMAS: dict[tuple[str, str], str] = {
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject-keda.sh-v1alpha1.json",
    ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass"): (
        "secretproviderclass-secrets-store.csi.x-k8s.io-v1.json"
    ),
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule-monitoring.coreos.com-v1.json",
    ("appgw.ingress.azure.io/v1beta1", "AzureApplicationGatewayRewrite"): (
        "azureapplicationgatewayrewrite-appgw.ingress.azure.io-v1beta1.json"
    ),
    ("argoproj.io/v1alpha1", "Rollout"): "rollout-argoproj.io-v1alpha1.json",
    ("argoproj.io/v1alpha1", "AnalysisTemplate"): "analysistemplate-argoproj.io-v1alpha1.json",
}


class ChartError(RuntimeError):
    """Rendering failed (schema violation, template failure)."""


def values_files(profile: str) -> list[Path]:
    """The `-f` files of a profile (`dev`, `prod`, `prod+kind`, `dev+kind`) or `ci:<name>`."""
    if profile.startswith("ci:"):
        ci_file = CI_DIR / f"{profile[3:]}-values.yaml"
        if not ci_file.exists():
            raise KeyError(f"no {ci_file.relative_to(REPO_ROOT)}")
        return [CHART_DIR / name for name in ci_bases(ci_file)] + [ci_file]
    try:
        return [CHART_DIR / name for name in PROFILES[profile]]
    except KeyError:
        known = ", ".join([*PROFILES, *(f"ci:{n}" for n in ci_names())])
        raise KeyError(f"unknown profile {profile!r}; known: {known}") from None


def ci_names() -> list[str]:
    return sorted(p.name.removesuffix("-values.yaml") for p in CI_DIR.glob("*-values.yaml"))


def ci_bases(ci_file: Path) -> list[str]:
    """The profile files a ci/ file layers on: its first line `# base: a.yaml b.yaml`."""
    first = ci_file.read_text(encoding="utf-8").splitlines()[0]
    m = re.match(r"#\s*base:\s*(.*)$", first)
    if not m:
        return []
    pattern = r"values-[\w-]+\.yaml|ci/[\w-]+-values\.yaml"
    return [w for w in m.group(1).split() if re.fullmatch(pattern, w)]


def all_profiles() -> list[str]:
    """Every profile once (a ci/ file that a profile already layers is not repeated)."""
    in_profiles = {f for files in PROFILES.values() for f in files}
    ci = [n for n in ci_names() if f"ci/{n}-values.yaml" not in in_profiles]
    return [*PROFILES, *(f"ci:{n}" for n in ci)]


def _chart_digest() -> str:
    """Hash of every chart file, so cached renders go stale when the chart changes."""
    h = hashlib.sha256()
    for path in sorted(CHART_DIR.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(CHART_DIR)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def helm() -> Helm:
    return find_helm()


def _template_args(files: list[Path], set_values: tuple[str, ...]) -> list[str]:
    args = [
        "template",
        RELEASE,
        str(CHART_DIR),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        HELM_KUBE_VERSION,
    ]
    for f in files:
        args += ["-f", str(f)]
    for s in set_values:
        args += ["--set", s]
    return args


def render_text(
    files: list[Path] | tuple[Path, ...],
    set_values: tuple[str, ...] = (),
    *,
    use_cache: bool = True,
) -> str:
    """`helm template` output for these values files (+ `--set`s), cached on disk by content."""
    files = list(files)
    key_src = json.dumps(
        [_chart_digest(), [f.read_text(encoding="utf-8") for f in files], list(set_values)]
    )
    key = hashlib.sha256(key_src.encode()).hexdigest()[:24]
    cached = CACHE_DIR / f"{key}.yaml"
    if use_cache and cached.exists():
        return cached.read_text(encoding="utf-8")
    proc = helm().run(*_template_args(files, set_values), check=False)
    if proc.returncode != 0:
        raise ChartError(proc.stderr.strip())
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(proc.stdout, encoding="utf-8")
    partial.replace(cached)  # atomic: a concurrent reader sees the whole file or none
    return proc.stdout


def render(profile: str, set_values: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The rendered documents of a profile (see `values_files`)."""
    return parse(render_text(values_files(profile), set_values))


def merged_values(profile: str) -> dict[str, Any]:
    """values.yaml with a profile's files merged over it as Helm merges them (maps key by key,
    anything else replaced; a null value removes the key)."""

    def merge(base: Any, over: Any) -> Any:
        if not (isinstance(base, dict) and isinstance(over, dict)):
            return over
        out = dict(base)
        for key, value in over.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = merge(out.get(key), value)
        return out

    values: Any = yaml.safe_load((CHART_DIR / "values.yaml").read_text(encoding="utf-8"))
    for f in values_files(profile):
        values = merge(values, yaml.safe_load(f.read_text(encoding="utf-8")) or {})
    return dict(values)


def parse(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def lint(files: list[Path]) -> tuple[bool, str]:
    args = ["lint", "--strict", str(CHART_DIR), "--kube-version", HELM_KUBE_VERSION]
    for f in files:
        args += ["-f", str(f)]
    proc = helm().run(*args, check=False)
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


# --------------------------------------------------------------------------- validation


@cache
def _crd_validator(schema_file: str) -> Any:
    import jsonschema

    schema = json.loads((CRD_SCHEMA_DIR / schema_file).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _check_secret_provider_objects(doc: dict[str, Any]) -> list[str]:
    """The `objects` parameter is YAML inside a string: every entry needs objectName/objectType."""
    errors = []
    try:
        parsed = yaml.safe_load(doc["spec"]["parameters"]["objects"])
        for raw in parsed.get("array", []):
            entry = yaml.safe_load(raw)
            if not entry.get("objectName") or entry.get("objectType") not in (
                "secret",
                "key",
                "cert",
            ):
                errors.append(f"objects entry {entry!r} needs objectName and objectType")
    except (yaml.YAMLError, AttributeError, KeyError, TypeError) as exc:
        errors.append(f"objects parameter is not the provider's YAML array: {exc}")
    return errors


def _check_rollout_template(doc: dict[str, Any]) -> list[str]:
    """A Rollout's pod template, strictly as Kubernetes' own PodTemplateSpec (inside a
    Deployment of the same selector), which the Argo Rollouts CRD embeds."""
    import kubernetes_validate

    probe = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": doc["metadata"]["name"]},
        "spec": {"selector": doc["spec"]["selector"], "template": doc["spec"]["template"]},
    }
    try:
        kubernetes_validate.validate(probe, KUBE_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"spec/{'/'.join(str(p) for p in exc.path)}: {exc.message}"]
    return []


def validate_document(doc: dict[str, Any]) -> tuple[str, list[str]]:
    """Validate one manifest; returns (what it was validated against, errors)."""
    api, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    schema_file = CRD_SCHEMAS.get((api, kind))
    if schema_file:
        validator = _crd_validator(schema_file)
        errors = [
            f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        ]
        if kind == "SecretProviderClass" and not errors:
            errors += _check_secret_provider_objects(doc)
        if kind == "Rollout" and not errors:
            errors += _check_rollout_template(doc)
        return f"crd-schemas/{schema_file}", errors
    import kubernetes_validate

    try:
        used = kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return "none", [
            f"no schema for {api} {kind}: add one to charts/tripgen/crd-schemas/ and CRD_SCHEMAS"
        ]
    except kubernetes_validate.ValidationError as exc:
        path = "/".join(str(p) for p in exc.path) or "(root)"
        return f"kubernetes {KUBE_VERSION} strict", [f"{path}: {exc.message}"]
    return f"kubernetes {used} strict", []


def validate_documents(docs: list[dict[str, Any]]) -> list[str]:
    """All errors of all documents, each prefixed with `Kind/name`."""
    errors: list[str] = []
    for doc in docs:
        _, errs = validate_document(doc)
        name = doc.get("metadata", {}).get("name", "?")
        errors += [f"{doc.get('kind')}/{name}: {e}" for e in errs]
    return errors


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    """Documents of `kind` (and `name`)."""
    return [
        d for d in docs if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)
    ]


# --------------------------------------------------------------------------- README parameters

README = CHART_DIR / "README.md"
PARAMS_BEGIN = "<!-- parameters: generated by `python -m simulation.k8s.chart readme` -->"
PARAMS_END = "<!-- end of parameters -->"


def parameters_table() -> str:
    """Markdown tables of the `## @section` / `## @param` lines of values.yaml, with defaults."""
    text = (CHART_DIR / "values.yaml").read_text(encoding="utf-8")
    values = yaml.safe_load(text)
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("## @section "):
            out += [
                "",
                f"### {line.removeprefix('## @section ')}",
                "",
                "| name | description | default |",
                "|---|---|---|",
            ]
        elif line.startswith("## @param "):
            name, _, desc = line.removeprefix("## @param ").partition(" ")
            node: Any = values
            for part in name.split("."):
                node = node[part]
            default = json.dumps(node, ensure_ascii=False)
            cell = desc.replace("|", "\\|")
            out.append(f"| `{name}` | {cell} | `{default}` |")
    return "\n".join(out).strip() + "\n"


def readme_with_parameters(readme: str) -> str:
    head, _, rest = readme.partition(PARAMS_BEGIN)
    _, _, tail = rest.partition(PARAMS_END)
    return f"{head}{PARAMS_BEGIN}\n\n{parameters_table()}\n{PARAMS_END}{tail}"


# --------------------------------------------------------------------------- verify


@dataclass
class Step:
    name: str
    ok: bool = True
    detail: str = ""
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def verify(*, run_tests: bool = True) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    steps: list[Step] = []

    def run(name: str, fn: Any) -> Step:
        step = Step(name)
        start = time.monotonic()
        with console.status(f"[bold]{name}[/] …"):
            try:
                fn(step)
            except (ChartError, HelmError) as exc:
                step.ok, step.errors = False, [str(exc)]
            except Exception as exc:  # report, never hide, an unexpected failure
                step.ok, step.errors = False, [f"{type(exc).__name__}: {exc}"]
        step.seconds = time.monotonic() - start
        mark = "[green]ok[/]" if step.ok else "[red]FAIL[/]"
        console.print(f"{mark} {name} ({step.seconds:.1f} s) {step.detail}")
        for err in step.errors[:20]:
            console.print(f"    {err}", style="red", highlight=False, markup=False)
        steps.append(step)
        return step

    def find_helm_step(step: Step) -> None:
        h = helm()
        step.detail = f"{h.version} from {h.origin} ({h.path})"

    run("helm", find_helm_step)
    if not steps[-1].ok:
        return _summary(console, Table, steps)

    for profile in all_profiles():
        files = values_files(profile)
        label = " + ".join(f.relative_to(CHART_DIR).as_posix() for f in files) or "values.yaml"

        def lint_step(step: Step, files: list[Path] = files, label: str = label) -> None:
            ok, out = lint(files)
            step.ok, step.detail = ok, label
            if not ok:
                step.errors = [line for line in out.splitlines() if line.strip()]

        def render_step(step: Step, files: list[Path] = files) -> None:
            docs = parse(render_text(files, use_cache=False))
            errors = validate_documents(docs)
            kinds = sorted({d["kind"] for d in docs})
            step.detail = (
                f"{len(docs)} documents, {len(kinds)} kinds; "
                f"Kubernetes {KUBE_VERSION} strict + crd-schemas/"
            )
            step.ok, step.errors = not errors, errors

        run(f"helm lint --strict {profile}", lint_step)
        run(f"render + validate {profile}", render_step)

    if run_tests:

        def pytest_step(step: Step) -> None:
            proc = subprocess.run(
                [sys.executable, "-m", "pytest", "tests/chart", "-q", "-p", "no:cacheprovider"],
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            lines = [line for line in proc.stdout.splitlines() if line.strip()]
            step.detail = lines[-1] if lines else ""
            step.ok = proc.returncode == 0
            if not step.ok:
                step.errors = lines[-40:] + proc.stderr.splitlines()[-10:]

        run("pytest tests/chart -q (conformance to SPEC.md)", pytest_step)
    return _summary(console, Table, steps)


def _summary(console: Any, table_cls: Any, steps: list[Step]) -> int:
    table = table_cls(title="nox -s chart: summary")
    table.add_column("step")
    table.add_column("result")
    table.add_column("s", justify="right")
    table.add_column("detail")
    for s in steps:
        table.add_row(
            s.name,
            "[green]ok[/]" if s.ok else f"[red]FAIL ({len(s.errors)})[/]",
            f"{s.seconds:.1f}",
            s.detail,
        )
    console.print(table)
    failed = [s for s in steps if not s.ok]
    if failed:
        console.print(f"[red]{len(failed)} of {len(steps)} steps failed[/]")
        return 1
    console.print(f"[green]all {len(steps)} steps passed[/]")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulation.k8s.chart", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify", help="render, lint, validate, conformance tests")
    v.add_argument("--no-tests", action="store_true", help="skip pytest tests/chart")
    r = sub.add_parser("render", help="print the rendered manifests of a profile")
    r.add_argument("profile")
    r.add_argument("--set", action="append", default=[], dest="set_values")
    sub.add_parser("readme", help="regenerate the parameter tables of charts/tripgen/README.md")
    vf = sub.add_parser("values", help="print the values files of a profile")
    vf.add_argument("profile")
    args = parser.parse_args(argv)
    if args.cmd == "verify":
        return verify(run_tests=not args.no_tests)
    if args.cmd == "readme":
        README.write_text(readme_with_parameters(README.read_text(encoding="utf-8")), "utf-8")
        print(f"updated {README.relative_to(REPO_ROOT)}")
        return 0
    if args.cmd == "values":
        print(" ".join(f"-f {f}" for f in values_files(args.profile)))
        return 0
    try:
        sys.stdout.write(render_text(values_files(args.profile), tuple(args.set_values)))
    except ChartError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
