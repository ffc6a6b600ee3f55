"""Embedding with the bundled all-MiniLM-L6-v2 through sentence-transformers-haystack, offline."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterable, Sequence
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
    """Embeds a query; an LRU cache answers repeated questions without running the model."""

    def __init__(
        self,
        model: str,
        device: str = "cpu",
        cache_size: int = 2048,
        threads: int | None = None,
    ) -> None:
        self.model = model
        self.device = device
        self.cache_size = cache_size
        self.threads = threads
        self._embedder: SentenceTransformersTextEmbedder | None = None
        self._cache: OrderedDict[str, QueryVector] = OrderedDict()
        self.hits = 0
        self.misses = 0

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
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            self.hits += 1
            return {"embedding": cached}
        if self._embedder is None:
            self.warm_up()
        assert self._embedder is not None
        embedding = QueryVector(self._embedder.run(text=text)["embedding"])
        self.misses += 1
        self._cache[text] = embedding
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return {"embedding": embedding}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self, model=self.model, device=self.device, cache_size=self.cache_size, threads=self.threads
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CachedQueryEmbedder:
        return default_from_dict(cls, data)
