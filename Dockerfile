# docflow images (see docker-compose.yml).
# Default target `product`: the worker and the API, with the packages the wheel ships
# (pyproject.toml only-include) and config/ — no simulators, devstack or benchmarks, so
# `docflow --help` there lists the production commands only.
# Target `devtools`: the product plus the simulators and devstack, for `docflow simulators`.
FROM python:3.11-slim AS base
COPY --from=ghcr.io/astral-sh/uv:0.9 /uv /usr/local/bin/uv
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY docflow ./docflow
COPY workflows ./workflows
COPY activities ./activities
COPY starter ./starter
COPY worker.py ./
# Settings read config/<profile>.toml and config/routing/ beside the packages (/app/config).
COPY config ./config
RUN uv sync --frozen --no-dev
ENV PATH="/app/.venv/bin:$PATH"
ENTRYPOINT ["docflow"]

FROM base AS devtools
COPY simulators ./simulators
COPY devstack ./devstack

# Last, so a plain `docker build .` builds the product.
FROM base AS product
