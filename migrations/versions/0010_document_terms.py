"""Where a chunk's text ends (``chunks.page_end``) and per-document term counts (``document_terms``).

``page_end``: a PDF section that runs over a page break stays in one chunk, cited on the page where
it starts; ``page_end`` is the page its text runs to (equal to ``page`` on one page, NULL unpaged).

``document_terms``: how often each lexeme occurs in a document's current chunks (the sum of its
``chunk_terms.tf``), and ``documents.term_total``. Search uses them to tell which of the candidate
documents a question is about ("the Northwind Standard plan" against its near twin "Northwind Health
Plus"); kept in step with ``chunks`` by triggers that run after the ``chunk_terms`` ones.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFRESH = """
    DELETE FROM document_terms WHERE document_id IN ({docs});
    INSERT INTO document_terms (document_id, lexeme, tf)
        SELECT c.document_id, ct.lexeme, sum(ct.tf)::real
        FROM chunks c JOIN chunk_terms ct ON ct.chunk_id = c.id
        WHERE c.is_current AND c.document_id IN ({docs})
        GROUP BY c.document_id, ct.lexeme;
    UPDATE documents d SET term_total = coalesce((SELECT sum(t.tf) FROM document_terms t WHERE t.document_id = d.id), 0)
        WHERE d.id IN ({docs});
"""

_FLIPPED = (
    "SELECT DISTINCT n.document_id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE n.is_current <> o.is_current"
)


def upgrade() -> None:
    op.add_column("chunks", sa.Column("page_end", sa.Integer(), nullable=True))
    op.execute("UPDATE chunks SET page_end = page WHERE page IS NOT NULL")
    op.add_column("documents", sa.Column("term_total", sa.REAL(), server_default="0", nullable=False))
    op.create_table(
        "document_terms",
        sa.Column("document_id", sa.Integer(), sa.ForeignKey("documents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("lexeme", sa.Text(), nullable=False),
        sa.Column("tf", sa.REAL(), nullable=False),
        sa.PrimaryKeyConstraint("document_id", "lexeme"),
    )
    op.execute(_REFRESH.format(docs="SELECT DISTINCT document_id FROM chunks WHERE is_current"))
    op.execute(
        f"""
        CREATE FUNCTION document_terms_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- only documents whose current chunks changed: new versions are inserted not current
            IF TG_OP = 'INSERT' THEN
                {_REFRESH.format(docs="SELECT DISTINCT document_id FROM new_rows WHERE is_current")}
            ELSE
                {_REFRESH.format(docs=_FLIPPED)}
            END IF;
            RETURN NULL;
        END $$
        """
    )
    # triggers of one event run in name order: these after chunks_terms_* have written the postings
    op.execute(
        "CREATE TRIGGER chunks_zz_document_terms_insert AFTER INSERT ON chunks REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION document_terms_refresh()"
    )
    op.execute(
        "CREATE TRIGGER chunks_zz_document_terms_update AFTER UPDATE ON chunks "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION document_terms_refresh()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER chunks_zz_document_terms_update ON chunks")
    op.execute("DROP TRIGGER chunks_zz_document_terms_insert ON chunks")
    op.execute("DROP FUNCTION document_terms_refresh()")
    op.drop_table("document_terms")
    op.drop_column("documents", "term_total")
    op.drop_column("chunks", "page_end")
