# syntax=docker/dockerfile:1
# One image for every process of the system (see deploy/ and docs/deploy.md):
#   extdns emitter | celery -A tasks worker | celery -A tasks beat | celery -A tasks flower
#   python -m dnsserver -conf /etc/coredns/Corefile -dns.port 1053
# Build: docker build -t extdns:0.1.0 .

ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: the project wheel and a wheelhouse of its dependencies
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY extdns ./extdns
COPY controller ./controller
COPY adapters ./adapters
COPY emitter ./emitter
COPY process ./process
COPY tasks ./tasks
COPY dnsserver ./dnsserver
COPY etcdconn ./etcdconn
RUN pip wheel --wheel-dir /wheels .

# ---- runtime: a venv installed from the wheelhouse only, run as an unprivileged user
FROM ${PYTHON_IMAGE}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/extdns \
    && /opt/extdns/bin/pip install --no-index --find-links /wheels extdns \
    && /opt/extdns/bin/pip uninstall -y pip \
    && groupadd --system --gid 10001 extdns \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin extdns
ENV PATH=/opt/extdns/bin:$PATH \
    HOME=/tmp \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /tmp
# Numeric, so Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 10001:10001
# 1053 DNS (UDP+TCP) · 8080 health · 8181 ready · 9153 DNS metrics · 7979 emitter metrics · 5555 Flower
EXPOSE 1053/udp 1053/tcp 8080 8181 9153 7979 5555
CMD ["extdns", "emitter"]
