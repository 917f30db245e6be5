"""Retrieval over a data set's passages, in two steps.

1. Candidates, from the database's own full-text index: PostgreSQL's full-text search
   over a stored tsvector column and its GIN index (migration 0014), SQLite's FTS5 table
   (the initial migration). The question's words and their common paraphrases
   (app/services/relevance.py) are ORed, so a passage saying "warranty" is found for
   "guarantee", and the database ranks them (ts_rank_cd / bm25); the best CANDIDATES.
2. The candidates ranked again in Python (app/services/relevance.py): a paraphrase
   counts for less than the question's own word, the document's title counts too, and
   a passage holding the question's rare words goes first.

Hybrid retrieval (RETRIEVAL_MODE "hybrid", or "auto" with the semantic extra installed)
adds semantic embeddings (app/services/embeddings.py): the passages nearest to the
question's vector join the candidates, even with no word in common, and the two rankings
are fused by reciprocal rank (Cormack, Clarke and Buettcher, SIGIR 2009). Vectors are
stored in a plain column and compared in Python with numpy, over the whole data set up
to SEMANTIC_SCAN passages (beyond it, over the full-text candidates only), each process
keeping the vectors of the data sets it searched in memory: no database extension
(pgvector, sqlite-vec) to install, the same code on PostgreSQL and SQLite, and at the
sizes Parley's data sets have, an exact scan costs well under a millisecond per thousand
passages (bench/README.md, QA). An approximate index is the next step beyond.
"""

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

from flask import current_app
from sqlalchemy import bindparam, text

from app.extensions import db
from app.services import embeddings
from app.services.relevance import Scorer, Unit, paraphrases_of, question_terms, rank_key
from app.services.text import query_terms

log = logging.getLogger(__name__)

# Full-text candidates ranked again (at least; more when more passages are asked for),
# and as many nearest passages by meaning.
CANDIDATES = 20
# The passages of a data set compared with the question's vector, at most.
SEMANTIC_SCAN = 20_000
# A passage found by meaning alone must be at least this similar to the question (the
# cosine of two unrelated texts' vectors is around 0.1 with this model).
MIN_SIMILARITY = 0.2
# Reciprocal rank fusion's constant: how much the top ranks stand out.
FUSION_K = 10
# The vectors of this many data sets are kept in each process's memory (1 KB a passage),
# read again when a data set's passages change.
CACHED_DATA_SETS = 16
MODES = ("fulltext", "hybrid")

# search_vector: to_tsvector('english', text), stored (migration 0014).
_POSTGRES_SEARCH = text("""
    SELECT p.id, p.document_id, p.text, d.title,
           ts_rank_cd(p.search_vector, q) AS score
    FROM passages p
    JOIN documents d ON d.id = p.document_id,
         to_tsquery('english', :query) q
    WHERE p.data_set_id = :data_set_id AND p.search_vector @@ q
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


_VERSION = text("""
    SELECT count(*) AS passages, max(id) AS newest FROM passages
    WHERE data_set_id = :data_set_id
""")
_VECTORS = text("""
    SELECT id, embedding FROM passages
    WHERE data_set_id = :data_set_id AND embedding IS NOT NULL
    LIMIT :limit
""")
_UNEMBEDDED = text("""
    SELECT id, text FROM passages
    WHERE data_set_id = :data_set_id AND embedding IS NULL
    LIMIT :limit
""")
_PASSAGES = text("""
    SELECT p.id, p.document_id, p.text, d.title, p.embedding
    FROM passages p JOIN documents d ON d.id = p.document_id
    WHERE p.id IN :ids
""").bindparams(bindparam("ids", expanding=True))


def available_modes() -> list[str]:
    return list(MODES) if embeddings.available() else ["fulltext"]


def semantic() -> bool:
    """Whether this app retrieves by meaning too (and so embeds what it stores)."""
    mode = current_app.config["RETRIEVAL_MODE"]
    if mode == "fulltext":
        return False
    if embeddings.available():
        return True
    if mode == "hybrid":
        log.warning("PARLEY_RETRIEVAL=hybrid needs the semantic extra "
                    "(pip install 'parley[semantic]'): searching by full text only")
    return False


def search_passages(data_set_id: int, question: str, limit: int) -> list[Hit]:
    terms = query_terms(question)
    if not terms:
        return []
    words = list(dict.fromkeys(
        [*terms, *(paraphrase for term in terms for paraphrase in paraphrases_of(term))]))
    candidates = _full_text(data_set_id, words, max(limit, CANDIDATES))
    if semantic():
        return _hybrid(data_set_id, question, candidates, max(limit, CANDIDATES))[:limit]
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


def _hybrid(data_set_id: int, question: str, found: list[Hit], depth: int) -> list[Hit]:
    """The full-text candidates and the passages nearest by meaning, in one ranking:
    each passage's score is the sum of 1 / (FUSION_K + its rank) in the two. A passage
    found by meaning alone stays only if it is at least MIN_SIMILARITY similar."""
    question_vector = embeddings.embed([question])[0]
    hits, vectors = _with_nearest(data_set_id, found, question_vector, depth)
    similarity = vectors @ question_vector
    place = {hit.passage_id: n for n, hit in enumerate(hits)}
    by_words = [place[h.passage_id] for h in _ranked(question, hits) if h.score > 0]
    by_meaning = sorted(range(len(hits)), key=lambda n: (-similarity[n], n))
    fused = [0.0] * len(hits)
    for ranking in (by_words, by_meaning):
        for rank, n in enumerate(ranking):
            fused[n] += 1 / (FUSION_K + rank + 1)
    kept = [n for n in range(len(hits)) if n < len(found) or similarity[n] >= MIN_SIMILARITY]
    kept.sort(key=lambda n: (-fused[n], n))
    return [replace(hits[n], score=fused[n]) for n in kept]


def _with_nearest(data_set_id: int, found: list[Hit], question_vector, depth: int):
    """The candidates found by words, then the nearest by meaning that words missed, and
    the vectors of them all (one row each)."""
    import numpy as np

    nearest = _nearest(data_set_id, question_vector, depth)
    rows = {r.id: r for r in db.session.execute(
        _PASSAGES, {"ids": sorted({h.passage_id for h in found} | set(nearest))})}
    known = {h.passage_id for h in found}
    hits = [*found, *(Hit(r.id, r.document_id, r.title, r.text, 0.0)
                      for r in rows.values() if r.id not in known)]
    vectors = np.zeros((len(hits), embeddings.DIMENSIONS), dtype=np.float32)
    stored = [n for n, hit in enumerate(hits) if rows[hit.passage_id].embedding is not None]
    if stored:
        vectors[stored] = embeddings.from_bytes(
            [rows[hits[n].passage_id].embedding for n in stored])
    missing = sorted(set(range(len(hits))) - set(stored))
    if missing:  # stored before the semantic extra was installed
        vectors[missing] = embeddings.embed([hits[n].text for n in missing])
    return hits, vectors


def _nearest(data_set_id: int, question_vector, depth: int) -> list[int]:
    """The ids of the `depth` passages nearest by meaning, of all the data set's; none
    when it has more passages than SEMANTIC_SCAN."""
    import numpy as np

    ids, vectors = _vectors(data_set_id)
    if not ids:
        return []
    similarity = vectors @ question_vector
    order = np.argsort(-similarity, kind="stable")[:depth]
    return [ids[n] for n in order if similarity[n] >= MIN_SIMILARITY]


_cache: "OrderedDict[int, tuple]" = OrderedDict()
_cache_lock = threading.Lock()


def _vectors(data_set_id: int) -> tuple[list[int], object]:
    """The data set's passage ids and their vectors (one row each), from this process's
    cache while the data set's passages are the same (passages are only ever added or
    deleted, which changes their count or newest id); too many, none."""
    version = tuple(db.session.execute(_VERSION, {"data_set_id": data_set_id}).one())
    if version[0] > SEMANTIC_SCAN or not version[0]:
        return [], None
    with _cache_lock:
        cached = _cache.get(data_set_id)
        if cached and cached[0] == version:
            _cache.move_to_end(data_set_id)
            return cached[1], cached[2]
    ids, vectors = _read_vectors(data_set_id)
    with _cache_lock:
        _cache[data_set_id] = (version, ids, vectors)
        _cache.move_to_end(data_set_id)
        while len(_cache) > CACHED_DATA_SETS:
            _cache.popitem(last=False)
    return ids, vectors


def _read_vectors(data_set_id: int) -> tuple[list[int], object]:
    import numpy as np

    limit = {"data_set_id": data_set_id, "limit": SEMANTIC_SCAN}
    rows = db.session.execute(_VECTORS, limit).all()
    unembedded = db.session.execute(_UNEMBEDDED, limit).all()
    parts = []
    if rows:
        parts.append(embeddings.from_bytes([r.embedding for r in rows]))
    if unembedded:  # stored before the semantic extra was installed
        parts.append(embeddings.embed([r.text for r in unembedded]))
    return [r.id for r in rows] + [r.id for r in unembedded], np.concatenate(parts)
