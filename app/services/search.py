"""Full-text retrieval over a data set's passages, in the database's own index:
PostgreSQL's full-text search over a GIN expression index, SQLite's FTS5 table.
Both are created by the initial migration. Words are ORed so that a question matches
passages sharing any of its terms, and the database ranks them (ts_rank_cd / bm25)."""

from dataclasses import dataclass

from sqlalchemy import text

from app.extensions import db
from app.services.text import query_terms

_POSTGRES_SEARCH = text("""
    SELECT p.id, p.document_id, p.text, d.title,
           ts_rank_cd(to_tsvector('english', p.text), q) AS score
    FROM passages p
    JOIN documents d ON d.id = p.document_id,
         to_tsquery('english', :query) q
    WHERE p.data_set_id = :data_set_id AND to_tsvector('english', p.text) @@ q
    ORDER BY score DESC, p.id
    LIMIT :limit
""")

_SQLITE_SEARCH = text("""
    SELECT p.id, p.document_id, p.text, d.title, -bm25(passages_fts) AS score
    FROM passages_fts
    JOIN passages p ON p.id = passages_fts.rowid
    JOIN documents d ON d.id = p.document_id
    WHERE passages_fts MATCH :query AND p.data_set_id = :data_set_id
    ORDER BY bm25(passages_fts), p.id
    LIMIT :limit
""")


@dataclass(frozen=True)
class Hit:
    passage_id: int
    document_id: int
    document_title: str
    text: str
    score: float


def search_passages(data_set_id: int, question: str, limit: int) -> list[Hit]:
    terms = query_terms(question)
    if not terms:
        return []
    if db.engine.dialect.name == "postgresql":
        statement, query = _POSTGRES_SEARCH, " | ".join(terms)
    else:
        statement, query = _SQLITE_SEARCH, " OR ".join(f'"{t}"' for t in terms)
    rows = db.session.execute(
        statement, {"query": query, "data_set_id": data_set_id, "limit": limit})
    return [Hit(passage_id=r.id, document_id=r.document_id, document_title=r.title,
                text=r.text, score=float(r.score)) for r in rows]
