# One image for all four TripGen services; the container's command picks the service
# (docs/contracts.md): `python -m services.user | services.trip | services.ai | services.location`,
# `python -m services.ai.worker`, `python -m services.datainit schema|sample|validate`.
#
# Multi-stage: the builder resolves the dependencies of pyproject.toml into /opt/venv; the runtime
# stage copies only that venv and the `services` package onto the same base. Non-root (uid 10001),
# no HEALTHCHECK (Kubernetes probes /actuator/health/{startup,liveness,readiness}).
#
# BASE_IMAGE must provide python3.11 with the venv module. Real world: python:3.11-slim. Where no
# registry is reachable, `python -m simulation.k8s.image` builds one with debootstrap (Debian 12,
# python3 3.11) and passes it here.
#
# Needs BuildKit (cache and secret mounts; no `# syntax` line, so no frontend image is pulled).
# Behind a TLS-intercepting proxy pass its CA bundle: `--secret id=pip_ca,src=/path/ca.crt`.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS builder
ARG PIP_INDEX_URL=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_DEFAULT_TIMEOUT=120 \
    PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/venv
WORKDIR /build
COPY pyproject.toml ./
# Only the runtime dependencies ([project.dependencies]); the layer is reused until they change.
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=secret,id=pip_ca \
    set -eu; \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi; \
    if [ -n "${PIP_INDEX_URL}" ]; then export PIP_INDEX_URL; else unset PIP_INDEX_URL; fi; \
    /opt/venv/bin/pip install -r requirements.txt; \
    /opt/venv/bin/pip uninstall -y pip; \
    # test suites shipped inside wheels (pandas + numpy, ~60 MB) are never imported at run time
    for pkg in pandas numpy; do \
        dir=$(echo /opt/venv/lib/python3*/site-packages/$pkg); \
        if [ -d "$dir" ]; then find "$dir" -depth -type d -name tests -exec rm -rf '{}' +; fi; \
    done
COPY services/ /app/services/
RUN find /app -name '__pycache__' -prune -exec rm -rf '{}' + \
    && python3 -m compileall -q /app/services

FROM ${BASE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="tripgen" \
      org.opencontainers.image.description="TripGen services (user, trip, ai, location); pick one with the command" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN (getent group 10001 >/dev/null || groupadd --system --gid 10001 tripgen) \
    && (getent passwd 10001 >/dev/null || useradd --system --uid 10001 --gid 10001 \
        --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin tripgen)
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TRIPGEN_HOST=0.0.0.0 \
    TRIPGEN_PORT=8080
WORKDIR /app
USER 10001:10001
EXPOSE 8080
CMD ["python", "-m", "services.user"]
