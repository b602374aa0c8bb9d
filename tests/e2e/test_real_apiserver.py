"""The end-to-end tier talks to a real kube-apiserver with RBAC and client-certificate auth."""

from __future__ import annotations

import queue
import threading
import uuid

from kubernetes import client, watch


def test_service_and_its_loadbalancer_status_are_seen_through_a_watch(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    ns = f"e2e-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    events: queue.Queue[tuple[str, client.V1Service]] = queue.Queue()
    w = watch.Watch()

    def run() -> None:
        for ev in w.stream(core.list_namespaced_service, ns, timeout_seconds=60):
            events.put((ev["type"], ev["object"]))

    threading.Thread(target=run, daemon=True).start()
    svc = client.V1Service(
        metadata=client.V1ObjectMeta(
            name="nginx", annotations={"external-dns.alpha.kubernetes.io/hostname": "nginx.example.org"}
        ),
        spec=client.V1ServiceSpec(type="LoadBalancer", ports=[client.V1ServicePort(port=80)]),
    )
    core.create_namespaced_service(ns, svc)
    core.patch_namespaced_service_status(
        "nginx", ns, {"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}}
    )
    try:
        kind, obj = events.get(timeout=30)
        assert kind == "ADDED" and obj.metadata.name == "nginx"
        assert obj.metadata.annotations["external-dns.alpha.kubernetes.io/hostname"] == "nginx.example.org"
        while True:
            kind, obj = events.get(timeout=30)
            ingress = obj.status.load_balancer.ingress or []
            if kind == "MODIFIED" and ingress:
                break
        assert [i.ip for i in ingress] == ["203.0.113.10"]
        assert obj.spec.cluster_ip.startswith("10.96.")
    finally:
        w.stop()


def test_rbac_is_enforced_for_an_unprivileged_identity(kube: client.ApiClient) -> None:
    authz = client.AuthorizationV1Api(kube)
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user="system:serviceaccount:dns:nobody",
            resource_attributes=client.V1ResourceAttributes(verb="list", resource="services"),
        )
    )
    assert authz.create_subject_access_review(review).status.allowed is False
    review.spec.user = "someone"
    review.spec.groups = ["system:masters"]
    assert authz.create_subject_access_review(review).status.allowed is True
