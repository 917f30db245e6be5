"""How well short texts answer a question, by their words: BM25 (Robertson and
Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond", 2009) over a small
collection (the passages retrieval found, the sentences of those passages), the
collection being its own statistics: a question's word weighs by its rarity among
them. Words are compared by their Snowball stems (weigh ~ weighs, include ~ includes);
a small table of common paraphrases lets a question's word match another at part of
the weight (price ~ cost, guarantee ~ warranty, TV ~ television); a word found only in
the text's context (the heading above a sentence, a passage's document title) counts
for part of it too, and a word of the text's topic (the document's own title) counts
alike for every text of that document, as it tells them not apart.

Used by search (app/services/search.py, to rank full-text candidates) and by the
offline model (workers/llm/extractive.py, to choose the sentence that answers).
"""

import math
import re
import threading
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

from app.services.text import STOP_WORDS

# BM25's usual constants: how fast a repeated word stops adding (k1), and how much a
# long text is discounted (b).
K1, B = 1.2, 0.75
# A paraphrase counts for this share of the word itself; a word found only in the
# text's context or topic, for this share.
PARAPHRASE_WEIGHT = 0.6
CONTEXT_WEIGHT = 0.35

WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Words that frame a question rather than say what it is about, and the bits of "can't"
# and "kids'" the word pattern leaves.
_QUESTION_FRAME = frozenset("""
know tell need want get got let please thing way like much many use come happen
include contain s t d ll m re ve
""".split())
# A question asking for an amount (its answer holds a number, most likely). The "long"
# of "how long" says what kind of answer is wanted, not what the question is about.
_HOW_MUCH = (r"how (?:much|many|long|fast|often|big|heavy|far|large|soon|quickly|tall|"
             r"wide)")
QUANTITY = re.compile(rf"\b(?:{_HOW_MUCH}|what (?:size|time|times|price|cost)|when)\b",
                      re.IGNORECASE)
_ASKS_AMOUNT = re.compile(rf"\b{_HOW_MUCH}\b", re.IGNORECASE)
NUMBER = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
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



@dataclass(frozen=True)
class Unit:
    """A text to score, with the words around it that say what it is about."""

    text: str
    context: str = ""  # the heading above a sentence; a passage's document title
    topic: str = ""  # what its whole document is about
    source: int = 0  # for its user: which passage it comes from
    position: int = 0  # for its user: its place there


def rank_key(scores: tuple[float, float]) -> float:
    """BM25 rewards a text for every question word it holds, the common ones too;
    weighed by coverage, one holding the question's rare words goes first."""
    score, coverage = scores
    return score * coverage


class Scorer:
    """BM25 over the units, with paraphrases, context and topic counting for less."""

    def __init__(self, units: list[Unit], terms: list[str]):
        self.terms = terms
        words = [Counter(stems(u.text)) for u in units]
        self.by_unit = {unit: (counted, set(stems(unit.context)), set(stems(unit.topic)))
                        for unit, counted in zip(units, words)}
        self.average_length = sum(sum(w.values()) for w in words) / max(len(units), 1) or 1
        documents = Counter(stem for counted in words for stem in counted)
        count = len(units)

        def idf(held_by: int) -> float:
            return math.log(1 + (count - held_by + 0.5) / (held_by + 0.5))

        self.idf = lambda stem: idf(documents[stem])
        # What a question's word weighs in the coverage: the rarity of the units that
        # hold it or one of its paraphrases, in their text or in what they are about (a
        # word naming a document's subject tells which document, not which sentence).
        about = [set(stems(u.context)) | set(stems(u.topic)) for u in units]
        self.weights = {term: idf(sum(any(v in counted or v in subject for v in variants(term))
                                      for counted, subject in zip(words, about)))
                        for term in terms}

    def score(self, unit: Unit) -> tuple[float, float]:
        """BM25 score, and the share of the question's weight the unit covers."""
        words, context, topic = self.by_unit[unit]
        length = sum(words.values())
        score = covered = 0.0
        for term in self.terms:
            best = match = 0.0
            for variant, weight in variants(term).items():
                count = words.get(variant, 0)
                if variant in topic or (not count and variant in context):
                    found, matched = (CONTEXT_WEIGHT * weight * self.idf(variant),
                                      CONTEXT_WEIGHT * weight)
                elif count:
                    saturation = count * (K1 + 1) / (count + K1 * (
                        1 - B + B * length / self.average_length))
                    found, matched = weight * self.idf(variant) * saturation, weight
                else:
                    continue
                best, match = max(best, found), max(match, matched)
            score += best
            covered += match * self.weights[term]
        return score, covered / (sum(self.weights.values()) or 1)

    def terms_held(self, unit: Unit) -> int:
        """How many of the question's words the unit's own text holds (as such, or a
        paraphrase)."""
        words = self.by_unit[unit][0]
        return sum(any(v in words for v in variants(term)) for term in self.terms)


# -- words ---------------------------------------------------------------------------------

# A Snowball stemmer keeps its work in itself: one per thread (a worker runs hundreds).
_stemmers = threading.local()


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = _stemmers.english = snowballstemmer.stemmer("english")
    return stemmer.stemWord(word)


def stems(text: str) -> list[str]:
    """The stems of a text's words, stop words left out."""
    return [stem(word) for word in WORD.findall(text.lower()) if word not in STOP_WORDS]


def question_terms(question: str) -> list[str]:
    """The stems a question is about: no stop words, no words that only frame the
    question ("how long"), no single letters (but digits)."""
    terms: list[str] = []
    for word in WORD.findall(_ASKS_AMOUNT.sub(" ", question.lower())):
        if word in STOP_WORDS or word in _QUESTION_FRAME or (len(word) == 1
                                                             and not word.isdigit()):
            continue
        term = stem(word)
        if term not in terms and term not in _FRAME_STEMS:
            terms.append(term)
    return terms


def paraphrases_of(word: str) -> list[str]:
    """The words of the paraphrase groups a word belongs to (itself left out), as
    written: for a full-text query, which stems them its own way."""
    return list(_paraphrases_as_written(stem(word.lower())))


@lru_cache(maxsize=4096)
def _paraphrases_as_written(own: str) -> tuple[str, ...]:
    # Every search asks this for each of its words: the groups are scanned once a stem.
    found: list[str] = []
    for line in PARAPHRASES:
        group = line.split()
        if any(stem(member) == own for member in group):
            found.extend(m for m in group if stem(m) != own and m not in found)
    return tuple(found)


def _paraphrase_table() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for line in PARAPHRASES:
        group = {stem(word) for word in line.split()}
        for member in group:
            table.setdefault(member, set()).update(group - {member})
    return {member: frozenset(others) for member, others in table.items()}


_PARAPHRASES = _paraphrase_table()
# "included" frames a question as "include" does.
_FRAME_STEMS = frozenset(stem(word) for word in _QUESTION_FRAME)


@lru_cache(maxsize=4096)
def variants(term: str) -> dict[str, float]:
    """The stem itself (full weight) and its paraphrases (part of it)."""
    return {term: 1.0, **{other: PARAPHRASE_WEIGHT
                          for other in sorted(_PARAPHRASES.get(term, ()))}}


