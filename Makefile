# The two commands: `make run` runs the system locally, `make test` runs every check and test.
# Each does its own set-up on a fresh machine: a venv with the project, Debian redis-server,
# and Go builds of etcd, kube-apiserver, kubectl and the peers (CoreDNS, ExternalDNS) cached in ~/.cache/extdns;
# for the one-node cluster tests (tests/cluster) also the node's Kubernetes parts, crictl and CNI plugins,
# Debian's containerd/runc/buildah/mmdebstrap, and the images (tools/images.py), cached the same way.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test setup venv components peers node images cluster check unit integration e2e bench clean

run: setup
	$(PY) -m tools.run

test: setup peers node images check
	$(PY) -m pytest tests

setup: venv components

venv: $(STAMP)
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

components: venv
	$(PY) -m tools.testenv build

peers: venv
	$(PY) -m tools.testenv build --peers

node: venv
	$(PY) -m tools.testenv build --node

images: node
	$(PY) -m tools.images build

# A real one-node cluster (tools/cluster.py) until Ctrl-C; then `kubectl apply -k tests/cluster/overlay`.
cluster: setup peers node images
	$(PY) -m tools.cluster up

check: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

unit: venv
	$(PY) -m pytest tests/unit

integration: setup
	$(PY) -m pytest tests/integration

e2e: setup
	$(PY) -m pytest tests/e2e

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

# Every benchmark, each printing its table (ours and the peers', same run, same machine).
bench: setup peers
	$(PY) -m bench.records_bench
	$(PY) -m bench.pipeline
	$(PY) -m bench.dns_qps --seconds 5 --names 1000
	$(PY) -m bench.dns_hard
	$(PY) -m bench.resync_reads
	$(PY) -m bench.peers
	$(PY) -m bench.soak
