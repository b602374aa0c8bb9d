"""`make run`: the whole system on this machine — local control plane, etcd, Redis, the Procfile processes.

With KUBECONFIG pointing at a real cluster, that cluster is used instead of the local control plane
and nothing is applied to it. Ctrl-C stops every process this started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dns.message
import dns.query
import yaml
from kubernetes import client, config

from tools import testenv

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
LB_IP = "203.0.113.10"  # TEST-NET-3: documentation addresses, never routed
INGRESS_IP = "203.0.113.20"

COREFILE = """\
example.org {{
    errors
    log
    health 127.0.0.1:{health}
    ready 127.0.0.1:{ready}
    prometheus 127.0.0.1:{prometheus}
    etcd {{
        path /skydns
        endpoint {etcd}
    }}
    cache 30
}}
"""


def apply_examples(kubeconfig: Path) -> None:
    """Create the example objects and give them the addresses a load balancer controller would."""
    api = config.new_client_from_config(config_file=str(kubeconfig))
    core, net = client.CoreV1Api(api), client.NetworkingV1Api(api)
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            ns = doc["metadata"].get("namespace", "default")
            if doc["kind"] == "Service":
                core.create_namespaced_service(ns, doc)
                status = {"status": {"loadBalancer": {"ingress": [{"ip": LB_IP}]}}}
                core.patch_namespaced_service_status(doc["metadata"]["name"], ns, status)
            elif doc["kind"] == "Ingress":
                net.create_namespaced_ingress(ns, doc)
                status = {"status": {"loadBalancer": {"ingress": [{"ip": INGRESS_IP}]}}}
                net.patch_namespaced_ingress_status(doc["metadata"]["name"], ns, status)
            testenv.log(f"applied {doc['kind']} {ns}/{doc['metadata']['name']} from {path.name}")


def answers(port: int, name: str) -> list[str]:
    try:
        reply = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=port, timeout=0.5)
    except (OSError, dns.exception.Timeout):
        return []
    return [item.to_text() for rrset in reply.answer for item in rrset]


def main() -> int:
    external = os.environ.get("KUBECONFIG", "")
    testenv.interrupt_on_sigterm()
    with testenv.stack() as s:
        t0 = time.monotonic()
        s.start_redis()
        s.start_etcd()
        kubeconfig = Path(external) if external else s.start_kube()
        ports = {
            k: testenv.free_port() for k in ("dns", "flower", "health", "ready", "prometheus", "em", "wk")
        }
        corefile = s.workdir / "Corefile"
        corefile.write_text(COREFILE.format(etcd=s.etcd_url, **ports))
        env = dict(
            {**os.environ, **s.env()},
            KUBECONFIG=str(kubeconfig),
            PYTHONPATH=str(ROOT),
            PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            EXTERNAL_DNS_POLICY=os.environ.get("EXTERNAL_DNS_POLICY", "sync"),
            EXTERNAL_DNS_TXT_OWNER_ID=os.environ.get("EXTERNAL_DNS_TXT_OWNER_ID", "default"),
            EXTERNAL_DNS_EVENTS_EMIT="RecordReady,RecordError",
            COREFILE=str(corefile),
            DNS_PORT=str(ports["dns"]),
            DNS_ARGS="-dns.host 127.0.0.1",
            FLOWER_PORT=str(ports["flower"]),
            EMITTER_METRICS_PORT=str(ports["em"]),
            WORKER_METRICS_PORT=str(ports["wk"]),
            CELERYBEAT_SCHEDULE=str(s.workdir / "celerybeat-schedule"),
            PROMETHEUS_MULTIPROC_DIR=str(s.workdir / "metrics"),
        )
        (s.workdir / "metrics").mkdir()
        honcho = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", str(ROOT / "Procfile"), "-d", str(ROOT)],
            env=env,
            start_new_session=True,
        )
        try:
            if not external:
                time.sleep(3)  # let the emitter take its lease before the examples change
                apply_examples(kubeconfig)
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not answers(ports["dns"], "nginx.example.org"):
                    if honcho.poll() is not None:
                        raise SystemExit("a process exited; see the lines above")
                    time.sleep(0.2)
                found = answers(ports["dns"], "nginx.example.org")
                testenv.log(
                    f"nginx.example.org answers {found or 'nothing yet'} ({time.monotonic() - t0:.1f}s)"
                )
            print(
                "\n  Ready:\n"
                f"    dig @127.0.0.1 -p {ports['dns']} nginx.example.org\n"
                f"    dig @127.0.0.1 -p {ports['dns']} shop.example.org\n"
                f"    Flower:   http://127.0.0.1:{ports['flower']}/\n"
                f"    Metrics:  http://127.0.0.1:{ports['em']}/metrics (emitter), "
                f"http://127.0.0.1:{ports['wk']}/metrics (worker), "
                f"http://127.0.0.1:{ports['prometheus']}/metrics (dns)\n"
                f"    export KUBECONFIG={kubeconfig}\n"
                "  Ctrl-C stops everything.\n",
                flush=True,
            )
            return honcho.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            if honcho.poll() is None:
                os.killpg(honcho.pid, signal.SIGTERM)
                try:
                    honcho.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(honcho.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
