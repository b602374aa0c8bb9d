"""Session fixtures: the real Redis, etcd and kube-apiserver from tools.testenv, started on demand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tools import testenv


@pytest.fixture(scope="session")
def stack() -> Iterator[testenv.Stack]:
    with testenv.stack() as s:
        yield s


@pytest.fixture(scope="session")
def redis_url(stack: testenv.Stack) -> str:
    return stack.redis_url or stack.start_redis()


@pytest.fixture(scope="session")
def etcd_url(stack: testenv.Stack) -> str:
    return stack.etcd_url or stack.start_etcd()


@pytest.fixture(scope="session")
def kubeconfig(stack: testenv.Stack) -> Path:
    return stack.kubeconfig or stack.start_kube()
