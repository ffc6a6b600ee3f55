"""Optional LLM answers (``HRBOT_GENERATOR=openai``): any OpenAI-compatible chat endpoint through
Haystack's ``OpenAIChatGenerator``, grounded in the budgeted sentences and checked afterwards.

The engine calls :meth:`LLMGenerator.generate` only when the extractive composer found an answer
(its calibrated abstention stands). After generation every ``[n]`` must name a source that was in
the prompt: the others are removed and logged. An answer with no valid citation left, an error
(429, 500, a refused connection) or a timeout yields ``fallback`` set and no text: the engine then
answers with the extractive quotes and the audit row records why.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from haystack.components.generators.chat import OpenAIChatGenerator
from haystack.utils import Secret

from bot.answering import prompt
from bot.answering.budget import Context, count_tokens, fit, fit_thread
from bot.answering.models import Citation, Composition
from hr.settings import Settings

log = logging.getLogger(__name__)

Fallback = Literal["error", "timeout", "no_valid_citation"]
MAX_COMPLETION_TOKENS = 400
_CALL_THREADS = 8  # model calls in flight per process; a hung call holds one until the client gives up
_GRACE_S = 0.05  # past the timeout, before the engine stops waiting for a call the client did not end
_CITATION = re.compile(r"(\s?)\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass(frozen=True)
class Generated:
    """The model's checked answer (``text`` and the sources it cites, numbered as in the text), or
    ``fallback`` with no text. ``audit()`` is what goes into the audit row's ``generation``."""

    model: str
    text: str | None = None
    citations: list[Citation] = field(default_factory=list)
    fallback: Fallback | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    context_tokens: int = 0
    sources: int = 0
    removed_citations: list[int] = field(default_factory=list)
    error: str | None = None
    ms: float = 0.0

    def audit(self) -> dict[str, Any]:
        return {
            "generator": "openai",
            "model": self.model,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "context_tokens": self.context_tokens,
            "sources": self.sources,
            "removed_citations": self.removed_citations,
            "fallback": self.fallback,
            "error": self.error,
            "ms": round(self.ms, 1),
        }


class LLMGenerator:
    """Builds the prompt, calls the model (bounded by ``llm_timeout_s``), checks the citations.
    Light ``__init__``; the client is made on first use (``warm_up``). Thread-safe."""

    def __init__(self, settings: Settings) -> None:
        self.model = settings.llm_model
        self.base_url = settings.llm_base_url
        self.timeout_s = settings.llm_timeout_s
        self.temperature = settings.llm_temperature
        self.budget_tokens = settings.llm_prompt_budget_tokens
        self._api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "none"
        self._client: OpenAIChatGenerator | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._client is not None:
                return
            client = OpenAIChatGenerator(
                api_key=Secret.from_token(self._api_key),
                model=self.model,
                api_base_url=self.base_url,
                timeout=self.timeout_s,
                max_retries=0,  # a retry would spend the asker's wait; the quotes are the fallback
                generation_kwargs={"temperature": self.temperature, "max_tokens": MAX_COMPLETION_TOKENS},
            )
            client.warm_up()
            self._pool = ThreadPoolExecutor(_CALL_THREADS, thread_name_prefix="hrbot-llm")
            self._client = client

    def thread(self, turns: Sequence[str]) -> list[str]:
        """The last turns of the conversation that fit their share of the budget, oldest first."""
        return fit_thread(turns, self.budget_tokens)

    def context(self, extractive: Composition, wider: Composition | None, *, thread: Sequence[str] = ()) -> Context:
        """The extractive answer's sentences first, then the wider ranking (one sentence for every
        retrieved document before second ones), within the budget less what ``thread`` (as fitted
        by :meth:`thread`) takes."""
        spent = sum(count_tokens(t) + 1 for t in thread)
        return fit([extractive, *([wider] if wider else [])], max(self.budget_tokens - spent, 0))

    def generate(
        self,
        question: str,
        context: Context,
        *,
        own_figures: Sequence[str] = (),
        thread: Sequence[str] = (),
    ) -> Generated:
        self.warm_up()
        assert self._client is not None and self._pool is not None
        started = time.perf_counter()
        base = Generated(self.model, context_tokens=context.tokens, sources=len(context.sources))
        chat = prompt.messages(question, context, own_figures=own_figures, thread=thread)
        future = self._pool.submit(self._client.run, messages=chat)
        try:
            result = future.result(timeout=self.timeout_s + _GRACE_S)
        except FutureTimeout:
            future.cancel()
            return _failed(base, started, "timeout", "no reply in time")
        except Exception as exc:  # the client's errors: status codes, refused connections, timeouts
            reason: Fallback = "timeout" if "timeout" in type(exc).__name__.lower() else "error"
            return _failed(base, started, reason, f"{type(exc).__name__}: {exc}")
        reply = result["replies"][0] if result.get("replies") else None
        usage: dict[str, Any] = (reply.meta.get("usage") or {}) if reply is not None else {}
        counted = replace(
            base,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            model=str(reply.meta.get("model") or self.model) if reply is not None else self.model,
        )
        text, cited, removed = check_citations((reply.text or "") if reply is not None else "", context)
        if removed:
            log.warning("removed citations of sources not given", extra={"removed": removed, "model": self.model})
        counted = replace(counted, removed_citations=removed)
        if not cited:
            return _failed(counted, started, "no_valid_citation", None)
        sources = "\n".join(f"[{c.n}] {c.label()}" for c in cited)
        answer = f"{text}\n\nSources:\n{sources}"
        return replace(counted, text=answer, citations=cited, ms=(time.perf_counter() - started) * 1000)


def check_citations(text: str, context: Context) -> tuple[str, list[Citation], list[int]]:
    """``text`` with every ``[n]`` that names no source of ``context`` removed; the cited sources
    in number order; the removed numbers."""
    removed: list[int] = []
    cited: set[int] = set()

    def keep(match: re.Match[str]) -> str:
        numbers = [int(x) for x in re.split(r"\s*,\s*", match.group(2))]
        valid = [n for n in numbers if context.citation(n) is not None]
        removed.extend(n for n in numbers if n not in valid)
        cited.update(valid)
        if not valid:
            return ""
        return f"{match.group(1)}[{', '.join(map(str, valid))}]"

    checked = _CITATION.sub(keep, text).strip()
    citations = [c for n in sorted(cited) if (c := context.citation(n)) is not None]
    return checked, citations, removed


def _failed(base: Generated, started: float, reason: Fallback, error: str | None) -> Generated:
    if error:
        log.warning("llm answer failed; answering with quotes", extra={"reason": reason, "error": error})
    return replace(base, fallback=reason, error=error, ms=(time.perf_counter() - started) * 1000)
