# One image for the API and the workers (docker-compose.yml picks the command).
# The engine is C: a build stage with a compiler makes the wheel, the image only installs it.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY deteval ./deteval
COPY evaluator ./evaluator
COPY service ./service
COPY workers ./workers
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DETEVAL_DATA_DIR=/data

RUN groupadd --system deteval && useradd --system --gid deteval --home /app deteval
WORKDIR /app

COPY --from=build /wheels /wheels
RUN pip install "$(ls /wheels/detection_eval-*.whl)[service]" && rm -rf /wheels

RUN mkdir -p /data && chown deteval:deteval /data
USER deteval
VOLUME ["/data"]
EXPOSE 8000

# Healthchecks are per service in docker-compose.yml (API: /v1/health; worker: ping).
CMD ["deteval", "api", "--host", "0.0.0.0", "--port", "8000"]
