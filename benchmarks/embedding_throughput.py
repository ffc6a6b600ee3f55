"""Raw embedding throughput of the model alone (no database, no conversion), on real chunk texts."""

from __future__ import annotations

import argparse
import time

from _common import require_corpus

from connectors.filesystem import FilesystemConnector
from hr.settings import Settings
from retrieval.chunking import Chunker, TokenCounter
from retrieval.converters import ConversionError, convert
from retrieval.ingest import embedder_from_settings


def chunk_texts(limit: int) -> list[str]:
    settings = Settings()
    chunker = Chunker(TokenCounter(settings.resolved_model_path()), settings.max_chunk_tokens)
    texts: list[str] = []
    corpus = require_corpus()
    for company in ("gitlab-handbook", "contoso-hr-pdfs"):
        for batch in FilesystemConnector(corpus / company).load_all():
            for doc in batch:
                try:
                    texts.extend(c.embed_text for c in chunker.chunk(convert(doc.data, doc.path)))  # type: ignore[union-attr]
                except (ConversionError, AttributeError):
                    continue
                if len(texts) >= limit:
                    return texts[:limit]
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=1000)
    args = parser.parse_args()
    texts = chunk_texts(args.chunks)
    embed = embedder_from_settings(Settings())
    embed(texts[:32])  # warm up
    started = time.perf_counter()
    embed(texts)
    seconds = time.perf_counter() - started
    print(
        f"raw embedding: {len(texts)} chunks in {seconds:.1f} s = {len(texts) / seconds:.1f} chunks/s "
        f"(batch {Settings().embedding_batch_size}, {Settings().embedding_device})"
    )


if __name__ == "__main__":
    main()
