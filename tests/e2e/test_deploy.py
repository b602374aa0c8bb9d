"""deploy/ against the real kube-apiserver: server-side dry run, least-privilege RBAC, and static checks.

The API server of the test environment runs no controllers and no kubelet: nothing starts, but
every object passes the server's own validation and admission (Pod Security "restricted"
included), and RBAC is the real authorizer answering for the deploy/ ServiceAccount.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyetcd
import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from adapters.etcd_client import EtcdSettings
from adapters.kube_api import Kube
from dnsserver.corefile import parse as parse_corefile
from emitter.process import Lease
from process import settings as settings_mod
from tools import testenv

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NAMESPACE = "dns"
SA = "extdns"
SA_USER = f"system:serviceaccount:{NAMESPACE}:{SA}"
SA_GROUPS = ["system:serviceaccounts", f"system:serviceaccounts:{NAMESPACE}", "system:authenticated"]
RBAC_KINDS = {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet"}
Obj = dict[str, Any]

# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def kubectl() -> Path:
    return testenv.binary("kubectl")


@pytest.fixture(scope="module")
def rendered(kubectl: Path) -> list[Obj]:
    out = subprocess.run(
        [str(kubectl), "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, f"kubectl kustomize deploy/ failed:\n{out.stderr}"
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert docs, "kubectl kustomize deploy/ rendered nothing"
    return docs


def run_kubectl(
    kubectl: Path, kubeconfig: Path, tmp: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [str(kubectl), f"--kubeconfig={kubeconfig}", f"--cache-dir={tmp / 'kube-cache'}", *args]
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def applied_rbac(
    kubectl: Path, kubeconfig: Path, rendered: list[Obj], tmp_path_factory: pytest.TempPathFactory
) -> list[Obj]:
    """The namespace, ServiceAccount and RBAC objects of deploy/, applied for real."""
    objs = [d for d in rendered if d["kind"] in RBAC_KINDS]
    assert {d["kind"] for d in objs} == RBAC_KINDS, f"deploy/ lacks some of {sorted(RBAC_KINDS)}"
    tmp = tmp_path_factory.mktemp("rbac")
    stream = "\n---\n".join(yaml.safe_dump(d) for d in objs)
    out = run_kubectl(kubectl, kubeconfig, tmp, "apply", "-f", "-", stdin=stream)
    assert out.returncode == 0, f"applying the RBAC of deploy/ failed:\n{out.stdout}\n{out.stderr}"
    return objs


def by_kind(docs: list[Obj], kind: str) -> list[Obj]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[Obj], kind: str, name: str) -> Obj:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"deploy/ must hold exactly one {kind} {name!r}, found {len(found)}"
    return found[0]


def workloads(docs: list[Obj]) -> list[Obj]:
    return [d for d in docs if d["kind"] in WORKLOADS]


def containers(w: Obj) -> list[Obj]:
    spec = w["spec"]["template"]["spec"]
    return list(spec.get("initContainers") or []) + list(spec["containers"])


def by_component(docs: list[Obj], component: str) -> Obj:
    found = [
        w
        for w in workloads(docs)
        if w["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    assert len(found) == 1, f"one workload with component={component} expected, found {len(found)}"
    return found[0]


def configmap_env(docs: list[Obj]) -> dict[str, str]:
    """The data of the ConfigMap the extdns processes read with envFrom (name carries a hash suffix)."""
    emitter = by_component(docs, "emitter")
    refs = [
        e["configMapRef"]["name"]
        for e in emitter["spec"]["template"]["spec"]["containers"][0].get("envFrom", [])
        if "configMapRef" in e
    ]
    assert len(refs) == 1, "the emitter must read its configuration from one ConfigMap with envFrom"
    data: dict[str, str] = one(docs, "ConfigMap", refs[0])["data"]
    return data


# ---------------------------------------------------------------- the real API server


def test_server_side_dry_run_of_the_whole_kustomization(
    kubectl: Path, kubeconfig: Path, applied_rbac: list[Obj], rendered: list[Obj], tmp_path: Path
) -> None:
    """`kubectl apply --dry-run=server -k deploy/` passes validation and admission, without a single warning."""
    out = run_kubectl(kubectl, kubeconfig, tmp_path, "apply", "--dry-run=server", "-k", str(DEPLOY))
    assert out.returncode == 0, f"server-side dry run failed:\n{out.stdout}\n{out.stderr}"
    # The namespace enforces and warns on Pod Security "restricted": any violation, or a deprecated
    # API, would show up here as "Warning: ...".
    assert "Warning" not in out.stderr, out.stderr
    for d in rendered:
        kind = d["kind"].lower()
        assert re.search(rf"^{re.escape(kind)}[^ ]*/{re.escape(d['metadata']['name'])} ", out.stdout, re.M), (
            f"{d['kind']} {d['metadata']['name']} missing from the dry-run output:\n{out.stdout}"
        )


def test_the_namespace_enforces_the_restricted_pod_security_standard(
    kube: client.ApiClient, applied_rbac: list[Obj]
) -> None:
    labels = client.CoreV1Api(kube).read_namespace(NAMESPACE).metadata.labels
    assert labels.get("pod-security.kubernetes.io/enforce") == "restricted"
    assert labels.get("pod-security.kubernetes.io/warn") == "restricted"


def access(kube: client.ApiClient, verb: str, resource: str, group: str = "", namespace: str = "",
           name: str = "", subresource: str = "") -> bool:  # fmt: skip
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=SA_USER,
            groups=SA_GROUPS,
            resource_attributes=client.V1ResourceAttributes(
                verb=verb,
                group=group,
                resource=resource,
                namespace=namespace or None,
                name=name or None,
                subresource=subresource or None,
            ),
        )
    )
    allowed: bool = client.AuthorizationV1Api(kube).create_subject_access_review(review).status.allowed
    return allowed


ALLOWED = [
    # what the sources read, cluster-wide and in any namespace
    *[(verb, "services", "", ns) for verb in ("get", "list", "watch") for ns in ("", "default", "team-a")],
    *[(verb, "ingresses", "networking.k8s.io", "") for verb in ("get", "list", "watch")],
    *[(verb, "endpointslices", "discovery.k8s.io", "") for verb in ("get", "list", "watch")],
    *[(verb, "pods", "", "") for verb in ("get", "list", "watch")],
    *[(verb, "nodes", "", "") for verb in ("get", "list", "watch")],
    # Events on the objects it manages, in their namespaces
    ("create", "events", "events.k8s.io", "team-a"),
    ("patch", "events", "events.k8s.io", "team-a"),
    ("create", "events", "", "team-a"),
    ("patch", "events", "", "default"),
]

DENIED = [
    # no writes to what it reads
    ("delete", "services", "", "default"),
    ("update", "services", "", "default"),
    ("patch", "services", "", "default"),
    ("create", "services", "", NAMESPACE),
    ("update", "ingresses", "networking.k8s.io", "default"),
    ("delete", "pods", "", NAMESPACE),
    ("create", "pods", "", NAMESPACE),
    ("patch", "nodes", "", ""),
    ("create", "endpointslices", "discovery.k8s.io", "default"),
    # nothing it has no use for
    ("get", "secrets", "", NAMESPACE),
    ("list", "secrets", "", ""),
    ("get", "configmaps", "", NAMESPACE),
    ("list", "endpoints", "", ""),
    ("list", "ingresses", "extensions", ""),
    ("create", "serviceaccounts", "", NAMESPACE),
    ("create", "rolebindings", "rbac.authorization.k8s.io", NAMESPACE),
    ("bind", "clusterroles", "rbac.authorization.k8s.io", ""),
    ("escalate", "roles", "rbac.authorization.k8s.io", NAMESPACE),
    ("impersonate", "users", "", ""),
    ("delete", "events", "events.k8s.io", "default"),
    ("get", "events", "", "default"),
]


@pytest.mark.parametrize(("verb", "resource", "group", "namespace"), ALLOWED)
def test_the_service_account_may(
    kube: client.ApiClient, applied_rbac: list[Obj], verb: str, resource: str, group: str, namespace: str
) -> None:
    assert access(kube, verb, resource, group, namespace), (
        f"{SA_USER} must be allowed to {verb} {resource}.{group} in {namespace or 'all namespaces'}"
    )


@pytest.mark.parametrize(("verb", "resource", "group", "namespace"), DENIED)
def test_the_service_account_may_not(
    kube: client.ApiClient, applied_rbac: list[Obj], verb: str, resource: str, group: str, namespace: str
) -> None:
    assert not access(kube, verb, resource, group, namespace), (
        f"{SA_USER} must NOT be allowed to {verb} {resource}.{group} in {namespace or 'all namespaces'}"
    )


def test_leases_only_its_own_in_its_own_namespace(
    kube: client.ApiClient, rendered: list[Obj], applied_rbac: list[Obj]
) -> None:
    lease = configmap_env(rendered).get("EXTERNAL_DNS_LEADER_ELECTION_LEASE", "extdns-emitter")
    group = "coordination.k8s.io"
    for verb in ("get", "update"):
        assert access(kube, verb, "leases", group, NAMESPACE, lease), (
            f"must {verb} its Lease {NAMESPACE}/{lease}"
        )
    assert access(kube, "create", "leases", group, NAMESPACE)
    for ns in ("default", "kube-system", "kube-node-lease"):
        for verb in ("get", "create", "update", "delete"):
            assert not access(kube, verb, "leases", group, ns, lease), f"must not {verb} Leases in {ns}"
    assert not access(kube, "update", "leases", group, NAMESPACE, "someone-elses-lease")
    assert not access(kube, "delete", "leases", group, NAMESPACE, lease)
    assert not access(kube, "list", "leases", group, "")


@pytest.fixture
def sa_kubeconfig(kube: client.ApiClient, kubeconfig: Path, applied_rbac: list[Obj], tmp_path: Path) -> Path:
    """A kubeconfig authenticating as the deploy/ ServiceAccount with a token from the TokenRequest API."""
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=600)
    )
    token = (
        client.CoreV1Api(kube).create_namespaced_service_account_token(SA, NAMESPACE, request).status.token
    )
    admin = yaml.safe_load(kubeconfig.read_text())
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": admin["clusters"],
        "users": [{"name": SA, "user": {"token": token}}],
        "contexts": [{"name": SA, "context": {"cluster": admin["clusters"][0]["name"], "user": SA}}],
        "current-context": SA,
    }
    path = tmp_path / "sa-kubeconfig"
    path.write_text(json.dumps(cfg))
    return path


def test_a_full_sync_runs_as_the_service_account_and_anything_else_is_refused(
    kube: client.ApiClient, sa_kubeconfig: Path, etcd_url: str, rendered: list[Obj]
) -> None:
    """`extdns sync --once` with the deploy/ configuration, authenticated only by the ServiceAccount token."""
    core = client.CoreV1Api(kube)
    tag = uuid.uuid4().hex[:8]
    ns, domain, prefix = f"deploy-{tag}", f"{tag}.example.org", f"/skydns-deploy-{tag}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    core.create_namespaced_service(
        ns,
        client.V1Service(
            metadata=client.V1ObjectMeta(
                name="nginx", annotations={"external-dns.alpha.kubernetes.io/hostname": f"nginx.{domain}"}
            ),
            spec=client.V1ServiceSpec(type="LoadBalancer", ports=[client.V1ServicePort(port=80)]),
        ),
    )
    core.patch_namespaced_service_status(
        "nginx", ns, {"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.53"}]}}}
    )

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EXTERNAL_DNS_", "ETCD_", "CELERY_", "KUBECONFIG"))
    }
    env.update(configmap_env(rendered))  # the deployed configuration, then what differs on this machine
    env.pop("CELERY_BROKER_URL", None)
    env.update(
        PYTHONPATH=str(ROOT),
        KUBECONFIG=str(sa_kubeconfig),
        ETCD_URLS=etcd_url,
        EXTERNAL_DNS_DOMAIN_FILTER=domain,
        EXTERNAL_DNS_COREDNS_PREFIX=prefix,
        EXTERNAL_DNS_TXT_OWNER_ID=f"deploy-{tag}",
        EXTERNAL_DNS_METRICS_ADDRESS="",
    )
    out = subprocess.run(
        [sys.executable, "-m", "process.cli", "sync", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, f"extdns sync --once as {SA_USER} failed:\n{out.stdout}\n{out.stderr}"
    url = urlsplit(etcd_url)
    etcd = pyetcd.client(url.hostname, url.port)
    records = {m.key.decode(): json.loads(v) for v, m in etcd.get_prefix(prefix + "/")}
    hosts = [r.get("host") for k, r in records.items() if k.startswith(f"{prefix}/org/example/{tag}/nginx/")]
    assert "203.0.113.53" in hosts, f"no A record for nginx.{domain} after the sync: {records}"

    sa_api = config.new_client_from_config(config_file=str(sa_kubeconfig))
    try:
        sa_core = client.CoreV1Api(sa_api)
        assert sa_core.list_service_for_all_namespaces().items  # the token works and reads services
        for forbidden in (
            lambda: sa_core.list_namespaced_secret(NAMESPACE),
            lambda: sa_core.delete_namespaced_service("nginx", ns),
            lambda: sa_core.create_namespaced_config_map(
                ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x"))
            ),
        ):
            with pytest.raises(ApiException) as err:
                forbidden()
            assert err.value.status == 403, err.value
        # leader election as the emitter does it: its own Lease in dns works, any other namespace is refused
        lease_name = configmap_env(rendered).get("EXTERNAL_DNS_LEADER_ELECTION_LEASE", "extdns-emitter")
        kube_sa = Kube(sa_api)
        mine = Lease(kube_sa, NAMESPACE, lease_name, 15.0)
        assert mine.try_acquire() and mine.try_acquire(), "create, then get+update of its Lease must work"
        mine.release()
        with pytest.raises(ApiException) as err:
            Lease(kube_sa, "default", lease_name, 15.0).try_acquire()
        assert err.value.status == 403
    finally:
        sa_api.close()
        core.delete_namespace(ns)


# ---------------------------------------------------------------- static checks of the rendered manifests


def test_no_beta_or_removed_api_versions(rendered: list[Obj]) -> None:
    for d in rendered:
        assert not re.search(r"v\d+(alpha|beta)\d+", d["apiVersion"]) or d["kind"] == "Kustomization", d[
            "apiVersion"
        ]
        assert not d["apiVersion"].startswith("extensions/"), d["apiVersion"]


def test_every_container_has_resources_probes_and_a_locked_down_security_context(rendered: list[Obj]) -> None:
    found = workloads(rendered)
    assert {w["metadata"]["name"] for w in found} >= {
        "etcd", "redis", "extdns-emitter", "extdns-worker", "extdns-beat", "extdns-dnsserver", "extdns-flower",
    }  # fmt: skip
    problems: list[str] = []
    for w in found:
        pod = w["spec"]["template"]["spec"]
        pod_sc = pod.get("securityContext") or {}
        if (pod_sc.get("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{w['metadata']['name']}: pod seccompProfile must be RuntimeDefault")
        if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
            problems.append(f"{w['metadata']['name']}: host namespaces")
        for c in containers(w):
            where = f"{w['kind']} {w['metadata']['name']} container {c['name']}"
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if not (res.get(part) or {}).get(r):
                        problems.append(f"{where}: no {part}.{r}")
            sc = c.get("securityContext") or {}
            if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
                problems.append(f"{where}: runAsNonRoot is not true")
            if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
                problems.append(f"{where}: runAsUser 0")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: readOnlyRootFilesystem is not true")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation is not false")
            if sc.get("privileged"):
                problems.append(f"{where}: privileged")
            caps = sc.get("capabilities") or {}
            if "ALL" not in (caps.get("drop") or []):
                problems.append(f"{where}: capabilities do not drop ALL")
            if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
                problems.append(f"{where}: adds capabilities {caps.get('add')}")
            if c in pod["containers"]:
                for probe in ("livenessProbe", "readinessProbe"):
                    if not c.get(probe):
                        problems.append(f"{where}: no {probe}")
    assert not problems, "\n".join(problems)


def test_extdns_containers_run_the_image_with_a_writable_tmp(rendered: list[Obj]) -> None:
    for component in ("emitter", "worker", "beat", "dnsserver", "flower"):
        w = by_component(rendered, component)
        pod = w["spec"]["template"]["spec"]
        c = pod["containers"][0]
        assert c["image"] == "extdns:0.1.0", f"{component}: image {c['image']}"
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        assert "/tmp" in mounts, f"{component}: read-only root filesystem but no /tmp volume"
        vol = next(v for v in pod["volumes"] if v["name"] == mounts["/tmp"])
        assert "emptyDir" in vol, f"{component}: /tmp must be an emptyDir"


def test_worker_metrics_from_every_prefork_child_go_through_a_writable_directory(rendered: list[Obj]) -> None:
    worker = by_component(rendered, "worker")
    pod = worker["spec"]["template"]["spec"]
    c = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    path = env.get("PROMETHEUS_MULTIPROC_DIR")
    assert path, "prefork workers need PROMETHEUS_MULTIPROC_DIR for /metrics to cover every child"
    mount = next((m for m in c["volumeMounts"] if m["mountPath"] == path), None)
    assert mount, f"{path} must be a volume of its own (it has to exist and be writable)"
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == mount["name"])
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        command = " ".join((c.get(probe) or {}).get("exec", {}).get("command", []))
        assert "inspect" not in command or "unset PROMETHEUS_MULTIPROC_DIR" in command, (
            f"{probe}: the probe process would leave metric files behind"
        )


def test_process_commands_replicas_and_strategies(rendered: list[Obj]) -> None:
    emitter = by_component(rendered, "emitter")
    assert emitter["spec"]["replicas"] == 2
    c = emitter["spec"]["template"]["spec"]["containers"][0]
    assert c["command"][:2] == ["extdns", "emitter"]
    env = {e["name"]: e for e in c.get("env", [])}
    assert (
        env["EXTERNAL_DNS_LEADER_ELECTION_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"]
        == "metadata.namespace"
    )

    worker = by_component(rendered, "worker")
    argv = worker["spec"]["template"]["spec"]["containers"][0]["command"] + worker["spec"]["template"][
        "spec"
    ]["containers"][0].get("args", [])
    assert argv[:4] == ["celery", "-A", "tasks", "worker"]
    concurrency = [a for a in argv if a.startswith("--concurrency=")]
    assert concurrency and 1 <= int(concurrency[0].split("=")[1]) <= 8, argv

    beat = by_component(rendered, "beat")
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"]["type"] == "Recreate"
    argv = beat["spec"]["template"]["spec"]["containers"][0]["command"] + beat["spec"]["template"]["spec"][
        "containers"
    ][0].get("args", [])
    assert argv[:4] == ["celery", "-A", "tasks", "beat"]
    schedule = argv[argv.index("-s") + 1]
    assert schedule.startswith("/tmp/"), "the beat schedule must live on the writable /tmp"
    assert any(a.startswith("--pidfile=/tmp/") for a in argv), (
        "beat writes a pidfile into its cwd unless told otherwise"
    )

    flower = by_component(rendered, "flower")
    assert flower["spec"]["template"]["spec"]["containers"][0]["command"][:4] == [
        "celery",
        "-A",
        "tasks",
        "flower",
    ]
    svc = one(rendered, "Service", "extdns-flower")
    assert svc["spec"].get("type", "ClusterIP") == "ClusterIP"

    dns = by_component(rendered, "dnsserver")
    assert dns["spec"]["replicas"] == 3


def test_only_the_emitter_and_worker_get_an_api_token(rendered: list[Obj]) -> None:
    for w in workloads(rendered):
        pod = w["spec"]["template"]["spec"]
        component = w["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component")
        if component in ("emitter", "worker"):
            assert pod.get("serviceAccountName") == SA, f"{w['metadata']['name']} must run as {SA}"
            assert pod.get("automountServiceAccountToken") is not False
        else:
            assert pod.get("automountServiceAccountToken") is False, (
                f"{w['metadata']['name']} needs no API token"
            )
            assert pod.get("serviceAccountName", "default") != SA


def test_the_dns_service_serves_53_over_udp_and_tcp(rendered: list[Obj]) -> None:
    svc = one(rendered, "Service", "extdns-dns")
    assert svc["spec"]["type"] == "LoadBalancer"
    dns = by_component(rendered, "dnsserver")
    labels = dns["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items(), "the DNS Service must select the dnsserver pods"
    c = dns["spec"]["template"]["spec"]["containers"][0]
    argv = c["command"] + c.get("args", [])
    listen = int(argv[argv.index("-dns.port") + 1]) if "-dns.port" in argv else 53
    cports = c.get("ports", [])
    by_proto: dict[str, int] = {}
    for p in svc["spec"]["ports"]:
        if p["port"] != 53:
            continue
        proto = p.get("protocol", "TCP")
        target = p.get("targetPort", p["port"])
        if isinstance(target, str):
            named = [cp for cp in cports if cp.get("name") == target]
            assert named, f"targetPort {target} is not a port of the dnsserver container"
            assert named[0].get("protocol", "TCP") == proto, f"targetPort {target} has the wrong protocol"
            target = named[0]["containerPort"]
        by_proto[proto] = target
    assert set(by_proto) == {"UDP", "TCP"}, f"port 53 must be served over UDP and TCP, got {by_proto}"
    assert set(by_proto.values()) == {listen}, f"Service targets {by_proto}, the server listens on {listen}"
    caps = (c.get("securityContext") or {}).get("capabilities") or {}
    assert listen >= 1024 or "NET_BIND_SERVICE" in (caps.get("add") or []), (
        "port < 1024 needs NET_BIND_SERVICE"
    )


def test_the_corefile_parses_and_matches_the_probes(rendered: list[Obj]) -> None:
    dns = by_component(rendered, "dnsserver")
    pod = dns["spec"]["template"]["spec"]
    c = pod["containers"][0]
    argv = c["command"] + c.get("args", [])
    conf = Path(argv[argv.index("-conf") + 1])
    mount = next(m for m in c["volumeMounts"] if conf.is_relative_to(m["mountPath"]))
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    cm = one(rendered, "ConfigMap", volume["configMap"]["name"])
    text = cm["data"][str(conf.relative_to(mount["mountPath"]))]
    blocks = parse_corefile(text, int(argv[argv.index("-dns.port") + 1]))
    assert blocks and all(b.etcd is not None for b in blocks)
    block = blocks[0]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}

    def port_of(probe: Obj) -> int:
        p = probe["httpGet"]["port"]
        return int(ports[p] if isinstance(p, str) else p)

    assert block.health and c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert port_of(c["livenessProbe"]) == int(block.health.rpartition(":")[2])
    assert block.ready and c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert port_of(c["readinessProbe"]) == int(block.ready.rpartition(":")[2])
    assert block.prometheus
    annotations = dns["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == block.prometheus.rpartition(":")[2]
    assert block.etcd is not None
    etcd_hosts = {urlsplit(e).hostname for e in block.etcd.endpoints}
    assert etcd_hosts == {f"etcd-{i}.etcd" for i in range(3)}, etcd_hosts


def test_the_configuration_is_valid_for_the_processes(
    rendered: list[Obj], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = configmap_env(rendered)
    for key in list(os.environ):
        if key.startswith(("EXTERNAL_DNS_", "ETCD_")):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s = settings_mod.load()
    assert s.policy is not None and s.txt_owner_id != "default"
    assert set(s.source) == {"service", "ingress"}
    etcd = EtcdSettings.from_env(env)
    assert {e.host for e in etcd.endpoints} == {f"etcd-{i}.etcd" for i in range(3)}
    assert urlsplit(env["CELERY_BROKER_URL"]).hostname == "redis"
    one(rendered, "Service", "redis")
    # The Lease the emitter uses is the one the Role grants.
    role = one(rendered, "Role", "extdns-leader-election")
    names = {n for r in role["rules"] for n in r.get("resourceNames", [])}
    assert s.leader_election_lease in names, (
        f"Role grants {names}, the emitter uses {s.leader_election_lease}"
    )


def test_etcd_is_a_three_member_statefulset_with_peer_discovery_and_volumes(rendered: list[Obj]) -> None:
    sts = one(rendered, "StatefulSet", "etcd")
    spec = sts["spec"]
    assert spec["replicas"] == 3
    assert spec.get("podManagementPolicy") == "Parallel", "members must start together to reach a quorum"
    headless = one(rendered, "Service", spec["serviceName"])
    assert headless["spec"].get("clusterIP") == "None"
    assert headless["spec"].get("publishNotReadyAddresses") is True
    assert headless["spec"]["selector"].items() <= spec["template"]["metadata"]["labels"].items()
    assert spec.get("volumeClaimTemplates"), "etcd needs persistent volumes"
    c = spec["template"]["spec"]["containers"][0]
    args = dict(a.split("=", 1) for a in c.get("args", []) if a.startswith("--") and "=" in a)
    members = dict(m.split("=", 1) for m in args["--initial-cluster"].split(","))
    assert set(members) == {f"etcd-{i}" for i in range(3)}
    for name, url in members.items():
        assert urlsplit(url).hostname == f"{name}.{spec['serviceName']}"
    data_dir = args["--data-dir"]
    assert any(
        data_dir.startswith(m["mountPath"])
        for m in c["volumeMounts"]
        if m["name"] == spec["volumeClaimTemplates"][0]["metadata"]["name"]
    )


def test_pod_disruption_budgets_cover_the_replicated_parts(rendered: list[Obj]) -> None:
    pdbs = by_kind(rendered, "PodDisruptionBudget")
    for name in ("etcd", "extdns-dnsserver", "extdns-emitter", "extdns-worker"):
        w = next(x for x in workloads(rendered) if x["metadata"]["name"] == name)
        labels = w["spec"]["template"]["metadata"]["labels"]
        covering = [p for p in pdbs if p["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(covering) == 1, f"{name}: {len(covering)} PodDisruptionBudgets"
        spec = covering[0]["spec"]
        if "minAvailable" in spec:
            assert 0 < int(spec["minAvailable"]) < w["spec"]["replicas"], (
                f"{name}: minAvailable blocks every drain"
            )
        else:
            assert int(spec["maxUnavailable"]) >= 1


def test_prometheus_scrape_annotations_point_at_container_ports(rendered: list[Obj]) -> None:
    for name in ("etcd", "extdns-emitter", "extdns-worker", "extdns-dnsserver", "extdns-flower"):
        w = next(x for x in workloads(rendered) if x["metadata"]["name"] == name)
        ann = w["spec"]["template"]["metadata"].get("annotations") or {}
        assert ann.get("prometheus.io/scrape") == "true", name
        ports = {p["containerPort"] for c in containers(w) for p in c.get("ports", [])}
        assert int(ann["prometheus.io/port"]) in ports, (
            f"{name}: scrape port {ann['prometheus.io/port']} not exposed"
        )


def test_every_service_selects_pods_and_every_config_reference_resolves(rendered: list[Obj]) -> None:
    templates = [w["spec"]["template"] for w in workloads(rendered)]
    for svc in by_kind(rendered, "Service"):
        selected = [
            t for t in templates if svc["spec"]["selector"].items() <= t["metadata"]["labels"].items()
        ]
        assert selected, f"Service {svc['metadata']['name']} selects no pods"
        names = {p.get("name") for t in selected for c in t["spec"]["containers"] for p in c.get("ports", [])}
        for p in svc["spec"]["ports"]:
            if isinstance(p.get("targetPort"), str):
                assert p["targetPort"] in names, (
                    f"Service {svc['metadata']['name']}: no container port {p['targetPort']}"
                )
    configmaps = {c["metadata"]["name"] for c in by_kind(rendered, "ConfigMap")}
    for w in workloads(rendered):
        pod = w["spec"]["template"]["spec"]
        refs = [v["configMap"]["name"] for v in pod.get("volumes", []) if "configMap" in v]
        refs += [
            e["configMapRef"]["name"]
            for c in containers(w)
            for e in c.get("envFrom", [])
            if "configMapRef" in e
        ]
        for ref in refs:
            assert ref in configmaps, f"{w['metadata']['name']} refers to a missing ConfigMap {ref}"
        sa = pod.get("serviceAccountName")
        if sa:
            one(rendered, "ServiceAccount", sa)


@pytest.fixture(scope="module")
def dockerfile() -> Iterator[str]:
    yield (ROOT / "Dockerfile").read_text()


def test_the_dockerfile_is_multi_stage_and_non_root(dockerfile: str) -> None:
    stages = re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)
    assert len(stages) >= 2, "multi-stage build expected"
    assert "python:3.11-slim" in dockerfile
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1].split(":")[0] not in ("0", "root"), users
    assert users[-1].split(":")[0].isdigit(), "a numeric USER lets the kubelet verify runAsNonRoot"


# ---------------------------------------------------------------- the optional etcd TLS component


@pytest.fixture(scope="module")
def tls_overlay(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An overlay as docs/deploy.md shows it: the base plus components/etcd-tls (kustomize wants relative paths)."""
    root = tmp_path_factory.mktemp("etcd-tls-overlay")
    base = os.path.relpath(DEPLOY, root)
    (root / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n  - {base}\ncomponents:\n  - {base}/components/etcd-tls\n"
    )
    return root


@pytest.fixture(scope="module")
def rendered_tls(kubectl: Path, tls_overlay: Path) -> list[Obj]:
    out = subprocess.run(
        [str(kubectl), "kustomize", str(tls_overlay)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, f"kubectl kustomize of the etcd-tls overlay failed:\n{out.stderr}"
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def test_etcd_tls_overlay_passes_a_server_side_dry_run(
    kubectl: Path, kubeconfig: Path, applied_rbac: list[Obj], tls_overlay: Path, tmp_path: Path
) -> None:
    out = run_kubectl(kubectl, kubeconfig, tmp_path, "apply", "--dry-run=server", "-k", str(tls_overlay))
    assert out.returncode == 0, (
        f"server-side dry run of the etcd-tls overlay failed:\n{out.stdout}\n{out.stderr}"
    )
    assert "Warning" not in out.stderr, out.stderr


def test_etcd_tls_overlay_secures_every_etcd_connection(rendered_tls: list[Obj]) -> None:
    sts = one(rendered_tls, "StatefulSet", "etcd")
    etcd = sts["spec"]["template"]["spec"]["containers"][0]
    args = dict(a.split("=", 1) for a in etcd["args"] if "=" in a)
    for flag in (
        "--listen-client-urls",
        "--advertise-client-urls",
        "--listen-peer-urls",
        "--initial-advertise-peer-urls",
    ):
        assert args[flag].startswith("https://"), f"{flag}={args[flag]}"
    assert all(u.split("=", 1)[1].startswith("https://") for u in args["--initial-cluster"].split(","))
    assert args["--client-cert-auth"] == "true" and args["--peer-client-cert-auth"] == "true"
    mounted = {m["mountPath"] for m in etcd["volumeMounts"]}
    for flag in (
        "--cert-file",
        "--key-file",
        "--trusted-ca-file",
        "--peer-cert-file",
        "--peer-key-file",
        "--peer-trusted-ca-file",
    ):
        assert str(Path(args[flag]).parent) in mounted, f"{flag}={args[flag]} is not on a mounted volume"

    env = configmap_env(rendered_tls)
    assert all(u.startswith("https://") for u in env["ETCD_URLS"].split(","))
    worker = by_component(rendered_tls, "worker")["spec"]["template"]["spec"]["containers"][0]
    mounted = {m["mountPath"] for m in worker["volumeMounts"]}
    for key in ("ETCD_CA_FILE", "ETCD_CERT_FILE", "ETCD_KEY_FILE"):
        assert str(Path(env[key]).parent) in mounted, f"{key}={env[key]} is not mounted into the worker"

    dns = by_component(rendered_tls, "dnsserver")
    pod = dns["spec"]["template"]["spec"]
    c = pod["containers"][0]
    volume = next(v for v in pod["volumes"] if "configMap" in v)
    blocks = parse_corefile(
        one(rendered_tls, "ConfigMap", volume["configMap"]["name"])["data"]["Corefile"], 1053
    )
    cfg = blocks[0].etcd
    assert cfg is not None and cfg.tls is not None and len(cfg.tls) == 3
    assert all(e.startswith("https://") for e in cfg.endpoints)
    mounted = {m["mountPath"] for m in c["volumeMounts"]}
    assert all(str(Path(f).parent) in mounted for f in cfg.tls), f"{cfg.tls} not mounted into the dnsserver"
    for w in (by_component(rendered_tls, "worker"), dns):
        assert w["spec"]["template"]["spec"]["securityContext"].get("fsGroup"), (
            "0440 secret files need an fsGroup"
        )
