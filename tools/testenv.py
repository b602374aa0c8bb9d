"""Test environment: build etcd, kube-apiserver and the peers from Go modules, run them on loopback.

One tool for the tests, the benchmarks and `make run`:

    python -m tools.testenv build [--peers]   build what is missing into the cache (printing timings)
    python -m tools.testenv up                start Redis, etcd and kube-apiserver; Ctrl-C stops them
    python -m tools.testenv versions          print the pinned versions and cache paths

Binaries are cached outside the repository in ``$EXTDNS_CACHE`` (default ``~/.cache/extdns``),
one folder per component and version, and reused. Every process is started on a free
127.0.0.1 port with its data under a temporary folder, and stopped by PID.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ETCD_VERSION = "v3.6.16"
KUBERNETES_VERSION = "v1.36.3"
COREDNS_VERSION = "v1.14.7"
EXTERNAL_DNS_VERSION = "v0.22.0"
CNI_PLUGINS_VERSION = "v1.10.0"
CRI_TOOLS_VERSION = "v1.37.0"

CACHE = Path(os.environ.get("EXTDNS_CACHE", Path.home() / ".cache" / "extdns"))


def log(msg: str) -> None:
    print(f"[testenv] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- builds


@dataclass(frozen=True)
class Build:
    """How to build one Go binary from the module proxy into the cache."""

    name: str
    version: str
    module: str  # the module required by the scratch build module
    package: str  # the main package to build
    ldflags: str = "-s -w"
    goheader: tuple[str, ...] = ()  # extra go.mod lines (go/godebug/replace)
    # Build inside the module's own source, its go.mod/go.sum pinning every dependency; these are
    # `go mod edit` flags applied first. For modules whose graph `go get` cannot load as a dependency.
    in_module: tuple[str, ...] | None = None

    @property
    def path(self) -> Path:
        return CACHE / "bin" / f"{self.name}-{self.version}" / self.name


def _go(args: list[str], cwd: Path) -> None:
    env = dict(os.environ, GOFLAGS="-mod=mod", CGO_ENABLED="0")
    subprocess.run(["go", *args], cwd=cwd, env=env, check=True)


def _download(module: str, version: str) -> dict[str, str]:
    """`go mod download -json`: where the module's go.mod and source are in the module cache."""
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    found: dict[str, str] = json.loads(out.stdout)
    return found


def _kubernetes_header() -> tuple[str, ...]:
    """The go/godebug lines and staging replaces of the kubernetes go.mod, for a scratch module."""
    gomod = Path(_download("k8s.io/kubernetes", KUBERNETES_VERSION)["GoMod"]).read_text()
    header: list[str] = []
    staging: list[str] = []
    for line in gomod.splitlines():
        words = line.split()
        if line.startswith(("go ", "godebug ")):
            header.append(line)
        elif len(words) == 2 and words[0].startswith("k8s.io/") and words[1] == "v0.0.0":
            staging.append(words[0])
    staging_version = "v0." + KUBERNETES_VERSION.split(".", 1)[1]
    header.append("replace (")
    header += [f"\t{m} => {m} {staging_version}" for m in staging]
    header.append(")")
    log(f"kube-apiserver: {len(staging)} k8s.io staging modules replaced with {staging_version}")
    return tuple(header)


def _kube_ldflags() -> str:
    major, minor = KUBERNETES_VERSION.lstrip("v").split(".")[:2]
    pkg = "k8s.io/component-base/version"
    return (
        f"-s -w -X {pkg}.gitVersion={KUBERNETES_VERSION} -X {pkg}.gitMajor={major} "
        f"-X {pkg}.gitMinor={minor} -X {pkg}.gitTreeState=clean"
    )


BUILDS = {
    "etcd": Build("etcd", ETCD_VERSION, "go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/server/v3"),
    "kube-apiserver": Build(
        "kube-apiserver",
        KUBERNETES_VERSION,
        "k8s.io/kubernetes",
        "k8s.io/kubernetes/cmd/kube-apiserver",
    ),
    "kubectl": Build("kubectl", KUBERNETES_VERSION, "k8s.io/kubernetes", "k8s.io/kubernetes/cmd/kubectl"),
    **{
        name: Build(name, KUBERNETES_VERSION, "k8s.io/kubernetes", f"k8s.io/kubernetes/cmd/{name}")
        for name in ("kubelet", "kube-controller-manager", "kube-scheduler", "kube-proxy")
    },
    "crictl": Build(
        "crictl", CRI_TOOLS_VERSION, "sigs.k8s.io/cri-tools", "sigs.k8s.io/cri-tools/cmd/crictl", in_module=()
    ),
    # The CNI plugins a one-node cluster needs, built inside their module (one source copy for all).
    **{
        name: Build(
            name,
            CNI_PLUGINS_VERSION,
            "github.com/containernetworking/plugins",
            f"github.com/containernetworking/plugins/plugins/{kind}/{name}",
            in_module=(),
        )
        for kind, name in (
            ("main", "bridge"),
            ("ipam", "host-local"),
            ("main", "loopback"),
            ("meta", "portmap"),
        )
    },
    "coredns": Build("coredns", COREDNS_VERSION, "github.com/coredns/coredns", "github.com/coredns/coredns"),
    "external-dns": Build(
        "external-dns",
        EXTERNAL_DNS_VERSION,
        "sigs.k8s.io/external-dns",
        "sigs.k8s.io/external-dns",
        ldflags=f"-s -w -X sigs.k8s.io/external-dns/pkg/apis/externaldns.Version={EXTERNAL_DNS_VERSION}",
        # As a dependency its graph does not load (emissary's renamed modules); in its own module two
        # pinned versions answer 403 on the proxy; their nearest earlier releases replace them.
        in_module=(
            "-replace=github.com/exoscale/egoscale/v3=github.com/exoscale/egoscale/v3@v3.1.43",
            "-replace=github.com/openshift/api=github.com/openshift/api@v0.0.0-20260810132456-8f52beb625b5",
        ),
    ),
}
CORE = ("etcd", "kube-apiserver", "kubectl")
PEERS = ("coredns", "external-dns")
# The one-node cluster of `make cluster` and tests/cluster (kube-apiserver and kubectl from CORE too).
NODE = (
    "crictl",
    "kubelet",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
    "bridge",
    "host-local",
    "loopback",
    "portmap",
)


def binary(name: str) -> Path:
    """Path of a cached binary, building it first when it is missing."""
    b = BUILDS[name]
    if b.path.exists():
        return b.path
    if shutil.which("go") is None:
        raise RuntimeError(f"{name} {b.version} is not built and `go` is not on PATH")
    header = b.goheader
    ldflags = b.ldflags
    scratch = b.name
    if b.module == "k8s.io/kubernetes":  # kube-apiserver and kubectl: one scratch module, one header
        scratch = "kube-apiserver"
        header, ldflags = _kubernetes_header(), _kube_ldflags()
    if b.module == "github.com/containernetworking/plugins":
        scratch = "cni-plugins"
    src = CACHE / "src" / f"{scratch}-{b.version}"
    log(f"building {name} {b.version} from the Go module proxy (cold builds take minutes) ...")
    start = time.monotonic()
    if b.in_module is not None:
        if not (src / "go.mod").exists() or b.in_module:
            _module_source(b, src)
    else:
        src.mkdir(parents=True, exist_ok=True)
        (src / "go.mod").write_text(
            "\n".join(
                [
                    f"module extdns.local/build/{scratch}",
                    "",
                    *header,
                    "",
                    f"require {b.module} {b.version}",
                    "",
                ]
            )
        )
        _go(["get", f"{b.package}@{b.version}"], src)
    tmp = b.path.with_name(b.path.name + ".tmp")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    _go(["build", "-trimpath", "-ldflags", ldflags, "-o", str(tmp), b.package], src)
    tmp.rename(b.path)
    size = b.path.stat().st_size / 2**20
    log(f"built {name} {b.version} in {time.monotonic() - start:.0f}s ({size:.0f} MiB) -> {b.path}")
    return b.path


def _module_source(b: Build, src: Path) -> None:
    """A writable copy of the module's own source in src, with the `go mod edit` flags applied."""
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(_download(b.module, b.version)["Dir"], src)
    for path in [src, *src.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    if b.in_module:
        _go(["mod", "edit", *b.in_module], src)


def build(names: tuple[str, ...]) -> None:
    for name in names:
        start = time.monotonic()
        path = binary(name)
        log(f"{name}: {path} ({time.monotonic() - start:.1f}s)")


def debian_binary(command: str, package: str) -> Path:
    """A command from Debian's packages, installed with apt-get when missing."""
    found = shutil.which(command)
    if found is None:
        log(f"installing Debian {package} ...")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package], check=True, env=env
        )
        found = shutil.which(command)
    if found is None:
        raise RuntimeError(f"{command} is still missing after apt-get install {package}")
    return Path(found)


def redis_server() -> Path:
    return debian_binary("redis-server", "redis-server")


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    """One process we started: stopped by its PID, never by name."""

    name: str
    argv: list[str]
    logfile: Path
    env: dict[str, str] | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        out = self.logfile.open("ab")
        self.popen = subprocess.Popen(
            self.argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            start_new_session=True,
        )
        out.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            tail = self.logfile.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited early; last log lines:\n{tail}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout)


def wait_until(what: str, check: Proc, probe: object, timeout: float = 60.0) -> None:
    """Poll ``probe()`` until it is true; fail fast when the process died."""
    deadline = time.monotonic() + timeout
    assert callable(probe)
    while time.monotonic() < deadline:
        check.check_alive()
        with contextlib.suppress(OSError, ValueError, urllib.error.URLError):
            if probe():
                return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s (log: {check.logfile})")


def start_redis(workdir: Path) -> tuple[Proc, str]:
    port = free_port()
    d = workdir / "redis"
    d.mkdir(parents=True, exist_ok=True)
    argv = [
        str(redis_server()),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(d),
        "--protected-mode",
        "yes",
    ]
    proc = Proc("redis", argv, workdir / "redis.log").start()

    def ping() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    wait_until("redis", proc, ping, 20)
    return proc, f"redis://127.0.0.1:{port}/0"


def start_etcd(workdir: Path, name: str) -> tuple[Proc, str]:
    client, peer = free_port(), free_port()
    url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
    argv = [
        str(binary("etcd")),
        f"--name={name}",
        f"--data-dir={workdir / name}",
        f"--listen-client-urls={url}",
        f"--advertise-client-urls={url}",
        f"--listen-peer-urls={peer_url}",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster={name}={peer_url}",
        "--log-level=warn",
        "--unsafe-no-fsync",
    ]
    proc = Proc(name, argv, workdir / f"{name}.log").start()

    def healthy() -> bool:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as r:
            return bool(json.loads(r.read()).get("health") == "true")

    wait_until(name, proc, healthy, 30)
    return proc, url


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d: Path) -> None:
    """A CA, a serving cert for 127.0.0.1, an admin client cert in system:masters, SA keys."""
    d.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "3650",
        "-subj",
        "/CN=extdns-test-ca",
        cwd=d,
    )
    (d / "serving.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc\n"
        "extendedKeyUsage=serverAuth\n"
    )
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, subj, ext in (
        ("serving", "/CN=kube-apiserver", "serving.ext"),
        ("admin", "/O=system:masters/CN=extdns-admin", "client.ext"),
    ):
        openssl("req", "-new", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subj, cwd=d)
        openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.crt",
            "-days",
            "3650",
            "-extfile",
            ext,
            cwd=d,
        )
    openssl("genrsa", "-out", "sa.key", "2048", cwd=d)
    openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=d)


def write_kubeconfig(path: Path, server: str, pki: Path, cert: str = "admin") -> None:
    """A kubeconfig for server, authenticating with the client certificate pki/<cert>.crt."""

    def b64(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "extdns-test",
                "cluster": {"server": server, "certificate-authority-data": b64("ca.crt")},
            }
        ],
        "users": [
            {
                "name": "admin",
                "user": {
                    "client-certificate-data": b64(f"{cert}.crt"),
                    "client-key-data": b64(f"{cert}.key"),
                },
            }
        ],
        "contexts": [{"name": "extdns-test", "context": {"cluster": "extdns-test", "user": "admin"}}],
        "current-context": "extdns-test",
    }
    path.write_text(json.dumps(config, indent=2))  # JSON is valid YAML: kubectl and the client read it


def start_kube_apiserver(workdir: Path, etcd_url: str) -> tuple[Proc, Path]:
    pki = workdir / "pki"
    make_pki(pki)
    port = free_port()
    argv = [
        str(binary("kube-apiserver")),
        f"--etcd-servers={etcd_url}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={workdir / 'apiserver-certs'}",
        f"--tls-cert-file={pki / 'serving.crt'}",
        f"--tls-private-key-file={pki / 'serving.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        "--service-cluster-ip-range=10.96.0.0/16",
        "--disable-admission-plugins=ServiceAccount",
        "--endpoint-reconciler-type=none",
        "--profiling=false",
        "--v=0",
    ]
    proc = Proc("kube-apiserver", argv, workdir / "kube-apiserver.log").start()
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    server = f"https://127.0.0.1:{port}"

    def ready() -> bool:
        with urllib.request.urlopen(f"{server}/readyz", context=ctx, timeout=2) as r:
            return bool(r.status == 200)

    wait_until("kube-apiserver", proc, ready, 120)
    kubeconfig = workdir / "kubeconfig"
    write_kubeconfig(kubeconfig, server, pki)
    return proc, kubeconfig


@dataclass
class Stack:
    """The running environment: what was started, and how to reach it."""

    workdir: Path
    procs: list[Proc] = field(default_factory=list)
    redis_url: str = ""
    etcd_url: str = ""
    kube_etcd_url: str = ""
    kubeconfig: Path | None = None

    def start_redis(self) -> str:
        proc, self.redis_url = start_redis(self.workdir)
        self.procs.append(proc)
        return self.redis_url

    def start_etcd(self) -> str:
        proc, self.etcd_url = start_etcd(self.workdir, "etcd-records")
        self.procs.append(proc)
        return self.etcd_url

    def start_kube(self) -> Path:
        proc, self.kube_etcd_url = start_etcd(self.workdir, "etcd-kube")
        self.procs.append(proc)
        apiserver, self.kubeconfig = start_kube_apiserver(self.workdir, self.kube_etcd_url)
        self.procs.append(apiserver)
        return self.kubeconfig

    def env(self) -> dict[str, str]:
        """The variables the project's processes read to reach this stack."""
        out = {}
        if self.redis_url:
            out["CELERY_BROKER_URL"] = self.redis_url
        if self.etcd_url:
            out["ETCD_URLS"] = self.etcd_url
        if self.kubeconfig:
            out["KUBECONFIG"] = str(self.kubeconfig)
        return out

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()


@contextlib.contextmanager
def stack(keep: bool = False) -> Iterator[Stack]:
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    workdir = Path(tempfile.mkdtemp(prefix="extdns-testenv-", dir=base))
    s = Stack(workdir)
    try:
        yield s
    finally:
        s.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------- command line


def interrupt_on_sigterm() -> None:
    """Treat SIGTERM like Ctrl-C, so `finally` blocks stop what this process started."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.testenv", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build what is missing into the cache")
    b.add_argument("--peers", action="store_true", help="also build CoreDNS and ExternalDNS")
    b.add_argument(
        "--node", action="store_true", help="also build the node's Kubernetes parts and CNI plugins"
    )
    up = sub.add_parser("up", help="start Redis, etcd and kube-apiserver until Ctrl-C")
    up.add_argument("--no-kube", action="store_true", help="skip the kube-apiserver")
    up.add_argument("--env-file", type=Path, help="write the environment (KEY=value lines) here")
    sub.add_parser("versions", help="print pinned versions and cache paths")
    args = parser.parse_args(argv)

    if args.cmd == "versions":
        for name, b_ in BUILDS.items():
            state = "built" if b_.path.exists() else "missing"
            print(f"{name:15} {b_.version:9} {state:8} {b_.path}")
        return 0
    if args.cmd == "build":
        start = time.monotonic()
        redis_server()
        build(CORE + (PEERS if args.peers else ()) + (NODE if args.node else ()))
        log(f"build step done in {time.monotonic() - start:.1f}s")
        return 0
    interrupt_on_sigterm()
    with stack() as s:
        t0 = time.monotonic()
        s.start_redis()
        s.start_etcd()
        if not args.no_kube:
            s.start_kube()
        env = s.env()
        lines = [f"{k}={v}" for k, v in env.items()]
        if args.env_file:
            args.env_file.write_text("\n".join(lines) + "\n")
        log(f"started in {time.monotonic() - t0:.1f}s (data under {s.workdir}):")
        for proc in s.procs:
            log(f"  {proc.name:15} pid {proc.pid}")
        print("\n".join(f"export {line}" for line in lines), flush=True)
        log("Ctrl-C stops everything")
        with contextlib.suppress(KeyboardInterrupt):
            while all(p.alive() for p in s.procs):
                time.sleep(0.5)
            dead = [p.name for p in s.procs if not p.alive()]
            log(f"stopping: {', '.join(dead)} exited")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
