"""A fake Kubernetes API server on loopback that answers as the API reference says.

Objects live in memory; a background loop plays the controllers the waits depend on (Deployments
and StatefulSets make pods that turn Ready after a delay, the HPA controller raises a Deployment
to `minReplicas`), so objects appear and change asynchronously, as on a real cluster. Answers
follow the API: JSON lists, 404 with a `Status` object (`reason: NotFound`) for a missing object,
`404 page not found` as plain text for an API group that is not served, 401 without the bearer
token, 429 `TooManyRequests` for an eviction a PodDisruptionBudget refuses, merge patches.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

Obj = dict[str, Any]
TOKEN = "fake-cluster-token"

# (api prefix, resource) → (kind, namespaced)
RESOURCES: dict[tuple[str, str], tuple[str, bool]] = {
    ("/api/v1", "pods"): ("Pod", True),
    ("/api/v1", "nodes"): ("Node", False),
    ("/api/v1", "namespaces"): ("Namespace", False),
    ("/api/v1", "services"): ("Service", True),
    ("/apis/apps/v1", "deployments"): ("Deployment", True),
    ("/apis/apps/v1", "statefulsets"): ("StatefulSet", True),
    ("/apis/apps/v1", "daemonsets"): ("DaemonSet", True),
    ("/apis/autoscaling/v2", "horizontalpodautoscalers"): ("HorizontalPodAutoscaler", True),
    ("/apis/policy/v1", "poddisruptionbudgets"): ("PodDisruptionBudget", True),
    ("/apis/keda.sh/v1alpha1", "scaledobjects"): ("ScaledObject", True),
    ("/apis/apiregistration.k8s.io/v1", "apiservices"): ("APIService", False),
    ("/apis/storage.k8s.io/v1", "csidrivers"): ("CSIDriver", False),
    ("/apis/networking.k8s.io/v1", "ingressclasses"): ("IngressClass", False),
    ("/apis/networking.k8s.io/v1", "ingresses"): ("Ingress", True),
    ("/api/v1", "events"): ("Event", True),
    ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions"): (
        "CustomResourceDefinition",
        False,
    ),
}
KIND_TO_RESOURCE = {kind: key for key, (kind, _) in RESOURCES.items()}
CORE_GROUPS = {prefix for prefix, _ in RESOURCES} - {"/apis/keda.sh/v1alpha1"}


def status(code: int, reason: str, message: str, **details: Any) -> Obj:
    """A `Status` object as the API server returns it for a failed request."""
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


# --------------------------------------------------------------------------- selectors

_REQ = re.compile(
    r"^\s*(!?)([\w./-]+)\s*(?:(==|=|!=)\s*([\w.-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*$"
)


def _split_requirements(selector: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in selector:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [p for p in [*parts, current] if p.strip()]


def label_selector_matches(selector: str, labels: dict[str, str]) -> bool:
    for requirement in _split_requirements(selector):
        m = _REQ.match(requirement)
        if not m:
            raise ValueError(f"unable to parse requirement: {requirement!r}")
        neg, key, op, value, set_op, values = m.groups()
        if set_op:
            options = {v.strip() for v in values.split(",")}
            ok = labels.get(key) in options if set_op == "in" else labels.get(key) not in options
        elif op in ("=", "=="):
            ok = labels.get(key) == value
        elif op == "!=":
            ok = labels.get(key) != value
        else:
            ok = (key in labels) != bool(neg)
        if not ok:
            return False
    return True


def _field(obj: Obj, path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part, "") if isinstance(node, dict) else ""
    return str(node)


def field_selector_matches(selector: str, obj: Obj) -> bool:
    for requirement in [r for r in selector.split(",") if r.strip()]:
        key, op, value = re.match(r"([\w.]+)(==|=|!=)(.*)", requirement.strip()).groups()  # type: ignore[union-attr]
        actual = _field(obj, key)
        if (op == "!=") == (actual == value):
            return False
    return True


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --------------------------------------------------------------------------- the cluster


class FakeCluster:
    """Objects by (prefix, resource, namespace, name), the controllers, and the HTTP server."""

    def __init__(self, *, pod_ready_after_s: float = 0.2, hpa_after_s: float = 0.3) -> None:
        self.lock = threading.RLock()
        self.objects: dict[tuple[str, str, str, str], Obj] = {}
        self.served = set(CORE_GROUPS)
        self.requests: list[tuple[str, str]] = []
        self.pod_ready_after_s = pod_ready_after_s
        self.hpa_after_s = hpa_after_s
        self._stop = threading.Event()
        self._seq = 0

    # ------------------------------------------------------------------ objects

    def put(self, obj: Obj) -> Obj:
        prefix, resource = KIND_TO_RESOURCE[obj["kind"]]
        meta = obj.setdefault("metadata", {})
        namespaced = RESOURCES[(prefix, resource)][1]
        namespace = meta.get("namespace", "default") if namespaced else ""
        if namespaced:
            meta["namespace"] = namespace
        if obj["kind"] in ("Deployment", "StatefulSet"):
            obj["spec"].setdefault("replicas", 1)  # the API's default when the manifest omits it
        with self.lock:
            self._seq += 1
            meta.setdefault("uid", f"uid-{self._seq}")
            meta.setdefault("generation", 1)
            meta.setdefault("creationTimestamp", time.time())
            self.objects[(prefix, resource, namespace, meta["name"])] = obj
        return obj

    def find(self, kind: str, name: str, namespace: str = "default") -> Obj | None:
        prefix, resource = KIND_TO_RESOURCE[kind]
        ns = namespace if RESOURCES[(prefix, resource)][1] else ""
        with self.lock:
            return self.objects.get((prefix, resource, ns, name))

    def of_kind(self, kind: str) -> list[Obj]:
        prefix, resource = KIND_TO_RESOURCE[kind]
        with self.lock:
            return [o for (p, r, _, _), o in self.objects.items() if (p, r) == (prefix, resource)]

    def remove(self, kind: str, name: str, namespace: str = "default") -> None:
        prefix, resource = KIND_TO_RESOURCE[kind]
        ns = namespace if RESOURCES[(prefix, resource)][1] else ""
        with self.lock:
            self.objects.pop((prefix, resource, ns, name), None)

    def later(self, delay_s: float, action: Callable[[], object]) -> None:
        timer = threading.Timer(delay_s, action)
        timer.daemon = True
        timer.start()

    # ------------------------------------------------------------------ controllers

    def _pods_of(self, namespace: str, match: dict[str, str]) -> list[Obj]:
        return [
            p
            for p in self.of_kind("Pod")
            if p["metadata"]["namespace"] == namespace
            and all(p["metadata"].get("labels", {}).get(k) == v for k, v in match.items())
        ]

    def _reconcile_workload(self, workload: Obj, now: float) -> None:
        meta, spec = workload["metadata"], workload["spec"]
        namespace = meta["namespace"]
        selector = spec["selector"]["matchLabels"]
        pods = self._pods_of(namespace, selector)
        wanted = int(spec.get("replicas", 1))
        for i in range(len(pods), wanted):
            name = (
                f"{meta['name']}-{i}"
                if workload["kind"] == "StatefulSet"
                else (f"{meta['name']}-5d8c7b9f4-{self._seq:05d}")
            )
            labels = dict(spec["template"]["metadata"].get("labels", {}))
            pod = {
                "kind": "Pod",
                "apiVersion": "v1",
                "metadata": {"name": name, "namespace": namespace, "labels": labels,
                             "ownerReferences": [{"kind": "ReplicaSet" if workload["kind"] ==
                                                  "Deployment" else "StatefulSet",
                                                  "name": meta["name"]}]},
                "spec": {"nodeName": self._pick_node(i)},
                "status": {"phase": "Pending", "conditions": []},
                "_ready_at": now + self.pod_ready_after_s,
            }  # fmt: skip
            self.put(pod)
        for extra in self._pods_of(namespace, selector)[wanted:]:
            self.remove("Pod", extra["metadata"]["name"], namespace)
        ready = 0
        for existing in self._pods_of(namespace, selector):
            if existing.get("_ready_at", 0) <= now:
                existing["status"] = {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True"}],
                }
                ready += 1
        count = min(len(self._pods_of(namespace, selector)), wanted)
        workload["status"] = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": count,
            "updatedReplicas": count,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "currentReplicas": count,
        }

    def _pick_node(self, i: int) -> str:
        nodes = [n["metadata"]["name"] for n in self.of_kind("Node")]
        return nodes[i % len(nodes)] if nodes else ""

    def _reconcile_hpa(self, hpa: Obj, now: float) -> None:
        target = self.find("Deployment", hpa["spec"]["scaleTargetRef"]["name"],
                           hpa["metadata"]["namespace"])  # fmt: skip
        if target is None or now < hpa["metadata"]["creationTimestamp"] + self.hpa_after_s:
            return
        minimum = int(hpa["spec"].get("minReplicas", 1))
        if int(target["spec"].get("replicas", 1)) < minimum:
            target["spec"]["replicas"] = minimum
        hpa["status"] = {
            "currentReplicas": int(target.get("status", {}).get("replicas", 0)),
            "desiredReplicas": int(target["spec"]["replicas"]),
        }

    def reconcile(self) -> None:
        now = time.time()
        with self.lock:
            for hpa in self.of_kind("HorizontalPodAutoscaler"):
                self._reconcile_hpa(hpa, now)
            for workload in self.of_kind("Deployment") + self.of_kind("StatefulSet"):
                self._reconcile_workload(workload, now)

    def _controllers(self) -> None:
        while not self._stop.wait(0.02):
            self.reconcile()

    # ------------------------------------------------------------------ serving

    @contextmanager
    def serve(self, bind: str = "127.0.0.1") -> Iterator[str]:
        """Serve on a free port of `bind`; yields the loopback URL of the server."""
        handler = _handler_for(self)
        server = ThreadingHTTPServer((bind, 0), handler)
        threads = [
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True),
            threading.Thread(target=self._controllers, daemon=True),
        ]
        for t in threads:
            t.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            self._stop.set()
            server.shutdown()
            server.server_close()


def non_loopback_address() -> str:
    """An address of this machine that is not loopback (what an AKS API server looks like)."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # no packet is sent: this only picks the route
            return str(s.getsockname()[0])
    except OSError:  # no route at all: the host name's address, if it is not loopback
        address = socket.gethostbyname(socket.gethostname())
        if address.startswith("127."):
            raise RuntimeError("this machine has no non-loopback address to serve on") from None
        return address


def write_kubeconfig(path: Path, contexts: dict[str, str]) -> Path:
    """A kubeconfig whose contexts (name → server) all use the fake's bearer token."""
    clusters = [{"name": n, "cluster": {"server": s}} for n, s in contexts.items()]
    ctx = [{"name": n, "context": {"cluster": n, "user": "fake"}} for n in contexts]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "contexts": ctx,
        "users": [{"name": "fake", "user": {"token": TOKEN}}],
        "current-context": next(iter(contexts)),
    }
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- HTTP


def _parse_path(path: str) -> tuple[str, str, str, str, str] | None:
    """(prefix, namespace, resource, name, subresource) of an API path, None if not one."""
    m = re.match(r"^(/api/v1|/apis/[^/]+/[^/]+)(/.*)?$", path)
    if not m:
        return None
    prefix, rest = m.group(1), [s for s in (m.group(2) or "").split("/") if s]
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    resource = rest[0] if rest else ""
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    return prefix, namespace, resource, name, sub


def _handler_for(cluster: FakeCluster) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _send(self, code: int, body: Obj | str) -> None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(code)
            kind = "text/plain; charset=utf-8" if isinstance(body, str) else "application/json"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"{}")

        def _handle(self, method: str) -> None:
            url = urlsplit(self.path)
            cluster.requests.append((method, url.path))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, status(401, "Unauthorized", "Unauthorized"))
                return
            if url.path == "/version":
                self._send(200, {"major": "1", "minor": "29", "gitVersion": "v1.29.14"})
                return
            parsed = _parse_path(url.path)
            if parsed is None or parsed[0] not in cluster.served:
                self._send(404, "404 page not found\n")
                return
            prefix, namespace, resource, name, sub = parsed
            if (prefix, resource) not in RESOURCES:
                self._send(404, "404 page not found\n")
                return
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            with cluster.lock:
                code, body = _route(cluster, method, prefix, namespace, resource, name, sub,
                                    query, self._body if method in ("POST", "PATCH") else None,
                                    self.headers.get("Content-Type", ""))  # fmt: skip
            self._send(code, body)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

    return Handler


def _not_found(prefix: str, resource: str, name: str) -> tuple[int, Obj]:
    group = prefix.split("/")[2] if prefix.startswith("/apis/") else ""
    qualified = f"{resource}.{group}" if group else resource
    return 404, status(404, "NotFound", f'{qualified} "{name}" not found',
                       name=name, group=group, kind=resource)  # fmt: skip


def _public(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _route(
    cluster: FakeCluster,
    method: str,
    prefix: str,
    namespace: str,
    resource: str,
    name: str,
    sub: str,
    query: dict[str, str],
    read_body: Callable[[], Any] | None,
    content_type: str,
) -> tuple[int, Obj]:
    kind, namespaced = RESOURCES[(prefix, resource)]
    if namespaced and name and not namespace:
        return 404, status(404, "NotFound", "the server could not find the requested resource")
    key = (prefix, resource, namespace if namespaced else "", name)
    if method == "GET" and not name:
        items = [
            o for (p, r, ns, _), o in cluster.objects.items()
            if (p, r) == (prefix, resource) and (not namespace or ns == namespace)
            and label_selector_matches(query.get("labelSelector", ""),
                                       o["metadata"].get("labels", {}))
            and field_selector_matches(query.get("fieldSelector", ""), o)
        ]  # fmt: skip
        return 200, {"kind": f"{kind}List", "apiVersion": prefix.split("/", 2)[-1],
                     "metadata": {"resourceVersion": str(cluster._seq)},
                     "items": [_public(o) for o in items]}  # fmt: skip
    obj = cluster.objects.get(key)
    if obj is None:
        return _not_found(prefix, resource, name)
    if method == "GET" and not sub:
        return 200, _public(obj)
    if method == "PATCH" and not sub:
        if content_type not in (
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
        ):
            return 415, status(415, "UnsupportedMediaType",
                               "the body of the request was in an unknown format - accepted "
                               "media types include: application/merge-patch+json")  # fmt: skip
        assert read_body is not None
        patched = merge_patch(obj, read_body())
        cluster.objects[key] = patched
        return 200, _public(patched)
    if method == "POST" and resource == "pods" and sub == "eviction":
        return _evict(cluster, obj)
    if method == "DELETE" and not sub:
        cluster.objects.pop(key)
        return 200, _public(obj)
    return 405, status(405, "MethodNotAllowed", "the server does not allow this method")


def _evict(cluster: FakeCluster, pod: Obj) -> tuple[int, Obj]:
    """The Eviction API: 429 when a PodDisruptionBudget allows no disruption, else delete."""
    namespace, labels = pod["metadata"]["namespace"], pod["metadata"].get("labels", {})
    for pdb in cluster.of_kind("PodDisruptionBudget"):
        if pdb["metadata"]["namespace"] != namespace:
            continue
        match = pdb["spec"]["selector"]["matchLabels"]
        if not all(labels.get(k) == v for k, v in match.items()):
            continue
        healthy = [
            p for p in cluster._pods_of(namespace, match)
            if p["status"].get("phase") == "Running"
        ]  # fmt: skip
        needed = int(pdb["spec"]["minAvailable"])
        if len(healthy) - needed <= 0:
            return 429, status(
                429, "TooManyRequests",
                "Cannot evict pod as it would violate the pod's disruption budget.",
                causes=[{"reason": "DisruptionBudget",
                         "message": f"The disruption budget {pdb['metadata']['name']} needs "
                                    f"{needed} healthy pods and has {len(healthy)} currently"}],
            )  # fmt: skip
    cluster.remove("Pod", pod["metadata"]["name"], namespace)
    return 201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                 "code": 201}  # fmt: skip
