from __future__ import annotations

from haystack import Document

from retrieval.components import HybridRankFusion


def test_rrf_rewards_agreement_between_retrievers() -> None:
    fusion = HybridRankFusion(k=60)
    emb = [Document(id=i, score=1.0) for i in ["a", "b", "c"]]
    kw = [Document(id=i, score=1.0) for i in ["c", "d"]]
    out = fusion.run(embedding_documents=emb, keyword_documents=kw)["documents"]
    assert out[0].id == "c"  # ranked by both
    assert [d.id for d in out][:2] == ["c", "a"] and {d.id for d in out} == {"a", "b", "c", "d"}


def test_fusion_serialises() -> None:
    fusion = HybridRankFusion(k=10, keyword_weight=0.5)
    again = HybridRankFusion.from_dict(fusion.to_dict())
    assert (again.k, again.keyword_weight) == (10, 0.5)
