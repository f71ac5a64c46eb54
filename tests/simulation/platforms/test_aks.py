"""deploy-aks against a fake AKS API server and a Helm that renders the chart for real.

No AKS cluster is reachable here. The fake cluster answers as the API reference says and looks
like AKS from the API (zone-labelled nodes, the tainted application pool, metrics-server, the
Key Vault CSI driver, AGIC's IngressClass, an API server that is not on loopback); each test
takes one of those away or sets one value, then checks what deploy-aks does about it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from simulation.k8s.kubeapi import KubeApi
from simulation.k8s.registry import PushedImage, record
from simulation.k8s.topology import APPLICATION_TAINT, POOL_LABEL, ZONE_LABEL, ZONES
from simulation.platforms.aks import AksPlatform, read_gate
from simulation.platforms.base import PlatformError, Unsupported
from tests.simulation.k8s.fake_kube_api import non_loopback_address, write_kubeconfig
from tests.simulation.platforms.fake_kind import FakeKindWorld, SchedulingCluster

CONTEXT = "tripgen-prod-aks"
CHART = Path(__file__).resolve().parents[3] / "charts" / "tripgen"
OPERATOR_VALUES = CHART / "ci" / "aks-values.yaml"  # example operator values
DIGEST = "sha256:" + "7e" * 32


def aks_cluster() -> SchedulingCluster:
    cluster = SchedulingCluster(pod_ready_after_s=0.1, hpa_after_s=0.2)
    taint = {"key": APPLICATION_TAINT.key, "value": APPLICATION_TAINT.value,
             "effect": APPLICATION_TAINT.effect}  # fmt: skip
    for i in range(6):
        zone = ZONES[i % 3]
        cluster.put({"kind": "Node", "apiVersion": "v1",
                     "metadata": {"name": f"aks-application-{i}", "labels": {
                         ZONE_LABEL: zone, POOL_LABEL: "application",
                         APPLICATION_TAINT.key: "true"}},
                     "spec": {"taints": [taint]}})  # fmt: skip
    for i in range(3):
        cluster.put({"kind": "Node", "apiVersion": "v1",
                     "metadata": {"name": f"aks-system-{i}",
                                  "labels": {ZONE_LABEL: ZONES[i], POOL_LABEL: "system"}},
                     "spec": {"taints": []}})  # fmt: skip
    available = {"conditions": [{"type": "Available", "status": "True"}]}
    cluster.put({"kind": "APIService", "apiVersion": "apiregistration.k8s.io/v1",
                 "metadata": {"name": "v1beta1.metrics.k8s.io"}, "status": available})  # fmt: skip
    cluster.put({"kind": "CSIDriver", "apiVersion": "storage.k8s.io/v1",
                 "metadata": {"name": "secrets-store.csi.k8s.io"}, "spec": {}})  # fmt: skip
    spc = "secretproviderclasses.secrets-store.csi.x-k8s.io"
    cluster.put({"kind": "CustomResourceDefinition", "apiVersion": "apiextensions.k8s.io/v1",
                 "metadata": {"name": spc}})  # fmt: skip
    cluster.put({"kind": "IngressClass", "apiVersion": "networking.k8s.io/v1",
                 "metadata": {"name": "azure-application-gateway"}})  # fmt: skip
    return cluster


@pytest.fixture
def world(tmp_path: Path) -> Iterator[FakeKindWorld]:
    cluster = aks_cluster()
    with cluster.serve(bind="0.0.0.0") as url:
        port = url.rsplit(":", 1)[1]
        kubeconfig = write_kubeconfig(
            tmp_path / "kubeconfig",
            {CONTEXT: f"http://{non_loopback_address()}:{port}", "kind-tripgen-prod-sim": url},
        )
        w = FakeKindWorld(cluster, tools={"helm", "kubectl"})
        w.kubeconfig = kubeconfig  # type: ignore[attr-defined]
        yield w


@pytest.fixture
def printed() -> io.StringIO:
    return io.StringIO()


def aks(
    tmp_path: Path,
    world: FakeKindWorld,
    printed: io.StringIO,
    *,
    context: str = CONTEXT,
    values: list[Path] | None = None,
    sets: list[str] | None = None,
    force: bool = False,
) -> AksPlatform:
    kubeconfig = str(world.kubeconfig)  # type: ignore[attr-defined]
    return AksPlatform(
        tmp_path,
        runner=world,
        kube_context=context,
        force=force,
        values_files=[OPERATOR_VALUES] if values is None else values,
        set_values=sets,
        console=Console(file=printed, width=200),
        api_factory=lambda ctx: KubeApi.for_context(ctx, kubeconfig),
        pushed_record=tmp_path / "pushed.json",
        poll_s=0.05,
    )


def write_gate(run_dir: Path, **gate: object) -> None:
    path = run_dir / "gate" / "prod.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(gate))


def serve_ingress_address(world: FakeKindWorld) -> None:
    """App Gateway publishes the ingress address a moment after the release appears."""

    def publish() -> None:
        ingress = world.cluster.find("Ingress", "tripgen", "tripgen")
        if ingress is None:
            world.cluster.later(0.1, publish)
            return
        ingress["status"] = {"loadBalancer": {"ingress": [{"ip": "20.1.2.3"}]}}

    world.cluster.later(0.1, publish)


def upgrade(world: FakeKindWorld) -> tuple[str, ...]:
    return next(c for c in world.commands if c[:3] == ("helm", "upgrade", "--install"))


def test_refuses_without_an_sla_report(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO
) -> None:
    with pytest.raises(PlatformError, match="no SLA gate") as caught:
        aks(tmp_path, world, printed).deploy("prod")
    assert "sla-check" in str(caught.value)
    assert not [c for c in world.commands if c[:2] == ("helm", "upgrade")]
    assert world.cluster.requests == []  # nothing was asked of the cluster


def test_refuses_when_the_latest_report_failed(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO
) -> None:
    write_gate(tmp_path, passed=False, platform="local", failed=["p95_ms general API"])
    with pytest.raises(PlatformError, match=r"did not pass.*p95_ms general API"):
        aks(tmp_path, world, printed).deploy("prod")


def test_prod_values_alone_name_every_missing_operator_value(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO
) -> None:
    write_gate(tmp_path, passed=True)
    with pytest.raises(PlatformError) as caught:
        aks(tmp_path, world, printed, values=[]).deploy("prod")
    message = str(caught.value)
    for value in ("image.registry", "secrets.keyVault.tenantId", "externalDatabase.host",
                  "networkPolicy.ingress.cidrs", "networkPolicy.egress.redisCidrs"):  # fmt: skip
        assert value in message
    assert world.cluster.requests == []


def test_deploys_the_layered_values_and_waits_for_every_hpa_minimum(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO
) -> None:
    write_gate(tmp_path, passed=True, platform="local", generated_at="2026-11-22T06:00:00Z")
    record([PushedImage("tripgen:dev", "tripgenprod.azurecr.io", "tripgen", DIGEST)],
           tmp_path / "pushed.json")  # fmt: skip
    own = tmp_path / "my-aks.yaml"
    own.write_text(yaml.safe_dump({"ingress": {"host": "trips.example.org"}}))
    serve_ingress_address(world)
    platform = aks(tmp_path, world, printed, values=[OPERATOR_VALUES, own],
                   sets=["config.logLevel=DEBUG"])  # fmt: skip
    endpoints = platform.deploy("prod")
    args = upgrade(world)
    files = [Path(args[i + 1]).name for i, a in enumerate(args) if a == "--values"]
    assert files == [
        "values-prod.yaml",
        "pushed-image-values.yaml",
        "aks-values.yaml",
        "my-aks.yaml",
    ]
    at = args.index("--set")
    assert args[at : at + 2] == ("--set", "config.logLevel=DEBUG")
    assert {"--atomic", "--wait", "--wait-for-jobs"} <= set(args)
    assert args[-2:] == ("--kube-context", CONTEXT)
    # the user's file came after the example: their host won; the pushed digest was overridden
    # by the operator file's own digest (later files win, as in Helm)
    ingress = world.cluster.find("Ingress", "tripgen", "tripgen")
    assert ingress is not None
    assert ingress["spec"]["rules"][0]["host"] == "trips.example.org"
    # every HPA at its minimum with ready pods (SPEC.md: 3/3/2/2)
    for name, minimum in {"tripgen-user": 3, "tripgen-trip": 3, "tripgen-ai": 2,
                          "tripgen-location": 2}.items():  # fmt: skip
        live = world.cluster.find("Deployment", name, "tripgen")
        assert live is not None
        assert live["status"]["readyReplicas"] >= minimum
    assert endpoints.base_url == "https://20.1.2.3"
    assert "preflight: " in printed.getvalue()


def test_the_pushed_digest_is_what_the_cluster_pulls(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO
) -> None:
    write_gate(tmp_path, passed=True)
    record([PushedImage("tripgen:dev", "tripgenprod.azurecr.io", "tripgen", DIGEST)],
           tmp_path / "pushed.json")  # fmt: skip
    operator = yaml.safe_load(OPERATOR_VALUES.read_text())
    del operator["image"]  # the operator leaves the image to the push record
    own = tmp_path / "no-image.yaml"
    own.write_text(yaml.safe_dump(operator))
    serve_ingress_address(world)
    aks(tmp_path, world, printed, values=[own]).deploy("prod")
    live = world.cluster.find("Deployment", "tripgen-user", "tripgen")
    assert live is not None
    image = live["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"tripgenprod.azurecr.io/tripgen@{DIGEST}"


@pytest.mark.parametrize(
    ("remove", "named"),
    [
        (("APIService", "v1beta1.metrics.k8s.io"), "APIService v1beta1.metrics.k8s.io: absent"),
        (("CSIDriver", "secrets-store.csi.k8s.io"), "azure-keyvault-secrets-provider"),
        (("IngressClass", "azure-application-gateway"), "IngressClass azure-application-gateway"),
    ],
)
def test_preflight_names_a_missing_cluster_component(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO, remove: tuple[str, str], named: str
) -> None:
    write_gate(tmp_path, passed=True)
    world.cluster.remove(*remove)
    with pytest.raises(PlatformError, match="lacks what the release needs") as caught:
        aks(tmp_path, world, printed).deploy("prod")
    assert named in str(caught.value)
    assert not [c for c in world.commands if c[:2] == ("helm", "upgrade")]


def test_preflight_wants_zone_labels_and_the_application_taint(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO
) -> None:
    write_gate(tmp_path, passed=True)
    for node in world.cluster.of_kind("Node"):
        node["spec"]["taints"] = []
    system_node = world.cluster.find("Node", "aks-system-0")
    assert system_node is not None
    del system_node["metadata"]["labels"][ZONE_LABEL]
    with pytest.raises(PlatformError) as caught:
        aks(tmp_path, world, printed).deploy("prod")
    message = str(caught.value)
    assert f"nodes carry {ZONE_LABEL}: missing on aks-system-0" in message
    assert "0 of 6 selected nodes carry application-workload=true:NoSchedule" in message


def test_preflight_refuses_metrics_server_that_does_not_answer(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO
) -> None:
    write_gate(tmp_path, passed=True)
    svc = world.cluster.find("APIService", "v1beta1.metrics.k8s.io")
    assert svc is not None
    why = "failing or missing response from https://10.0.0.9:4443/apis/metrics.k8s.io/v1beta1"
    condition = {"type": "Available", "status": "False", "reason": "FailedDiscoveryCheck"}
    svc["status"] = {"conditions": [{**condition, "message": why}]}
    with pytest.raises(PlatformError, match="not available: failing or missing response"):
        aks(tmp_path, world, printed).deploy("prod")


def test_a_kind_context_is_refused(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO
) -> None:
    write_gate(tmp_path, passed=True)
    with pytest.raises(PlatformError, match="is a local kind cluster, not AKS"):
        aks(tmp_path, world, printed, context="kind-tripgen-prod-sim").deploy("prod")


def test_force_overrides_the_gate_with_a_warning(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO
) -> None:
    write_gate(tmp_path, passed=False)
    serve_ingress_address(world)
    aks(tmp_path, world, printed, force=True).deploy("prod")
    assert "--force: deploying although" in printed.getvalue()
    record_file = json.loads((tmp_path / "aks" / "last-deploy.json").read_text())
    assert record_file["forced"] is True


def test_a_failed_upgrade_is_rolled_back_and_explained(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO
) -> None:
    write_gate(tmp_path, passed=True)
    world.helm_fails = "Error: UPGRADE FAILED: release tripgen failed, and has been rolled back"
    with pytest.raises(PlatformError, match="rolled back"):
        aks(tmp_path, world, printed).deploy("prod")


def test_dry_run_only_renders(tmp_path: Path, world: FakeKindWorld, printed: io.StringIO) -> None:
    out = aks(tmp_path, world, printed).dry_run()
    assert out.read_text().count("\nkind: Deployment\n") == 4
    assert "nothing was sent to context" in printed.getvalue()
    assert world.cluster.requests == []


def test_missing_values_file_is_named(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO
) -> None:
    with pytest.raises(PlatformError, match=r"--values .*nope\.yaml: no such file"):
        aks(tmp_path, world, printed, values=[tmp_path / "nope.yaml"]).dry_run()


def test_only_prod_goes_to_aks(tmp_path: Path, world: FakeKindWorld, printed: io.StringIO) -> None:
    with pytest.raises(PlatformError, match="prod profile only"):
        aks(tmp_path, world, printed).deploy("dev")


def test_no_chaos_and_no_teardown_against_production(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO
) -> None:
    platform = aks(tmp_path, world, printed)
    with pytest.raises(Unsupported):
        platform.kill_replica("user")
    with pytest.raises(Unsupported):
        platform.zone_outage("zone-1")
    with pytest.raises(Unsupported):
        platform.stop_dependency("redis")
    with pytest.raises(Unsupported, match="helm uninstall"):
        platform.down()
    assert world.commands == []


def test_gate_reader_handles_broken_files(tmp_path: Path) -> None:
    (tmp_path / "gate").mkdir()
    (tmp_path / "gate" / "prod.json").write_text("{")
    verdict = read_gate(tmp_path)
    assert not verdict.passed
    assert "unreadable" in verdict.detail


def test_the_cli_takes_repeated_values_and_sets() -> None:
    from simulation.cli import build_parser

    args = build_parser().parse_args(
        ["deploy-aks", "--kube-context", CONTEXT, "--values", "a.yaml", "--values", "b.yaml",
         "--set", "ingress.host=x.example.org", "--set", "config.logLevel=DEBUG"]
    )  # fmt: skip
    assert args.values == [Path("a.yaml"), Path("b.yaml")]
    assert args.set_values == ["ingress.host=x.example.org", "config.logLevel=DEBUG"]
