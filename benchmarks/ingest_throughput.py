"""Cold ingest of ../shared/corpus (each company its own source) into a fresh database, then a
re-ingest of the unchanged corpus. Prints chunks/s and seconds."""

from __future__ import annotations

import argparse
import time

from _common import COMPANIES, fresh_database, require_corpus

from connectors.filesystem import FilesystemConnector
from hr.db import make_sessionmaker, shared_engine
from hr.settings import Settings
from retrieval.ingest import Ingestor, embedder_from_settings


def run(ingestor: Ingestor, companies: list[str]) -> tuple[int, int, float]:
    corpus = require_corpus()
    written = embedded = 0
    started = time.perf_counter()
    for company in companies:
        connector = FilesystemConnector(corpus / company)
        s = ingestor.ingest(
            connector.load_all(), source_name=company, origin=connector.origin, listed_ids=connector.list_ids()
        )
        written += s.chunks_written
        embedded += s.chunks_embedded
        print(
            f"  {company}: {s.seen} files, {s.chunks_written} chunks written, {s.chunks_embedded} embedded, "
            f"{s.failed} failed, {s.seconds:.1f} s"
        )
    return written, embedded, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--companies", nargs="*", default=COMPANIES)
    args = parser.parse_args()
    url = fresh_database("hrbot_bench_ingest")
    settings = Settings(database_url=url)
    embed = embedder_from_settings(settings)
    embed(["warm up"])
    ingestor = Ingestor(settings, make_sessionmaker(shared_engine(url)), embed)
    print("cold ingest:")
    written, embedded, seconds = run(ingestor, args.companies)
    print(f"cold ingest: {written} chunks ({embedded} embedded) in {seconds:.1f} s = {written / seconds:.1f} chunks/s")
    print("re-ingest, unchanged:")
    written, embedded, seconds = run(ingestor, args.companies)
    print(f"unchanged re-ingest: {embedded} chunks embedded, {seconds:.2f} s")


if __name__ == "__main__":
    main()
