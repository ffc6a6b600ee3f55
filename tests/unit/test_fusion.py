from __future__ import annotations

from retrieval.components import HybridRankFusion, Ranking
from retrieval.search_store import Hit


def test_rrf_rewards_agreement_between_retrievers() -> None:
    fusion = HybridRankFusion(k=60)
    emb = Ranking(tuple(Hit(i, 1.0) for i in [1, 2, 3]))
    kw = Ranking(tuple(Hit(i, 1.0) for i in [3, 4]))
    out = fusion.run(embedding_hits=emb, keyword_hits=kw)["hits"].ids()
    assert out[0] == 3  # ranked by both
    assert out[:2] == [3, 1] and set(out) == {1, 2, 3, 4}


def test_fusion_serialises() -> None:
    fusion = HybridRankFusion(k=10, keyword_weight=0.5)
    again = HybridRankFusion.from_dict(fusion.to_dict())
    assert (again.k, again.keyword_weight) == (10, 0.5)
