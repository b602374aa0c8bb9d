"""A real one-node Kubernetes cluster on this machine, in a network namespace of its own.

Everything runs as host processes inside the network namespace ``extdns-node`` (the "node", address
10.250.0.2, joined to the machine by a veth whose machine end is 10.250.0.1): etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, a CoreDNS serving ``cluster.local`` (the cluster DNS), Debian's
containerd and runc, the kubelet and kube-proxy (iptables mode), with the bridge, host-local, loopback
and portmap CNI plugins. Pods get 10.244.0.0/24 on the bridge ``cni0``, Services 10.96.0.0/16; the
machine routes both into the namespace, so a test reaches a ClusterIP through kube-proxy's rules.
Nothing is written outside the work directory but the namespace, the veth and the kubelet's cgroups,
and ``stop`` removes them. Images come from tools.images (built here, imported into containerd).

    python -m tools.cluster up        # `make cluster`: start, print KUBECONFIG, Ctrl-C stops it
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tools import testenv
from tools.testenv import Proc, binary, log

NETNS = "extdns-node"
NODE_NAME = "extdns-node"
HOST_IF, NODE_IF = "extdns-veth0", "eth0"
HOST_IP, NODE_IP = "10.250.0.1", "10.250.0.2"
POD_CIDR = "10.244.0.0/24"
SERVICE_CIDR = "10.96.0.0/16"
API_SERVICE_IP = "10.96.0.1"
CLUSTER_DNS = NODE_IP  # the node's CoreDNS answers cluster.local for the pods
API_PORT = 6443
CNI_PLUGINS = ("bridge", "host-local", "loopback", "portmap")
PV_COUNT = 3  # hostPath volumes for the etcd StatefulSet's claims
PV_OWNER = 65532  # the user deploy/etcd.yaml runs etcd as

# The Kubernetes parts of the node: all built from the module kube-apiserver comes from.
COMPONENTS = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
)


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), check=check, capture_output=True, text=True)


def in_node(argv: list[str]) -> list[str]:
    """argv run in the node's network namespace only (its mounts stay the machine's, shared by all)."""
    return ["nsenter", f"--net=/run/netns/{NETNS}", "--", *argv]


# ---------------------------------------------------------------- certificates


def _cert(pki: Path, name: str, subject: str, ext: str) -> None:
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    (pki / f"{name}.ext").write_text(ext)
    testenv.openssl(
        "req", "-new", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=pki
    )
    testenv.openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", f"{name}.crt", "-days", "3650", "-extfile", f"{name}.ext", cwd=pki,
    )  # fmt: skip


def make_pki(pki: Path) -> None:
    """The cluster CA, the API server's serving cert, one client cert per component, SA keys."""
    testenv.make_pki(pki)  # ca, admin (system:masters), sa.key/sa.pub
    sans = ",".join(
        [f"IP:{NODE_IP}", f"IP:{API_SERVICE_IP}", "IP:127.0.0.1", "DNS:localhost", "DNS:kubernetes"]
        + [f"DNS:kubernetes.default{s}" for s in ("", ".svc", ".svc.cluster.local")]
    )
    _cert(pki, "apiserver", "/CN=kube-apiserver", f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\n")
    client = "extendedKeyUsage=clientAuth\n"
    for name, subject in (
        ("kubelet", f"/O=system:nodes/CN=system:node:{NODE_NAME}"),
        ("controller-manager", "/CN=system:kube-controller-manager"),
        ("scheduler", "/CN=system:kube-scheduler"),
        ("proxy", "/O=system:node-proxier/CN=system:kube-proxy"),
    ):
        _cert(pki, name, subject, client)


def kubeconfig(path: Path, pki: Path, user: str) -> Path:
    testenv.write_kubeconfig(path, f"https://{NODE_IP}:{API_PORT}", pki, cert=user)
    return path


# ---------------------------------------------------------------- the node


@dataclass
class Node:
    """The running one-node cluster: its processes, files and how to reach it."""

    workdir: Path
    procs: list[Proc] = field(default_factory=list)
    kubeconfig: Path = Path()
    network_up: bool = False
    started: float = field(default_factory=time.time)

    @property
    def containerd_sock(self) -> Path:
        return self.workdir / "containerd.sock"

    def start_proc(self, name: str, argv: list[str]) -> Proc:
        proc = Proc(name, in_node(argv), self.workdir / "logs" / f"{name}.log").start()
        self.procs.append(proc)
        return proc

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> str:
        out = subprocess.run(
            [str(binary("kubectl")), f"--kubeconfig={self.kubeconfig}", *args],
            check=False,
            capture_output=True,
            text=True,
            input=input,
        )
        if check and out.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def crictl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return sh(
            str(binary("crictl")), f"--runtime-endpoint=unix://{self.containerd_sock}", *args, check=False
        )

    # ------------------------------------------------------------ start

    def start(self) -> None:
        t0 = time.monotonic()
        for name in (*COMPONENTS, "etcd", "coredns", "crictl", *CNI_PLUGINS):
            binary(name)
        for command, package in (
            ("containerd", "containerd"),
            ("runc", "runc"),
            ("iptables", "iptables"),
            ("conntrack", "conntrack"),
            ("nsenter", "util-linux"),
            ("ip", "iproute2"),
        ):
            testenv.debian_binary(command, package)
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        self._network()
        self._control_plane()
        self._containerd()
        self._kubelet()
        self._kube_proxy()
        self._wait_node_ready()
        self._volumes()
        log(f"cluster: node {NODE_NAME} Ready in {time.monotonic() - t0:.1f}s (work dir {self.workdir})")

    def _network(self) -> None:
        if Path(f"/run/netns/{NETNS}").exists():
            reap_stale()
        sh("ip", "netns", "add", NETNS)
        self.network_up = True
        MARKER.write_text(str(self.workdir))
        sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NODE_IF, "netns", NETNS)
        sh("ip", "addr", "add", f"{HOST_IP}/30", "dev", HOST_IF)
        sh("ip", "link", "set", HOST_IF, "up")
        for cmd in (
            ["addr", "add", f"{NODE_IP}/30", "dev", NODE_IF],
            ["link", "set", NODE_IF, "up"],
            ["link", "set", "lo", "up"],
            ["route", "add", "default", "via", HOST_IP],
        ):
            sh("ip", "-n", NETNS, *cmd)
        for cidr in (SERVICE_CIDR, "10.244.0.0/16"):
            sh("ip", "route", "add", cidr, "via", NODE_IP, "dev", HOST_IF)
        # Forwarding and bridged traffic through iptables, in the node's namespace only.
        for key in ("net.ipv4.ip_forward=1", "net.bridge.bridge-nf-call-iptables=1"):
            sh("ip", "netns", "exec", NETNS, "sysctl", "-qw", key)

    def _control_plane(self) -> None:
        w, pki = self.workdir, self.workdir / "pki"
        make_pki(pki)
        self.kubeconfig = kubeconfig(w / "admin.kubeconfig", pki, "admin")
        self.start_proc(
            "etcd",
            [
                str(binary("etcd")),
                "--name=kube",
                f"--data-dir={w / 'etcd'}",
                "--listen-client-urls=http://127.0.0.1:2379",
                "--advertise-client-urls=http://127.0.0.1:2379",
                "--listen-peer-urls=http://127.0.0.1:2380",
                "--initial-advertise-peer-urls=http://127.0.0.1:2380",
                "--initial-cluster=kube=http://127.0.0.1:2380",
                "--listen-metrics-urls=http://127.0.0.1:2381",
                "--log-level=warn",
                "--unsafe-no-fsync",
            ],
        )
        apiserver = self.start_proc(
            "kube-apiserver",
            [
                str(binary("kube-apiserver")),
                "--etcd-servers=http://127.0.0.1:2379",
                f"--bind-address={NODE_IP}",
                f"--advertise-address={NODE_IP}",
                f"--secure-port={API_PORT}",
                f"--cert-dir={w / 'apiserver-certs'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--kubelet-client-certificate={pki / 'admin.crt'}",
                f"--kubelet-client-key={pki / 'admin.key'}",
                "--kubelet-preferred-address-types=InternalIP",
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--profiling=false",
            ],
        )
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))

        def ready() -> bool:
            url = f"https://{NODE_IP}:{API_PORT}/readyz"
            with urllib.request.urlopen(url, context=ctx, timeout=2) as r:
                return bool(r.status == 200)

        testenv.wait_until("kube-apiserver", apiserver, ready, 120)
        self._controller("kube-controller-manager", "controller-manager", [
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            "--use-service-account-credentials=true",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--cluster-name=extdns",
        ])  # fmt: skip
        self._controller("kube-scheduler", "scheduler", [])
        corefile = w / "cluster-dns.Corefile"
        corefile.write_text(
            f".:53 {{\n    bind {CLUSTER_DNS}\n    errors\n"
            "    kubernetes cluster.local in-addr.arpa ip6.arpa {\n"
            f"        kubeconfig {self.kubeconfig} extdns-test\n"
            "        pods insecure\n        fallthrough in-addr.arpa ip6.arpa\n    }\n    cache 5\n}\n"
        )
        self.start_proc("cluster-dns", [str(binary("coredns")), "-conf", str(corefile)])

    def _controller(self, name: str, cert: str, flags: list[str]) -> None:
        """kube-controller-manager or kube-scheduler: its own client cert, one instance, node-local ports."""
        kc = kubeconfig(self.workdir / f"{cert}.kubeconfig", self.workdir / "pki", cert)
        common = [f"--{k}kubeconfig={kc}" for k in ("", "authentication-", "authorization-")]
        tail = ["--leader-elect=false", "--bind-address=127.0.0.1", "--profiling=false"]
        self.start_proc(name, [str(binary(name)), *common, *flags, *tail])

    def _containerd(self) -> None:
        w = self.workdir
        cni_bin, cni_conf = w / "cni" / "bin", w / "cni" / "net.d"
        cni_bin.mkdir(parents=True)
        cni_conf.mkdir(parents=True)
        for plugin in CNI_PLUGINS:
            (cni_bin / plugin).symlink_to(binary(plugin))
        (cni_conf / "10-extdns.conflist").write_text(
            json.dumps(
                {
                    "cniVersion": "1.0.0",
                    "name": "extdns",
                    "plugins": [
                        {
                            "type": "bridge",
                            "bridge": "cni0",
                            "isGateway": True,
                            "ipMasq": True,
                            "hairpinMode": True,
                            "ipam": {
                                "type": "host-local",
                                "ranges": [[{"subnet": POD_CIDR}]],
                                "routes": [{"dst": "0.0.0.0/0"}],
                                "dataDir": str(w / "cni" / "ipam"),
                            },
                        },
                        {"type": "portmap", "capabilities": {"portMappings": True}},
                    ],
                },
                indent=2,
            )
        )
        from tools import images

        config = w / "containerd.toml"
        config.write_text(
            f"""version = 2
root = "{w / "containerd" / "root"}"
state = "{w / "containerd" / "state"}"
[grpc]
  address = "{self.containerd_sock}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{w / "containerd" / "opt"}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{images.PAUSE_IMAGE}"
  # This machine's capability bounding set has no CAP_SYS_RESOURCE: no process may lower an
  # oom_score_adj below 0, so the kubelet's -998 for sandboxes (-997 for Guaranteed) is raised to
  # containerd's own (0) instead of failing every sandbox with EACCES.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{cni_conf}"
"""
        )
        proc = self.start_proc("containerd", ["containerd", f"--config={config}"])
        testenv.wait_until("containerd", proc, lambda: self.crictl("info").returncode == 0, 30)
        t0 = time.monotonic()
        imported = images.import_images(str(self.containerd_sock))
        log(f"cluster: {len(imported)} images imported into containerd in {time.monotonic() - t0:.1f}s")

    def _kubelet(self) -> None:
        w, pki = self.workdir, self.workdir / "pki"
        resolv = w / "resolv.conf"
        resolv.write_text(f"nameserver {CLUSTER_DNS}\n")
        config = w / "kubelet.yaml"
        config.write_text(
            json.dumps(
                {
                    "apiVersion": "kubelet.config.k8s.io/v1beta1",
                    "kind": "KubeletConfiguration",
                    "authentication": {
                        "anonymous": {"enabled": False},
                        "webhook": {"enabled": True},
                        "x509": {"clientCAFile": str(pki / "ca.crt")},
                    },
                    "authorization": {"mode": "Webhook"},
                    # This machine mounts cgroup v1 controllers (a cgroup2 `unified` beside them):
                    # the kubelet refuses v1 unless told, and Debian's containerd 1.6 has no
                    # RuntimeConfig RPC, so the driver is the kubelet's own setting.
                    "failCgroupV1": False,
                    "cgroupDriver": "cgroupfs",
                    "containerRuntimeEndpoint": f"unix://{self.containerd_sock}",
                    "clusterDomain": "cluster.local",
                    "clusterDNS": [CLUSTER_DNS],
                    "resolvConf": str(resolv),
                    "address": NODE_IP,
                    "readOnlyPort": 0,
                    "healthzBindAddress": "127.0.0.1",
                    "podLogsDir": str(w / "pod-logs"),
                    "failSwapOn": False,
                    "oomScoreAdj": 0,  # it cannot go below 0 here (no CAP_SYS_RESOURCE, see containerd)
                    "serializeImagePulls": False,
                    # A shared development disk: no evictions or image GC for its fill level.
                    "evictionHard": {
                        "memory.available": "100Mi",
                        "nodefs.available": "1%",
                        "imagefs.available": "1%",
                        "nodefs.inodesFree": "1%",
                    },
                    "imageGCHighThresholdPercent": 100,
                    "imageGCLowThresholdPercent": 99,
                },
                indent=2,
            )
        )
        kc = kubeconfig(w / "kubelet.kubeconfig", pki, "kubelet")
        self.start_proc(
            "kubelet",
            [
                str(binary("kubelet")),
                f"--config={config}",
                f"--kubeconfig={kc}",
                f"--root-dir={w / 'kubelet'}",
                f"--cert-dir={w / 'kubelet-pki'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={NODE_IP}",
            ],
        )

    def _kube_proxy(self) -> None:
        w = self.workdir
        kc = kubeconfig(w / "proxy.kubeconfig", w / "pki", "proxy")
        config = w / "kube-proxy.yaml"
        config.write_text(
            json.dumps(
                {
                    "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
                    "kind": "KubeProxyConfiguration",
                    "clientConnection": {"kubeconfig": str(kc)},
                    "mode": "iptables",
                    "oomScoreAdj": 0,
                    "clusterCIDR": "10.244.0.0/16",
                    "hostnameOverride": NODE_NAME,
                    "healthzBindAddress": "127.0.0.1:10256",
                    "metricsBindAddress": "127.0.0.1:10249",
                    # Leave the machine's conntrack sysctls alone.
                    "conntrack": {
                        "maxPerCore": 0,
                        "min": 0,
                        "tcpEstablishedTimeout": "0s",
                        "tcpCloseWaitTimeout": "0s",
                    },
                },
                indent=2,
            )
        )
        self.start_proc("kube-proxy", [str(binary("kube-proxy")), f"--config={config}"])

    def _wait_node_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.procs:
                proc.check_alive()
            out = self.kubectl(
                "get", "node", NODE_NAME, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
                check=False,
            )  # fmt: skip
            if out.strip() == "True":
                return
            time.sleep(0.5)
        raise TimeoutError(f"node {NODE_NAME} not Ready after {timeout:.0f}s (logs: {self.workdir / 'logs'})")

    def _volumes(self) -> None:
        """hostPath PersistentVolumes for the etcd StatefulSet's claims (no provisioner runs here)."""
        items = []
        for i in range(PV_COUNT):
            path = self.workdir / "pv" / f"pv-{i}"
            path.mkdir(parents=True)
            os.chown(path, PV_OWNER, PV_OWNER)
            path.chmod(0o700)
            items.append(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolume",
                    "metadata": {"name": f"extdns-node-pv-{i}"},
                    "spec": {
                        "capacity": {"storage": "8Gi"},
                        "accessModes": ["ReadWriteOnce"],
                        "persistentVolumeReclaimPolicy": "Retain",
                        "hostPath": {"path": str(path), "type": "Directory"},
                    },
                }
            )
        self.kubectl(
            "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
        )

    # ------------------------------------------------------------ stop

    def stop(self) -> None:
        by_name = {p.name: p for p in self.procs}
        if "kubelet" in by_name:
            by_name["kubelet"].stop()
        if "containerd" in by_name and by_name["containerd"].alive():
            self.crictl("rmp", "--force", "--all")  # every sandbox stopped: CNI DEL, netns removed
        self._end_pod_processes()  # whatever a failed or cut-short removal left running
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        self._end_shims()
        self._unmount()
        self._remove_cgroups()
        if self.network_up:
            for netns in Path("/run/netns").glob("cni-*"):  # pods' namespaces this node's CNI made
                if netns.stat().st_mtime >= self.started:
                    sh("ip", "netns", "delete", netns.name, check=False)
            sh("ip", "netns", "delete", NETNS, check=False)  # the veth and the routes go with it
            MARKER.unlink(missing_ok=True)
            self.network_up = False

    def _end_pod_processes(self) -> None:
        """Every process still in the kubelet's pod cgroups: containers of this node, nobody else's."""
        for procs in Path("/sys/fs/cgroup/pids/kubepods").rglob("cgroup.procs"):
            with contextlib.suppress(OSError):
                for pid in procs.read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)

    def _end_shims(self) -> None:
        """Container shims started by this node's containerd (they outlive it by design)."""
        for pid, cmdline in processes_naming(self.containerd_sock):
            if b"containerd-shim" in cmdline:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

    def _unmount(self) -> None:
        prefix = str(self.workdir) + "/"
        mounts = []
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            target = line.split()[4].replace("\\040", " ")
            if target.startswith(prefix):
                mounts.append(target)
        for target in sorted(set(mounts), key=len, reverse=True):
            sh("umount", "-l", target, check=False)

    def _remove_cgroups(self) -> None:
        root = Path("/sys/fs/cgroup")
        for hierarchy in [root, *root.iterdir()] if root.is_dir() else []:
            top = hierarchy / "kubepods"
            if not top.is_dir():
                continue
            for d in sorted(
                (p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
            ):
                with contextlib.suppress(OSError):
                    d.rmdir()
            with contextlib.suppress(OSError):
                top.rmdir()


MARKER = Path("/run") / f"{NETNS}.workdir"  # the work directory of the cluster that made the namespace


def processes_naming(path: Path) -> list[tuple[int, bytes]]:
    """(pid, cmdline) of every process whose command line names path."""
    needle, found = str(path).encode(), []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                cmdline = (entry / "cmdline").read_bytes()
                if needle in cmdline:
                    found.append((int(entry.name), cmdline))
    return found


def reap_stale() -> None:
    """Remove a cluster of ours whose runner died without stopping it (its processes, mounts, namespace).

    Only processes whose command line names that cluster's own work directory are ended: the
    ones it started (its shims included). Without the marker nothing is touched.
    """
    if not MARKER.exists():
        raise RuntimeError(f"network namespace {NETNS} exists and no {MARKER} says whose: remove it by hand")
    stale = Node(Path(MARKER.read_text().strip()), network_up=True)
    log(f"cluster: removing a stale cluster left in {stale.workdir}")
    procs = processes_naming(stale.workdir)
    kubelet = [pid for pid, cmd in procs if b"kubelet" in cmd.split(b"\0")[0]]
    for pid in kubelet:
        _end(pid)
    if stale.containerd_sock.exists():
        stale.crictl("rmp", "--force", "--all")
    for pid, _ in processes_naming(stale.workdir):
        _end(pid)
    stale.stop()
    shutil.rmtree(stale.workdir, ignore_errors=True)


def _end(pid: int, timeout: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def cluster(keep: bool = False) -> Iterator[Node]:
    """Start the one-node cluster; stop it and remove what it made on exit."""
    workdir = Path(tempfile.mkdtemp(prefix="extdns-node-", dir="/var/tmp"))
    node = Node(workdir)
    try:
        node.start()
        yield node
    finally:
        node.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cluster", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start the cluster until Ctrl-C")
    up.add_argument("--keep", action="store_true", help="keep the work directory (logs) after stopping")
    sub.add_parser("down", help="remove a cluster whose runner died without stopping it")
    args = parser.parse_args(argv)
    if args.cmd == "down":
        if Path(f"/run/netns/{NETNS}").exists():
            reap_stale()
        return 0
    testenv.interrupt_on_sigterm()
    with cluster(keep=args.keep) as node:
        print(f"export KUBECONFIG={node.kubeconfig}", flush=True)
        log("Ctrl-C stops the cluster")
        with contextlib.suppress(KeyboardInterrupt):
            while all(p.alive() for p in node.procs):
                time.sleep(0.5)
            log(f"stopping: {', '.join(p.name for p in node.procs if not p.alive())} exited")
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
