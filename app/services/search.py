"""Retrieval over a data set's passages, in two steps.

1. Candidates, from the database's own full-text index: PostgreSQL's full-text search
   over a GIN expression index, SQLite's FTS5 table (both created by the initial
   migration). The question's words and their common paraphrases
   (app/services/relevance.py) are ORed, so a passage saying "warranty" is found for
   "guarantee", and the database ranks them (ts_rank_cd / bm25); the best CANDIDATES.
2. The candidates ranked again in Python (app/services/relevance.py): a paraphrase
   counts for less than the question's own word, the document's title counts too, and
   a passage holding the question's rare words goes first.
"""

from dataclasses import dataclass, replace

from sqlalchemy import text

from app.extensions import db
from app.services.relevance import Scorer, Unit, paraphrases_of, question_terms, rank_key
from app.services.text import query_terms

# Full-text candidates ranked again (at least; more when more passages are asked for).
CANDIDATES = 20

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
    words = list(dict.fromkeys(
        [*terms, *(paraphrase for term in terms for paraphrase in paraphrases_of(term))]))
    candidates = _full_text(data_set_id, words, max(limit, CANDIDATES))
    return _ranked(question, candidates)[:limit]


def _full_text(data_set_id: int, words: list[str], limit: int) -> list[Hit]:
    if db.engine.dialect.name == "postgresql":
        statement, query = _POSTGRES_SEARCH, " | ".join(words)
    else:
        statement, query = _SQLITE_SEARCH, " OR ".join(f'"{w}"' for w in words)
    rows = db.session.execute(
        statement, {"query": query, "data_set_id": data_set_id, "limit": limit})
    return [Hit(passage_id=r.id, document_id=r.document_id, document_title=r.title,
                text=r.text, score=float(r.score)) for r in rows]


def _ranked(question: str, hits: list[Hit]) -> list[Hit]:
    """The hits by relevance to the question's words (the database's order breaks
    ties); each hit's score becomes its rank key."""
    terms = question_terms(question)
    if not hits or not terms:
        return hits
    units = [Unit(hit.text, context=hit.document_title, source=n) for n, hit in enumerate(hits)]
    scorer = Scorer(units, terms)
    keyed = [(rank_key(scorer.score(unit)), unit.source) for unit in units]
    keyed.sort(key=lambda pair: (-pair[0], pair[1]))
    return [replace(hits[n], score=key) for key, n in keyed]
