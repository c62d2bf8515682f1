# syntax=docker/dockerfile:1
# The images of `pairwise serve`, `pairwise db upgrade`, `pairwise worker sample` and
# `pairwise worker train`, one file, two dependency sets (build argument LOCK):
#   LOCK=base  the web app, migrations and CLI (OpenAI-compatible sampling): no torch
#   LOCK=demo  adds torch, transformers, TRL and the bundled models: sampler and trainer
# Dependencies are installed from requirements/lock-$LOCK.txt before the code is copied, so
# a code change rebuilds only the last layers. The install steps are the Makefile's
# `install` recipe, command for command (tests/deploy/test_compose.py compares them). The
# GPU variant is LOCK=demo with TORCH_PIP_ARGS pointing pip at a CUDA wheel index (see
# docs/deployment.md).

# htmx and Swagger UI come from the npm registry, exactly as `make install` fetches them.
FROM node:22-slim AS htmx
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

FROM python:3.11-slim
# Which lock to install: base or demo.
ARG LOCK=base
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
COPY requirements requirements
# torch first (demo only), so that its build (CPU or CUDA) is chosen here and not by a
# dependency; the base lock has no torch.
RUN --mount=type=cache,target=/root/.cache/pip if [ "$LOCK" != base ]; then \
    pip install --quiet --constraint requirements/lock-$LOCK.txt torch==2.13.0 $TORCH_PIP_ARGS; fi
RUN --mount=type=cache,target=/root/.cache/pip pip install --quiet --no-deps --requirement requirements/lock-$LOCK.txt
COPY pyproject.toml README.md ./
COPY app app
COPY trainer trainer
COPY --from=htmx /build/node_modules/htmx.org/dist/htmx.min.js app/static/vendor/htmx.min.js
COPY --from=htmx /build/node_modules/swagger-ui-dist/swagger-ui-bundle.js \
    /build/node_modules/swagger-ui-dist/swagger-ui.css app/static/vendor/swagger-ui/
# A regular (not editable) install: templates, static files, htmx and migrations are
# package data inside the installed `app`.
RUN --mount=type=cache,target=/root/.cache/pip pip install --quiet --no-deps . && rm -rf build

RUN useradd --create-home --uid 10001 pairwise \
    && mkdir -p /data /models \
    && chown pairwise:pairwise /data /models
USER pairwise
EXPOSE 8000
ENTRYPOINT ["pairwise"]
CMD ["serve"]
