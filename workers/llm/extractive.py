"""Which sentences of some passages answer a question: the offline model's reading.

A passage is read as markdown. Headings and a table's header row are the context of the
sentences under them, not answers; list markers, emphasis, links, quotes, code fences and
a table's pipes are dropped, and a table row reads "first cell: other cells". Each
sentence (a list item, a table row) is scored against the question by its words
(app/services/relevance.py: BM25 with stems and paraphrases, the sentences of the
passages being the collection; the document's title and top heading are every
sentence's topic, the heading above a sentence its context).

The best sentence answers when it covers enough of the question (its rare words above
all); otherwise nothing does, and the model says so.
"""

import re

from app.services.agent_io import Source
from app.services.relevance import (NUMBER, QUANTITY, WORD, Scorer, Unit, question_terms,
                                    rank_key, stems)
from app.services.text import FENCE, split_sentences

# The best sentence answers only if it covers this share of the question's weight.
MIN_COVERAGE = 0.4
# A second sentence is quoted if it ranks at least this share of the best one.
SUPPORT_SHARE = 0.7
# A question asking for an amount prefers sentences that hold a number, by this factor;
# a sentence that opens with a word of the question (its subject, often: "Core hours are
# from 10:00 ...") is preferred by the other.
QUANTITY_BONUS = 1.2
LEAD_BONUS = 1.1

# Markdown within a line, and what each becomes.
_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # an image: its alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # a link: its text
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # a reference link
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1"),  # an autolink
    (re.compile(r"</?[A-Za-z][^>]*>"), " "),  # HTML tags
    (re.compile(r"(`+)(.+?)\1"), r"\2"),  # code
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # strong
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),  # emphasis
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"\1"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),  # struck through
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>])"), r"\1"),  # escapes
]
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+\u2022]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?")
_QUOTE_MARKER = re.compile(r"^\s*(?:>\s*)+")
_TABLE_SEPARATOR = re.compile(r"^\|?(?:\s*:?-{2,}:?\s*\|)+\s*:?-*:?\s*\|?$")
# A table whose rows were joined into one line (passages stored before line breaks
# were kept): rows meet at "| |".
_JOINED_ROWS = re.compile(r"(?<=\|)\s+(?=\|)")
_ENDS_SENTENCE = (".", "!", "?", ":", ";", "\u2026")


def answering_sentences(question: str, sources: list[Source]) -> list[tuple[str, str]]:
    """(document title, sentence) of the sentence that answers the question, then at most
    one supporting sentence; none when no sentence covers enough of the question."""
    terms = question_terms(question)
    sentences = sentences_of(sources)
    if not terms or not sentences:
        return []
    scorer = Scorer(sentences, terms)
    wants_number = bool(QUANTITY.search(question))
    ranked = sorted(((_scores(scorer, s, wants_number), s) for s in sentences),
                    key=lambda pair: (-rank_key(pair[0]), pair[1].source, pair[1].position))
    best_scores, best = ranked[0]
    if best_scores[1] < MIN_COVERAGE:
        return []
    chosen = [best]
    for scores, sentence in ranked[1:2]:
        if (rank_key(scores) >= SUPPORT_SHARE * rank_key(best_scores)
                and scores[1] >= MIN_COVERAGE):
            chosen.append(sentence)
    return [(sources[s.source].title, s.text) for s in chosen]


def sentences_of(sources: list[Source]) -> list[Unit]:
    """Every sentence of the passages, with its heading and its document's topic."""
    return [Unit(text, context, topic, rank, position)
            for rank, source in enumerate(sources)
            for topic in [_topic(source)]
            for position, (text, context) in enumerate(read_passage(source.text))]


def _scores(scorer: Scorer, sentence: Unit, wants_number: bool) -> tuple[float, float]:
    score, coverage = scorer.score(sentence)
    if wants_number and NUMBER.search(sentence.text):
        score *= QUANTITY_BONUS
    words = stems(sentence.text)
    if words and words[0] in scorer.terms:
        score *= LEAD_BONUS
    return score, coverage


def _topic(source: Source) -> str:
    """The document's title and the top-level heading its passage holds, if any."""
    top = next((m[1] for line in source.text.split("\n")
                if (m := re.match(r"^\s{0,3}#\s+(.*)$", line))), "")
    return f"{source.title} {top}"


# -- reading markdown ---------------------------------------------------------------------

def read_passage(passage: str) -> list[tuple[str, str]]:
    """The passage's sentences, list items and table rows as plain text, each with the
    plain text of the heading (and table header) above it."""
    units: list[tuple[str, str]] = []
    heading = ""
    lines = passage.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if FENCE.match(line):
            code = []
            while index < len(lines) and not FENCE.match(lines[index]):
                code.append(lines[index].strip())
                index += 1
            index += 1
            _attach_code(units, " ".join(filter(None, code)))
        elif match := _HEADING.match(line):
            heading = _plain(match[1])
        elif line.lstrip().startswith("|"):
            rows = []
            while True:
                rows.extend(_JOINED_ROWS.split(line.strip()))
                if index >= len(lines) or not lines[index].lstrip().startswith("|"):
                    break
                line = lines[index]
                index += 1
            units.extend(_table(rows, heading))
        elif line.strip() and not _RULE.match(line):
            text = _plain(_LIST_MARKER.sub("", _QUOTE_MARKER.sub("", line)))
            # A list whose items were joined into one line: each item's marker goes.
            units.extend((_LIST_MARKER.sub("", sentence), heading)
                         for sentence in split_sentences(text))
    return [(text, context) for text, context in units if WORD.search(text)]


def _table(rows: list[str], heading: str) -> list[tuple[str, str]]:
    """A table's rows as "first cell: other cells.", under the heading and the header
    row (a row followed by the separator row)."""
    header = ""
    if len(rows) > 1 and _TABLE_SEPARATOR.match(rows[1]):
        header, rows = " ".join(_cells(rows[0])), rows[2:]
    context = f"{heading} {header}".strip()
    units = []
    for row in rows:
        cells = [c for c in _cells(row) if c]
        if not cells or _TABLE_SEPARATOR.match(row):
            continue
        text = cells[0] + (": " + "; ".join(cells[1:]) if len(cells) > 1 else "")
        units.append((text if text.endswith(_ENDS_SENTENCE) else text + ".", context))
    return units


def _cells(row: str) -> list[str]:
    return [_plain(cell) for cell in row.strip().strip("|").split("|")]


def _attach_code(units: list[tuple[str, str]], code: str) -> None:
    """Code belongs to the sentence that announces it ("run this:"); alone, it is no
    answer to quote."""
    if code and units and units[-1][0].endswith(":"):
        text, context = units[-1]
        units[-1] = (f"{text} {code}", context)


def _plain(text: str) -> str:
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())
