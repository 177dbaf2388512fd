# The sparkfleet operator image: `docker build -t sparkfleet:0.1.0 .`
# Multi-stage: dependencies are resolved from uv.lock in a builder; the runtime stage holds only the
# Python runtime, the virtualenv and the package, and runs as a non-root user (UID 65532) on a
# read-only root filesystem (the chart mounts an emptyDir at /tmp).

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS builder
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never PIP_NO_CACHE_DIR=1
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /app
# Dependencies first (a layer that changes only with the lock), then the package itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project --python /usr/local/bin/python3
COPY sparkfleet ./sparkfleet
RUN uv sync --frozen --no-dev --no-editable --python /usr/local/bin/python3 \
    && rm -rf /app/sparkfleet

FROM python:${PYTHON_VERSION}-slim-bookworm
LABEL org.opencontainers.image.title="sparkfleet" \
      org.opencontainers.image.description="A sharded fleet of Spark operators for Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 65532 sparkfleet \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --shell /usr/sbin/nologin sparkfleet
COPY --from=builder --chown=0:0 /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["sparkfleet"]
CMD ["run", "--help"]
