# One image for the API and the workers (docker-compose.yml picks the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DETEVAL_DATA_DIR=/data

RUN groupadd --system deteval && useradd --system --gid deteval --home /app deteval
WORKDIR /app

COPY pyproject.toml README.md ./
COPY deteval ./deteval
COPY evaluator ./evaluator
COPY service ./service
COPY workers ./workers
RUN pip install ".[service]"

RUN mkdir -p /data && chown deteval:deteval /data
USER deteval
VOLUME ["/data"]
EXPOSE 8000

# Healthchecks are per service in docker-compose.yml (API: /v1/health; worker: ping).
CMD ["deteval", "api", "--host", "0.0.0.0", "--port", "8000"]
