"""Kubernetes Events on the objects (`--events-emit`): RecordReady, RecordDeleted, RecordError."""

from __future__ import annotations

import socket
import uuid
from datetime import UTC, datetime

from adapters.kube_api import RESOURCES, Kube
from extdns.sources import ObjectRef
from process.logs import log

CONTROLLER = "extdns.io/controller"


def post(kube: Kube, ref: ObjectRef, reason: str, note: str, warning: bool = False) -> None:
    """Best effort: an Event that fails to post is logged at debug level, never retried."""
    resource = RESOURCES.get(ref.kind)
    if resource is None or not ref.namespace:
        return
    body = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": f"{ref.name}.{uuid.uuid4().hex[:12]}", "namespace": ref.namespace},
        "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "reportingController": CONTROLLER,
        "reportingInstance": socket.gethostname()[:128],
        "action": "Reconcile",
        "reason": reason,
        "note": note[:1024],
        "type": "Warning" if warning else "Normal",
        "regarding": {
            "apiVersion": resource.api_version,
            "kind": ref.kind,
            "namespace": ref.namespace,
            "name": ref.name,
            "uid": ref.uid,
        },
    }
    try:
        kube.request("POST", f"/apis/events.k8s.io/v1/namespaces/{ref.namespace}/events", body)
    except Exception as exc:
        log.debug("could not post an Event", object=str(ref), error=str(exc).splitlines()[0][:200])
