"""Clients for the real kube-apiserver of the end-to-end tier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from adapters.kube_api import Kube, api_client
from tests.e2e.pipeline import Pipeline, make_pipeline


@pytest.fixture(scope="session")
def kube(kubeconfig: Path) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(kubeconfig))
    yield api
    api.close()


@pytest.fixture
def admin(kubeconfig: Path) -> Iterator[Kube]:
    """The project's own raw-JSON client, with the admin's credentials."""
    api = api_client(str(kubeconfig))
    yield Kube(api)
    api.close()


@pytest.fixture
def service_pipeline(redis_url: str, etcd_url: str, kubeconfig: Path, tmp_path: Path) -> Iterator[Pipeline]:
    """A pipeline on the Service source only; the test starts the processes it needs (no beat by default)."""
    p = make_pipeline(redis_url, etcd_url, kubeconfig, tmp_path, EXTERNAL_DNS_SOURCE="service")
    try:
        yield p
    finally:
        p.stop()
