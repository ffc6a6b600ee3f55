"""Ingest (convert, chunk, embed, write) and hybrid search over PostgreSQL + pgvector."""

import os as _os

# Haystack and Hugging Face would otherwise try to reach the internet (telemetry, model hub).
for _key, _value in {
    "HAYSTACK_TELEMETRY_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    _os.environ.setdefault(_key, _value)
