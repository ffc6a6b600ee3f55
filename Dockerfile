FROM python:3.11-slim
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 HAYSTACK_TELEMETRY_ENABLED=False
# CPU-only torch first, so the pinned torch==2.13.0 does not pull CUDA packages
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml README.md ./
COPY hr hr
COPY bot bot
COPY retrieval retrieval
COPY connectors connectors
COPY workers workers
COPY migrations migrations
RUN pip install .
ENTRYPOINT []
