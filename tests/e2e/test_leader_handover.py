"""A leader that is told to stop hands the lease over at once, not after its threads have wound down."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

from adapters.kube_api import Kube
from tests.e2e.pipeline import make_pipeline


def test_a_stopping_leader_releases_the_lease_within_two_seconds(
    redis_url: str, etcd_url: str, kubeconfig: Path, tmp_path: Path, admin: Kube
) -> None:
    # A long lease, so only a release (not expiry) can hand over quickly.
    p = make_pipeline(
        redis_url, etcd_url, kubeconfig, tmp_path, EXTERNAL_DNS_SOURCE="service ingress",
        EXTERNAL_DNS_LEADER_ELECTION_DURATION="30s",
    )  # fmt: skip
    lease = f"/apis/coordination.k8s.io/v1/namespaces/default/leases/{p.env['EXTERNAL_DNS_LEADER_ELECTION_LEASE']}"

    def holder() -> str:
        return str((admin.request("GET", lease).get("spec") or {}).get("holderIdentity") or "")

    leader = p.start_emitter("leader")
    try:
        first = holder()
        assert first
        p.start_emitter("standby", lead=False)
        p.wait("the standby to start", lambda: "emitter started" in p.log("standby"))
        t0 = time.monotonic()
        leader.popen.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        del p.procs["leader"]  # it is meant to exit now
        while holder() == first and time.monotonic() - t0 < 20:
            time.sleep(0.02)
        released = time.monotonic() - t0
        assert released < 2.0, f"the lease left the stopping leader only after {released:.1f}s"
        p.wait("the standby to lead", lambda: "became the leader" in p.log("standby"), 30)
    finally:
        leader.stop()
        p.stop()


def test_a_change_made_while_no_emitter_leads_is_published_when_one_takes_over(
    redis_url: str, etcd_url: str, kubeconfig: Path, tmp_path: Path, admin: Kube
) -> None:
    # No beat runs here: only the new leader can bring the change in.
    p = make_pipeline(redis_url, etcd_url, kubeconfig, tmp_path, EXTERNAL_DNS_SOURCE="service")
    name = f"gap-{uuid.uuid4().hex[:6]}"
    try:
        p.start_worker()
        first = p.start_emitter("first")
        first.stop()  # SIGTERM: it releases the lease and exits
        del p.procs["first"]
        admin.request(
            "POST",
            "/api/v1/namespaces/default/services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": name,
                    "annotations": {
                        "external-dns.alpha.kubernetes.io/hostname": f"{name}.{p.domain}",
                        "external-dns.alpha.kubernetes.io/target": "198.51.100.20",
                    },
                },
                "spec": {"type": "ExternalName", "externalName": "unused.invalid"},
            },
        )
        p.start_emitter("second")  # its first list holds the Service: nothing it has seen change
        took = p.wait("the change made between leaders", lambda: any(name in k for k in p.records()), 10)
        assert took < 5
    finally:
        admin.request("DELETE", f"/api/v1/namespaces/default/services/{name}")
        p.stop()
