"""The end-to-end tier talks to a real kube-apiserver with RBAC and client-certificate auth."""

from __future__ import annotations

import uuid

from kubernetes import client, watch


def test_service_and_its_loadbalancer_status_are_seen_through_a_watch(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    ns = f"e2e-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    since = core.list_namespaced_service(ns).metadata.resource_version
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
    seen: list[tuple[str, list[str]]] = []
    w = watch.Watch()
    for ev in w.stream(core.list_namespaced_service, ns, resource_version=since, timeout_seconds=30):
        obj = ev["object"]
        assert obj.metadata.annotations["external-dns.alpha.kubernetes.io/hostname"] == "nginx.example.org"
        seen.append((ev["type"], [i.ip for i in obj.status.load_balancer.ingress or []]))
        if len(seen) == 2:
            break
    w.stop()
    assert seen == [("ADDED", []), ("MODIFIED", ["203.0.113.10"])]
    assert core.read_namespaced_service("nginx", ns).spec.cluster_ip.startswith("10.96.")


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
