"""Shared fixtures: paths to the sample company and the shared corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_POLICIES = ROOT / "bot" / "demo" / "data" / "policies"
CORPUS = Path(os.environ.get("HRBOT_CORPUS", ROOT.parent / "shared" / "corpus"))

os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def sample_policies() -> Path:
    return SAMPLE_POLICIES


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS} (set HRBOT_CORPUS)")
    return CORPUS
