"""The Kubernetes REST API of one explicit kube context, as plain JSON.

The `kubernetes` package loads the kubeconfig (certificates, tokens, exec plugins such as
kubelogin on AKS) for the context named — never the current one — and urllib3 carries the
requests, so callers see the API's own objects and errors: a `KubeApiError` holds the HTTP status
and, where the API server sent one, the `Status` object's `reason` and `message` (404 `NotFound`,
429 `TooManyRequests` for an eviction a PodDisruptionBudget refuses …), per the API reference.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3

Obj = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"


class KubeApiError(RuntimeError):
    """A request the API server refused or could not answer."""

    def __init__(self, method: str, path: str, status: int, body: bytes | str) -> None:
        text = body.decode(errors="replace") if isinstance(body, bytes) else body
        self.status = status
        self.reason = ""
        self.message = text.strip()[:500]
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("kind") == "Status":
            self.reason = str(parsed.get("reason", ""))
            self.message = str(parsed.get("message", self.message))
        self.status_object = parsed if isinstance(parsed, dict) else None
        super().__init__(f"{method} {path}: {status} {self.reason or ''} {self.message}".strip())


@dataclass(frozen=True)
class Credentials:
    """What a request to the cluster needs, loaded from the kubeconfig for one context."""

    server: str
    headers: dict[str, str]
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    verify: bool = True


def load_credentials(context: str, config_file: str | None = None) -> Credentials:
    """The server and credentials of kube context `context` (a clear error when it is absent)."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    # read $KUBECONFIG now (the package reads it once, at import), `:`-separated lists included
    config_file = config_file or os.environ.get("KUBECONFIG") or None

    try:
        contexts, _ = config.list_kube_config_contexts(config_file=config_file)
    except (ConfigException, OSError) as exc:
        raise KubeApiError("load", "kubeconfig", 0, f"no usable kubeconfig: {exc}") from exc
    names = [c["name"] for c in contexts]
    if context not in names:
        raise KubeApiError(
            "load", "kubeconfig", 0, f"no context {context!r} in the kubeconfig (have: {names})"
        )
    cfg = client.Configuration()
    config.load_kube_config(config_file=config_file, context=context, client_configuration=cfg)
    settings: dict[str, Any] = dict(cfg.auth_settings())
    headers = {
        s["key"]: s["value"]
        for s in settings.values()
        if s.get("in") == "header" and s.get("value")
    }
    return Credentials(
        server=str(cfg.host).rstrip("/"),
        headers=headers,
        ca_file=cfg.ssl_ca_cert,
        cert_file=cfg.cert_file,
        key_file=cfg.key_file,
        verify=bool(cfg.verify_ssl),
    )


class KubeApi:
    """JSON requests against one cluster; `context` names the kube context it came from."""

    def __init__(self, credentials: Credentials, context: str, timeout_s: float = 30.0) -> None:
        self.credentials = credentials
        self.context = context
        self.timeout_s = timeout_s
        self._http = urllib3.PoolManager(
            cert_reqs="CERT_REQUIRED" if credentials.verify else "CERT_NONE",
            ca_certs=credentials.ca_file,
            cert_file=credentials.cert_file,
            key_file=credentials.key_file,
            retries=False,
        )

    @classmethod
    def for_context(cls, context: str, config_file: str | None = None) -> KubeApi:
        return cls(load_credentials(context, config_file), context)

    @property
    def server(self) -> str:
        return self.credentials.server

    @property
    def server_host(self) -> str:
        return urlsplit(self.server).hostname or ""

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Obj | None = None,
        content_type: str = "application/json",
    ) -> Obj:
        url = self.server + path + (f"?{urlencode(query)}" if query else "")
        headers = {"Accept": "application/json", **self.credentials.headers}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body).encode()
        try:
            response = self._http.request(
                method, url, body=data, headers=headers, timeout=self.timeout_s
            )
        except urllib3.exceptions.HTTPError as exc:
            raise KubeApiError(method, path, 0, f"cannot reach {self.server}: {exc}") from exc
        if response.status >= 400:
            raise KubeApiError(method, path, response.status, response.data)
        return dict(json.loads(response.data or b"{}"))

    def get(self, path: str) -> Obj | None:
        """The object at `path`, or None when the API answers 404."""
        try:
            return self.request("GET", path)
        except KubeApiError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, path: str, *, label_selector: str = "", field_selector: str = "") -> list[Obj]:
        query = {}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        return list(self.request("GET", path, query=query).get("items", []))

    def merge_patch(self, path: str, patch: Obj) -> Obj:
        return self.request("PATCH", path, body=patch, content_type=MERGE_PATCH)

    def create(self, path: str, body: Obj) -> Obj:
        return self.request("POST", path, body=body)

    def delete(self, path: str, *, grace_period_s: int | None = None) -> Obj:
        query = {} if grace_period_s is None else {"gracePeriodSeconds": str(grace_period_s)}
        return self.request("DELETE", path, query=query)


def namespaced(api_prefix: str, namespace: str, resource: str, name: str = "") -> str:
    """`/apis/apps/v1/namespaces/tripgen/deployments/tripgen-user` and the like."""
    return f"{api_prefix}/namespaces/{namespace}/{resource}" + (f"/{name}" if name else "")


CORE = "/api/v1"
APPS = "/apis/apps/v1"
AUTOSCALING = "/apis/autoscaling/v2"
KEDA = "/apis/keda.sh/v1alpha1"
