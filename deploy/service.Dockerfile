# One image per service, built from the repository root:
#   docker build -f deploy/service.Dockerfile --build-arg SERVICE=registry -t modelops/registry .
# The venv holds only the service's own package and the libs it depends on (uv sync --package).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
RUN pip install --no-cache-dir uv==0.9.30
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs libs
COPY services services
ARG SERVICE
RUN uv sync --frozen --no-dev --no-editable --package "modelops-$(echo "${SERVICE}" | tr _ -)"

FROM ${PYTHON_IMAGE}
ARG SERVICE
COPY --from=build /src/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MODELOPS_SERVICE_MODULE=modelops_${SERVICE} \
    MODELOPS_HTTP__HOST=0.0.0.0 \
    MODELOPS_LOG__JSON_LOGS=true
RUN useradd --system --uid 10001 modelops
USER modelops
CMD ["sh", "-c", "exec python -m \"$MODELOPS_SERVICE_MODULE\""]
