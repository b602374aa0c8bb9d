"""Clients for the real Redis and etcd of the integration tier."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pyetcd
import pytest
import redis


@pytest.fixture(scope="session")
def etcd(etcd_url: str) -> Iterator[pyetcd.Etcd3Client]:
    url = urlsplit(etcd_url)
    client = pyetcd.client(host=url.hostname, port=url.port)
    yield client
    client.close()


@pytest.fixture(scope="session")
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()
