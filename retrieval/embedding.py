"""Embedding with the bundled all-MiniLM-L6-v2 through sentence-transformers-haystack, offline."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from typing import Any, overload

from haystack import Document, component, default_from_dict, default_to_dict
from haystack.utils import ComponentDevice
from haystack_integrations.components.embedders.sentence_transformers import (
    SentenceTransformersDocumentEmbedder,
    SentenceTransformersTextEmbedder,
)

from hr.settings import Settings


def force_offline() -> None:
    """Never reach for a model hub: the weights ship inside a Python package."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")


def document_embedder(settings: Settings, *, progress_bar: bool = False) -> SentenceTransformersDocumentEmbedder:
    force_offline()
    return SentenceTransformersDocumentEmbedder(
        model=settings.resolved_model_path(),
        device=ComponentDevice.from_str(settings.embedding_device),
        batch_size=settings.embedding_batch_size,
        normalize_embeddings=True,
        local_files_only=True,
        progress_bar=progress_bar,
    )


def embed_texts(embedder: SentenceTransformersDocumentEmbedder, texts: list[str]) -> list[list[float]]:
    if not texts:
        return []
    documents = embedder.run(documents=[Document(content=t) for t in texts])["documents"]
    return [list(d.embedding or []) for d in documents]


class QueryVector(Sequence[float]):
    """An immutable query embedding passed between pipeline components as one object.

    Haystack deep-copies component inputs element by element, with a slow Protocol ``isinstance``
    per element: a plain 384-float list cost about 15 ms per search. This is copied as itself.
    """

    __slots__ = ("_literal", "values")

    def __init__(self, values: Iterable[float]) -> None:
        self.values: tuple[float, ...] = tuple(float(v) for v in values)
        self._literal: str | None = None

    @property
    def literal(self) -> str:
        """The pgvector text form, built once (a cached query vector is searched many times)."""
        if self._literal is None:
            self._literal = "[" + ",".join(f"{x:.7g}" for x in self.values) + "]"
        return self._literal

    def __deepcopy__(self, memo: dict[int, Any]) -> QueryVector:
        return self

    def __len__(self) -> int:
        return len(self.values)

    @overload
    def __getitem__(self, index: int) -> float: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[float]: ...
    def __getitem__(self, index: int | slice) -> float | Sequence[float]:
        return self.values[index]

    def __repr__(self) -> str:
        return f"QueryVector({len(self.values)} dims)"


@component
class CachedQueryEmbedder:
    """Embeds a query; an LRU cache answers repeated questions without running the model.

    Thread-safe, and questions arriving together share one model call: a question that misses the
    cache is queued, and the first thread to queue one while no model call runs embeds everything
    queued, in batches of up to ``max_batch`` (one call for several short queries costs a fraction of
    several calls), while the others wait for theirs. A question already being embedded is not
    embedded twice.
    """

    def __init__(
        self,
        model: str,
        device: str = "cpu",
        cache_size: int = 2048,
        threads: int | None = None,
        max_batch: int = 16,
    ) -> None:
        self.model = model
        self.device = device
        self.cache_size = cache_size
        self.threads = threads
        self.max_batch = max(1, max_batch)
        self._embedder: SentenceTransformersTextEmbedder | None = None
        self._cache: OrderedDict[str, QueryVector] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: dict[str, Future[QueryVector]] = {}  # queued or being embedded
        self._queue: list[str] = []
        self._embedding = False  # a thread is draining the queue
        self.hits = 0
        self.misses = 0
        self.model_calls = 0

    def warm_up(self) -> None:
        if self._embedder is None:
            force_offline()
            if self.threads:
                # one short query at a time: extra intra-op threads only wait on each other (and on
                # PostgreSQL, running the keyword search beside it). Process-wide, as torch has it.
                import torch

                torch.set_num_threads(self.threads)
            self._embedder = SentenceTransformersTextEmbedder(
                model=self.model,
                device=ComponentDevice.from_str(self.device),
                normalize_embeddings=True,
                local_files_only=True,
                progress_bar=False,
            )
            self._embedder.warm_up()

    @component.output_types(embedding=QueryVector)
    def run(self, text: str) -> dict[str, Any]:
        with self._lock:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                self.hits += 1
                return {"embedding": cached}
            future = self._pending.get(text)
            lead = False
            if future is None:
                future = self._pending[text] = Future()
                self._queue.append(text)
                lead = not self._embedding
                self._embedding = True
        if lead:
            self._drain()
        return {"embedding": future.result()}

    def _drain(self) -> None:
        """Embed what is queued, a batch per model call, until nothing is."""
        while True:
            with self._lock:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                if not batch:
                    self._embedding = False
                    return
            try:
                vectors = [QueryVector(v) for v in self._embed(batch)]
            except BaseException as exc:
                stopping = not isinstance(exc, Exception)  # (KeyboardInterrupt...): nobody drains the rest
                with self._lock:
                    if stopping:
                        batch += self._queue
                        self._queue.clear()
                        self._embedding = False
                    failed = [self._pending.pop(t) for t in batch]
                for future in failed:
                    future.set_exception(exc)
                if stopping:
                    raise
                continue
            with self._lock:
                self.misses += len(batch)
                self.model_calls += 1
                done = [(self._pending.pop(t), v) for t, v in zip(batch, vectors, strict=True)]
                for t, v in zip(batch, vectors, strict=True):
                    self._cache[t] = v
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            for future, vector in done:
                future.set_result(vector)

    def _embed(self, texts: list[str]) -> list[list[float]]:
        """One model call for several queries, encoded exactly as the text embedder encodes one."""
        if self._embedder is None:
            self.warm_up()
        embedder = self._embedder
        assert embedder is not None
        if len(texts) == 1:
            return [embedder.run(text=texts[0])["embedding"]]
        if embedder.embedding_backend is None:  # pragma: no cover (warm_up sets it)
            embedder.warm_up()
        assert embedder.embedding_backend is not None
        return embedder.embedding_backend.embed(
            [embedder.prefix + t + embedder.suffix for t in texts],
            batch_size=max(embedder.batch_size, len(texts)),
            show_progress_bar=False,
            normalize_embeddings=embedder.normalize_embeddings,
            precision=embedder.precision,
            quantization_ranges=embedder.quantization_ranges,
            **(embedder.encode_kwargs or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self,
            model=self.model,
            device=self.device,
            cache_size=self.cache_size,
            threads=self.threads,
            max_batch=self.max_batch,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CachedQueryEmbedder:
        return default_from_dict(cls, data)
