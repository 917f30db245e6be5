"""Which sentences of some passages answer a question: the offline model's reading.

A passage is read as markdown. Headings and a table's header row are the context of the
sentences under them, not answers; list markers, emphasis, links, quotes, code fences and
a table's pipes are dropped, and a table row reads "first cell: other cells". Each
sentence (a list item, a table row) is scored against the question with BM25 (Robertson
and Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond", 2009), the
sentences of the passages being its collection: a question's word weighs by its rarity
among them, so in a sheet about an espresso machine "espresso" counts less than
"descale". Words are compared by their Snowball stems (weigh ~ weighs, include ~
includes), and a small table of common paraphrases lets a question's word match another
at part of the weight (price ~ cost, guarantee ~ warranty, TV ~ television).

The best sentence answers when it covers enough of the question (its rare words above
all); otherwise nothing does, and the model says so.
"""

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

from app.services.agent_io import Source
from app.services.text import FENCE, STOP_WORDS, split_sentences

# BM25's usual constants: how fast a repeated word stops adding (k1), and how much a
# long sentence is discounted (b).
K1, B = 1.2, 0.75
# A paraphrase counts for this share of the word itself; a word found only in the
# heading (or table header) above a sentence, for this share.
PARAPHRASE_WEIGHT = 0.6
CONTEXT_WEIGHT = 0.35
# The best sentence answers only if it covers this share of the question's weight.
MIN_COVERAGE = 0.4
# A second sentence is quoted if it scores at least this share of the best one's.
SUPPORT_SHARE = 0.7
# A question asking for an amount prefers sentences that hold a number, by this factor;
# a sentence that opens with a word of the question (its subject, often: "Core hours are
# from 10:00 ...") is preferred by the other.
QUANTITY_BONUS = 1.2
LEAD_BONUS = 1.1

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Words that frame a question rather than say what it is about, and the bits of "can't"
# and "kids'" the word pattern leaves.
_QUESTION_FRAME = frozenset("""
know tell need want get got let please thing way like much many use come happen
s t d ll m re ve
""".split())
_QUANTITY = re.compile(r"\b(?:how (?:much|many|long|fast|often|big|heavy|far|large|soon|"
                       r"quickly|tall|wide)|what (?:size|time|times|price|cost)|when)\b",
                       re.IGNORECASE)
_NUMBER = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
                     r"twelve|once|twice|half|dozen|hundred|thousand)\b", re.IGNORECASE)

# Common paraphrases: a question's word in one of these groups also matches the others.
# General words only, of the kinds product sheets, policies and guides are asked about.
PARAPHRASES = """
cost price pay paid fee charge money euro eur dollar usd expensive cheap afford
weigh weight heavy light kg kilogram kilo pound lb
fast quick quickly speed second minute hour time long soon
long length character least minimum
size big large small dimension tall height high wide width deep depth measure cm mm
capacity hold litre liter reservoir tank container volume ml
power electricity energy watt w consumption draw
colour color
guarantee warranty
repair fix service mend broken
reimburse refund pay compensate allowance cover
home remote remotely house
hire employee staff worker starter newcomer
boss manager supervisor
available reachable contactable
computer laptop pc device notebook
tv television
kid child children parental
visitor guest
delete erase remove wipe clear
turn switch
start begin
stop end cancel terminate quit
abroad country foreign overseas
phone mobile smartphone ios android iphone
light ring led lamp indicator
setup set install installation configure
adjust set change configure modify
limit control restrict pause block
simultaneously same together concurrently
froth steam foam
steal stolen theft lost
often every daily weekly monthly once
place put position locate
own personal private
call recall
check test tell
""".strip().splitlines()

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


@dataclass(frozen=True)
class Sentence:
    """A sentence, list item or table row of a passage, as plain text, with the words
    of the headings (and table header) it sits under."""

    text: str
    context: str
    source: int = 0  # the passage's rank in the retrieval
    position: int = 0  # its place in the passage
    # What the whole document is about (its title, its top heading): words that do not
    # tell its sentences apart.
    topic: str = ""


def answering_sentences(question: str, sources: list[Source]) -> list[tuple[str, str]]:
    """(document title, sentence) of the sentence that answers the question, then at most
    one supporting sentence; none when no sentence covers enough of the question."""
    terms = question_terms(question)
    sentences = sentences_of(sources)
    if not terms or not sentences:
        return []
    scorer = _Scorer(sentences, terms, prefers_numbers=bool(_QUANTITY.search(question)))
    ranked = sorted(((scorer.score(s), s) for s in sentences),
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


def sentences_of(sources: list[Source]) -> list[Sentence]:
    return [Sentence(text, context, rank, position, topic)
            for rank, source in enumerate(sources)
            for topic in [_topic(source)]
            for position, (text, context) in enumerate(read_passage(source.text))]


def rank_key(scores: tuple[float, float]) -> float:
    """BM25 rewards a sentence for every question word it holds, the common ones too;
    weighed by coverage, one holding the question's rare words goes first."""
    score, coverage = scores
    return score * coverage


class _Scorer:
    """BM25 over the sentences, with paraphrases and headings counting for less."""

    def __init__(self, sentences: list[Sentence], terms: list[str], prefers_numbers: bool):
        self.terms = terms
        self.prefers_numbers = prefers_numbers
        self.words = [Counter(stems(s.text)) for s in sentences]
        self.contexts = [set(stems(s.context)) for s in sentences]
        self.topics = [set(stems(s.topic)) for s in sentences]
        self.by_sentence = dict(zip(sentences, zip(self.words, self.contexts, self.topics)))
        self.average_length = sum(sum(w.values()) for w in self.words) / len(sentences) or 1
        documents = Counter(stem for words in self.words for stem in words)
        count = len(sentences)

        def idf(held_by: int) -> float:
            return math.log(1 + (count - held_by + 0.5) / (held_by + 0.5))

        self.idf = lambda stem: idf(documents[stem])
        # What a question's word weighs in the coverage: the rarity of the sentences that
        # hold it or one of its paraphrases.
        self.weights = {term: idf(sum(any(v in words for v in _variants(term))
                                      for words in self.words)) for term in terms}

    def score(self, sentence: Sentence) -> tuple[float, float]:
        """BM25 score, and the share of the question's weight the sentence covers."""
        words, context, topic = self.by_sentence[sentence]
        length = sum(words.values())
        score = covered = 0.0
        for term in self.terms:
            best = match = 0.0
            for variant, weight in _variants(term).items():
                count = words.get(variant, 0)
                if variant in topic:
                    # Every sentence of the document is about it, whether it says so or not.
                    found, matched = CONTEXT_WEIGHT * weight * self.idf(variant), \
                        CONTEXT_WEIGHT * weight
                elif count:
                    saturation = count * (K1 + 1) / (count + K1 * (
                        1 - B + B * length / self.average_length))
                    found, matched = weight * self.idf(variant) * saturation, weight
                elif variant in context:
                    found, matched = CONTEXT_WEIGHT * weight * self.idf(variant), \
                        CONTEXT_WEIGHT * weight
                else:
                    continue
                best, match = max(best, found), max(match, matched)
            score += best
            covered += match * self.weights[term]
        if self.prefers_numbers and _NUMBER.search(sentence.text):
            score *= QUANTITY_BONUS
        if stems(sentence.text)[:1] and stems(sentence.text)[0] in self.terms:
            score *= LEAD_BONUS
        return score, covered / (sum(self.weights.values()) or 1)


def _topic(source: Source) -> str:
    """The document's title and the top-level heading its passage holds, if any."""
    top = next((m[1] for line in source.text.split("\n")
                if (m := re.match(r"^\s{0,3}#\s+(.*)$", line))), "")
    return f"{source.title} {top}"


# -- words ---------------------------------------------------------------------------------

_stemmer = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    return _stemmer.stemWord(word)


def stems(text: str) -> list[str]:
    """The stems of a text's words, stop words left out."""
    return [stem(word) for word in _WORD.findall(text.lower()) if word not in STOP_WORDS]


def question_terms(question: str) -> list[str]:
    """The stems a question is about: no stop words, no words that only frame the
    question (the "long" of "how long" asks for an amount, which QUANTITY_BONUS
    rewards; it is not what the question is about), no single letters (but digits)."""
    terms: list[str] = []
    for word in _WORD.findall(_QUANTITY.sub(" ", question.lower())):
        if word in STOP_WORDS or word in _QUESTION_FRAME or (len(word) == 1
                                                             and not word.isdigit()):
            continue
        term = stem(word)
        if term not in terms and term not in _QUESTION_FRAME:
            terms.append(term)
    return terms


def _paraphrase_table() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for line in PARAPHRASES:
        group = {stem(word) for word in line.split()}
        for member in group:
            table.setdefault(member, set()).update(group - {member})
    return {member: frozenset(others) for member, others in table.items()}


_PARAPHRASES = _paraphrase_table()


@lru_cache(maxsize=4096)
def _variants(term: str) -> dict[str, float]:
    """The stem itself (full weight) and its paraphrases (part of it)."""
    return {term: 1.0, **{other: PARAPHRASE_WEIGHT
                          for other in sorted(_PARAPHRASES.get(term, ()))}}


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
    return [(text, context) for text, context in units if _WORD.search(text)]


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
