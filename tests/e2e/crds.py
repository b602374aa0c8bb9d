"""The CRDs the route and crd sources read, installed with `kubectl apply` and never deleted.

`kubectl apply` (not a plain create) so that a later `kubectl apply` of deploy/ (tests/e2e/test_deploy.py)
finds its last-applied annotation. CRDs are cluster-scoped and other tests share the API server:
installing them is idempotent, deleting them is never done.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from adapters.kube_api import Kube
from tests.e2e.pipeline import ROOT
from tools import testenv

CRD_FILES = (ROOT / "tests" / "crds" / "gateway-api.yaml", ROOT / "deploy" / "crds" / "dnsendpoints.yaml")
KINDS = ("Gateway", "ListenerSet", "HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute", "DNSEndpoint")


def crds_installed(kube: Kube) -> bool:
    return kube.served(KINDS) == set(KINDS)


def install_crds(kube: Kube, kubeconfig: Path, tmp: Path) -> None:
    """Apply the CRDs, then wait until every kind is served."""
    kubectl = testenv.binary("kubectl")
    for path in CRD_FILES:
        out = subprocess.run(
            [str(kubectl), f"--kubeconfig={kubeconfig}", f"--cache-dir={tmp / 'kube-cache'}", "apply", "-f", str(path)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert out.returncode == 0, f"kubectl apply -f {path} failed:\n{out.stdout}\n{out.stderr}"
    deadline = time.monotonic() + 30
    while not crds_installed(kube):
        assert time.monotonic() < deadline, f"CRDs not served after 30 s: {kube.served(KINDS)}"
        time.sleep(0.1)


def ensure_crds(kube: Kube, kubeconfig: Path, tmp: Path) -> None:
    if not crds_installed(kube):
        install_crds(kube, kubeconfig, tmp)
