"""The query embedder's cache and micro-batching, with a stand-in model (no torch)."""

from __future__ import annotations

import threading
import time
from typing import Any

from retrieval.embedding import CachedQueryEmbedder, QueryVector


class StubBackend:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.gate = threading.Event()

    def embed(self, data: list[str], **kwargs: Any) -> list[list[float]]:
        self.calls.append(list(data))
        self.gate.wait(5)
        return [[float(len(t)), 1.0] for t in data]


class StubTextEmbedder:
    prefix = ""
    suffix = ""
    batch_size = 32
    normalize_embeddings = True
    precision = "float32"
    quantization_ranges = None
    encode_kwargs = None

    def __init__(self) -> None:
        self.embedding_backend = StubBackend()

    def run(self, text: str) -> dict[str, Any]:
        return {"embedding": self.embedding_backend.embed([text])[0]}


def embedder(cache_size: int = 16) -> tuple[CachedQueryEmbedder, StubBackend]:
    component = CachedQueryEmbedder("unused", cache_size=cache_size)
    stub = StubTextEmbedder()
    component._embedder = stub  # type: ignore[assignment]
    return component, stub.embedding_backend


def ask_together(component: CachedQueryEmbedder, backend: StubBackend, texts: list[str]) -> dict[str, QueryVector]:
    """The first text starts a model call; the rest arrive while it runs."""
    out: dict[str, QueryVector] = {}

    def run(text: str) -> None:
        out[text] = component.run(text)["embedding"]

    first = threading.Thread(target=run, args=(texts[0],))
    first.start()
    while not backend.calls:
        time.sleep(0.001)
    rest = [threading.Thread(target=run, args=(t,)) for t in texts[1:]]
    for t in rest:
        t.start()
    deadline = time.monotonic() + 5
    while len(component._queue) < len(set(texts[1:]) - {texts[0]}) and time.monotonic() < deadline:
        time.sleep(0.001)
    backend.gate.set()
    for t in [first, *rest]:
        t.join(5)
    return out


def test_questions_arriving_together_share_one_model_call() -> None:
    component, backend = embedder()
    texts = ["first", "second question", "third", "fourth one"]
    out = ask_together(component, backend, texts)
    assert backend.calls == [["first"], ["second question", "third", "fourth one"]]
    assert component.model_calls == 2 and component.misses == 4
    assert {t: list(v) for t, v in out.items()} == {t: [float(len(t)), 1.0] for t in texts}


def test_a_question_being_embedded_is_not_embedded_again() -> None:
    component, backend = embedder()
    out = ask_together(component, backend, ["same", "same", "same", "other"])
    assert backend.calls == [["same"], ["other"]]
    assert list(out["same"]) == [4.0, 1.0]
    assert component.run("same")["embedding"] is out["same"]  # and then from the cache
    assert component.hits == 1 and len(backend.calls) == 2


def test_batches_are_bounded_and_the_cache_stays_within_its_size() -> None:
    component, backend = embedder(cache_size=2)
    component.max_batch = 2
    ask_together(component, backend, ["a", "bb", "ccc", "dddd", "eeeee"])
    assert backend.calls == [["a"], ["bb", "ccc"], ["dddd", "eeeee"]]
    assert list(component._cache) == ["dddd", "eeeee"]


def test_a_failed_model_call_fails_its_questions_only() -> None:
    component, backend = embedder()
    backend.gate.set()
    original = backend.embed

    def broken(data: list[str], **kwargs: Any) -> list[list[float]]:
        if "bad" in data:
            raise RuntimeError("model failed")
        return original(data, **kwargs)

    backend.embed = broken  # type: ignore[method-assign]
    try:
        component.run("bad")
    except RuntimeError as exc:
        assert str(exc) == "model failed"
    else:
        raise AssertionError("expected the model's error")
    assert list(component.run("good")["embedding"]) == [4.0, 1.0]
    assert not component._pending and not component._queue and not component._embedding
