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

import itertools
import re

from app.services.agent_io import Source
from app.services.relevance import (NUMBER, QUANTITY, WORD, Scorer, Unit, question_terms,
                                    rank_key, stem, stems, variants)
from app.services.text import FENCE, STOP_WORDS, split_sentences

# The best sentence answers only if it covers this share of the question's weight, or
# the lower share when the sentence itself holds two of the question's words: one rare
# word that no document uses ("my electricity *bill*", "a *parcel* delivery") should
# not hide a sentence that says the rest, while one shared word alone ("the capital of
# *France*") is not an answer.
MIN_COVERAGE = 0.4
MIN_COVERAGE_OF_TWO_WORDS = 0.3
# A second sentence is quoted if it ranks at least this share of the best one.
SUPPORT_SHARE = 0.7
# A question asking for an amount prefers sentences that hold a number, by this factor;
# a sentence that opens with a word of the question (its subject, often: "Core hours are
# from 10:00 ...") is preferred by the other.
QUANTITY_BONUS = 1.2
LEAD_BONUS = 1.1
# "How many units ...?" is answered by a sentence that counts units ("Two Nimbus M3
# units"): the very kind of answer asked for, preferred by this factor instead.
COUNT_BONUS = 2.0
# The words after "how many", up to the question's verb: the last one is what is counted.
_HOW_MANY = re.compile(r"\bhow many\s+([^\W\d_]+(?:\s+[^\W\d_]+){0,2})", re.IGNORECASE)

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
    counted = _counted(question)
    ranked = sorted(((_scores(scorer, s, wants_number, counted), s) for s in sentences),
                    key=lambda pair: (-rank_key(pair[0]), pair[1].source, pair[1].position))
    best_scores, best = ranked[0]
    if not _covers_enough(scorer, best, best_scores[1]):
        return []
    chosen = [best]
    for scores, sentence in ranked[1:2]:
        if (rank_key(scores) >= SUPPORT_SHARE * rank_key(best_scores)
                and _covers_enough(scorer, sentence, scores[1])):
            chosen.append(sentence)
    return [(sources[s.source].title, s.text) for s in chosen]


def sentences_of(sources: list[Source]) -> list[Unit]:
    """Every sentence of the passages, with its heading and its document's topic."""
    return [Unit(text, context, topic, rank, position)
            for rank, source in enumerate(sources)
            for topic in [_topic(source)]
            for position, (text, context) in enumerate(read_passage(source.text))]


def _scores(scorer: Scorer, sentence: Unit, wants_number: bool,
            counted: str | None) -> tuple[float, float]:
    score, coverage = scorer.score(sentence)
    if counted and _counts(sentence.text, counted):
        score *= COUNT_BONUS
    elif wants_number and NUMBER.search(sentence.text):
        score *= QUANTITY_BONUS
    words = stems(sentence.text)
    if words and any(words[0] in variants(term) for term in scorer.terms):
        score *= LEAD_BONUS
    return score, coverage


def _counted(question: str) -> str | None:
    """The stem of what a "how many" question counts."""
    match = _HOW_MANY.search(question)
    if not match:
        return None
    words = match[1].lower().split()
    # "How many units are in the box": the count's noun ends before the verb.
    nouns = list(itertools.takewhile(lambda word: word not in STOP_WORDS, words))
    return stem(nouns[-1]) if nouns else None


def _counts(text: str, counted: str) -> bool:
    """The text states a number of the counted thing: a number, then within three words
    the thing ("two power adapters", "3 days")."""
    words = WORD.findall(text.lower())
    return any(NUMBER.match(word) and counted in map(stem, words[at + 1:at + 4])
               for at, word in enumerate(words))


def _covers_enough(scorer: Scorer, sentence: Unit, coverage: float) -> bool:
    return coverage >= MIN_COVERAGE or (coverage >= MIN_COVERAGE_OF_TWO_WORDS
                                        and scorer.terms_held(sentence) >= 2)


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
            units.extend((_terminated(_LIST_MARKER.sub("", sentence)), heading)
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
        units.append((_terminated(text), context))
    return units


def _terminated(text: str) -> str:
    """A list item or a row ends as a sentence does, so that a quote of two reads as two."""
    return text if not text or text.endswith(_ENDS_SENTENCE) else text + "."


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
