"""Which backend an exception says is unavailable (etcd, Redis, the API server): outages are retried."""

from __future__ import annotations

import grpc
import redis
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

# Outages worth retrying: etcd (gRPC), Redis, the API server (connection errors and 5xx/429).
TRANSIENT: tuple[type[BaseException], ...] = (
    grpc.RpcError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
    HTTPError,
)


def backend_of(exc: BaseException) -> str | None:
    """Which backend an exception says is unavailable, or None when it is not an outage."""
    if isinstance(exc, grpc.RpcError):
        return "etcd"
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return "redis"
    if isinstance(exc, ApiException):
        return "kubernetes" if exc.status in (0, 429) or exc.status >= 500 else None
    if isinstance(exc, HTTPError | ConnectionError | TimeoutError):
        return "kubernetes"
    return None
