# One image for every hrbot service of docker-compose.yml (migrate, bot, worker, beat, webhooks).
FROM python:3.11-slim
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HAYSTACK_TELEMETRY_ENABLED=False
# CPU-only torch first, so the pinned torch==2.13.0 does not pull CUDA packages
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
# The build reads pyproject.toml and README.md (the package's readme); then every package in
# [tool.setuptools.packages.find] include, with its package data (retrieval/data, bot/demo/data,
# migrations/script.py.mako, migrations/versions). Alembic is configured in code (hr/migrate.py),
# so alembic.ini is not needed.
COPY pyproject.toml README.md ./
COPY hr hr
COPY bot bot
COPY retrieval retrieval
COPY connectors connectors
COPY workers workers
COPY migrations migrations
RUN pip install . \
    && useradd --create-home --uid 1000 hrbot \
    && mkdir -p /data /srv/content \
    && chown hrbot:hrbot /data /srv/content
# Run as a plain user; HRBOT_DATA_DIR (/data in docker-compose.yml) is a volume it owns.
USER hrbot
ENTRYPOINT []
CMD ["hrbot", "--help"]
