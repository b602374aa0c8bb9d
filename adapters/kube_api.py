"""Kubernetes adapter: list, get and watch the objects the sources read, as plain JSON dicts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

KubeObject = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    """Where one Kind lives in the API."""

    kind: str
    api: str  # "/api/v1" or "/apis/<group>/<version>"
    plural: str
    namespaced: bool = True
    optional: bool = False  # served only once its CustomResourceDefinition is installed

    @property
    def api_version(self) -> str:
        return self.api.removeprefix("/api/").removeprefix("/apis/")

    def path(self, namespace: str = "", name: str = "") -> str:
        where = f"/namespaces/{namespace}" if namespace and self.namespaced else ""
        tail = f"/{name}" if name else ""
        return f"{self.api}{where}/{self.plural}{tail}"


GATEWAY_GROUP = "gateway.networking.k8s.io"

# The API versions ExternalDNS v0.22.0 reads; the CRD-backed ones (`optional`) may be absent.
RESOURCES = {
    r.kind: r
    for r in (
        Resource("Service", "/api/v1", "services"),
        Resource("Ingress", "/apis/networking.k8s.io/v1", "ingresses"),
        Resource("EndpointSlice", "/apis/discovery.k8s.io/v1", "endpointslices"),
        Resource("Pod", "/api/v1", "pods"),
        Resource("Node", "/api/v1", "nodes", namespaced=False),
        Resource("Namespace", "/api/v1", "namespaces", namespaced=False),
        Resource("Gateway", f"/apis/{GATEWAY_GROUP}/v1", "gateways", optional=True),
        Resource("ListenerSet", f"/apis/{GATEWAY_GROUP}/v1", "listenersets", optional=True),
        Resource("HTTPRoute", f"/apis/{GATEWAY_GROUP}/v1", "httproutes", optional=True),
        Resource("GRPCRoute", f"/apis/{GATEWAY_GROUP}/v1", "grpcroutes", optional=True),
        Resource("TLSRoute", f"/apis/{GATEWAY_GROUP}/v1", "tlsroutes", optional=True),
        Resource("TCPRoute", f"/apis/{GATEWAY_GROUP}/v1alpha2", "tcproutes", optional=True),
        Resource("UDPRoute", f"/apis/{GATEWAY_GROUP}/v1alpha2", "udproutes", optional=True),
        Resource("DNSEndpoint", "/apis/externaldns.k8s.io/v1alpha1", "dnsendpoints", optional=True),
    )
}


def api_client(kubeconfig: str = "", server: str = "") -> client.ApiClient:
    """A client from --kubeconfig / $KUBECONFIG, else the in-cluster service account."""
    path = kubeconfig or os.environ.get("KUBECONFIG", "")
    if path:
        api = config.new_client_from_config(config_file=path)
    else:
        cfg = client.Configuration()
        config.load_incluster_config(client_configuration=cfg)
        api = client.ApiClient(cfg)
    if server:
        api.configuration.host = server
    assert isinstance(api, client.ApiClient)
    return api


# Ask a LIST for the objects' metadata only (what the resync compares resourceVersions on).
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"


class Kube:
    """Raw JSON access to the API: no typed models, so objects look like manifests."""

    def __init__(self, api: client.ApiClient, request_timeout: float = 30.0) -> None:
        self.api = api
        self.timeout = request_timeout

    def _call(self, method: str, path: str, query: list[tuple[str, Any]] | None = None,
              body: object = None, stream: bool = False, idle: float | None = None,
              accept: str = "application/json") -> Any:  # fmt: skip
        """One request; the urllib3 response (not yet read) for a 2xx status, else ApiException."""
        method, url, headers, body, post = self.api.param_serialize(
            method,
            path,
            query_params=query or [],
            header_params={"Accept": accept, "Content-Type": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
        )
        resp = self.api.call_api(
            method,
            url,
            headers,
            body,
            post,
            _request_timeout=(self.timeout, idle) if stream else self.timeout,
        ).response
        if not 200 <= resp.status < 300:
            data = resp.data
            resp.release_conn()
            raise ApiException(status=resp.status, reason=resp.reason, body=data)
        return resp

    def list(
        self, kind: str, namespace: str = "", label_selector: str = "", metadata_only: bool = False
    ) -> tuple[list[KubeObject], str]:
        """Every object of a kind (paginated), each with its `kind` set, and the list's resourceVersion.

        With `metadata_only`, the server sends each object's metadata alone (PartialObjectMetadataList).
        """
        r = RESOURCES[kind]
        accept = METADATA_ONLY if metadata_only else "application/json"
        items: list[KubeObject] = []
        cont = ""
        while True:
            query: list[tuple[str, Any]] = [("limit", 500)]
            if cont:
                query.append(("continue", cont))
            if label_selector:
                query.append(("labelSelector", label_selector))
            page = json.loads(self._call("GET", r.path(namespace), query, accept=accept).data)
            for item in page.get("items") or []:
                item["kind"], item["apiVersion"] = kind, r.api_version
                items.append(item)
            cont = page.get("metadata", {}).get("continue", "")
            if not cont:
                return items, str(page.get("metadata", {}).get("resourceVersion", ""))

    def get(self, kind: str, namespace: str, name: str) -> KubeObject | None:
        """One object, or None when it does not exist."""
        try:
            obj: KubeObject = json.loads(self._call("GET", RESOURCES[kind].path(namespace, name)).data)
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        return obj

    def watch(
        self,
        kind: str,
        resource_version: str,
        timeout_seconds: int = 300,
        namespace: str = "",
        idle: float | None = None,
    ) -> Iterator[KubeObject]:
        """Raw watch events ({type, object}) from a resourceVersion, with bookmarks, until the server ends.

        With `idle`, a connection that delivers no byte for that long raises (urllib3's
        ReadTimeoutError): a hung or half-open watch is noticed instead of waited on forever.
        """
        r = RESOURCES[kind]
        query: list[tuple[str, Any]] = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", resource_version),
            ("timeoutSeconds", timeout_seconds),
        ]
        resp = self._call("GET", r.path(namespace), query, stream=True, idle=idle)
        try:
            buf = b""
            for chunk in resp.stream(amt=None, decode_content=False):
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    if line.strip():
                        event: KubeObject = json.loads(line)
                        obj = event.get("object") or {}
                        obj.setdefault("kind", kind)
                        yield event
        finally:
            resp.release_conn()

    def served(self, kinds: Iterable[str]) -> set[str]:
        """Which of these kinds the API server serves now (discovery: GET /apis/<group>/<version>).

        Built-in kinds (`optional` False) are taken as served without asking. A group/version the
        server does not serve (404) serves none of its kinds; any other failure raises.
        """
        by_api: dict[str, list[Resource]] = {}
        out: set[str] = set()
        for kind in kinds:
            r = RESOURCES[kind]
            if r.optional:
                by_api.setdefault(r.api, []).append(r)
            else:
                out.add(kind)
        for api, wanted in by_api.items():
            try:
                listing = json.loads(self._call("GET", api).data)
            except ApiException as e:
                if e.status == 404:
                    continue
                raise
            plurals = {str(res.get("name", "")) for res in listing.get("resources") or []}
            out.update(r.kind for r in wanted if r.plural in plurals)
        return out

    def request(self, method: str, path: str, body: KubeObject | None = None) -> KubeObject:
        """Any JSON request by API path (leases, events, status patches)."""
        resp = self._call(method, path, body=body)
        out: KubeObject = json.loads(resp.data or b"{}")
        return out
