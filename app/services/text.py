"""Text handling with no database in it: splitting a document into passages
(paragraphs, merged while short and cut at sentence ends while long, so each passage
is a readable quote of a few sentences), sentences, and the terms of a question."""

import re

MAX_PASSAGE_CHARS = 800
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_passages(content: str, max_chars: int = MAX_PASSAGE_CHARS) -> list[str]:
    passages: list[str] = []
    current = ""
    for piece in _pieces(content, max_chars):
        if current and len(current) + 1 + len(piece) > max_chars:
            passages.append(current)
            current = piece
        else:
            current = f"{current}\n{piece}" if current else piece
    if current:
        passages.append(current)
    return passages


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _pieces(content: str, max_chars: int):
    """Paragraphs, with over-long ones cut into sentence runs (or hard cuts)."""
    for paragraph in _PARAGRAPH_BREAK.split(content.replace("\r\n", "\n")):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        if len(paragraph) <= max_chars:
            yield paragraph
            continue
        for sentence in split_sentences(paragraph):
            for start in range(0, len(sentence), max_chars):
                yield sentence[start:start + max_chars]


_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_MAX_TERMS = 32

# Function words carry no meaning for retrieval. PostgreSQL's english configuration
# drops them itself; FTS5 has no stop list, so they are dropped here for both.
STOP_WORDS = frozenset("""
a about above after again all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for
from further had has have having he her here hers him his how i if in into is it its
itself just me more most my no nor not of off on once only or other our out over own
same she should so some such than that the their them then there these they this
those through to too under until up very was we were what when where which while who
whom why will with would you your yours
""".split())


def query_terms(question: str) -> list[str]:
    terms: list[str] = []
    for word in _WORD.findall(question.lower()):
        if word not in STOP_WORDS and word not in terms:
            terms.append(word)
    return terms[:_MAX_TERMS]
