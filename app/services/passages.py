"""Splitting a document into passages: paragraphs, merged while short and cut at
sentence ends while long, so each passage is a readable quote of a few sentences."""

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
