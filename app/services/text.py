"""Text handling with no database in it: splitting a document into passages
(paragraphs, merged while short and cut at line and sentence ends while long, so each
passage is a readable quote of a few sentences), sentences, and the terms of a question.

Documents are often markdown. A paragraph's wrapped lines are joined into one, but a
line that starts a block of its own (a heading, a list item, a table row, a quote, a
code fence, and every line inside a fence) keeps its line break, so a passage keeps its
lists and tables readable, for a model and for the offline model's reading of it
(workers/llm/extractive.py)."""

import re

MAX_PASSAGE_CHARS = 800
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# A sentence ends at . ! or ? (perhaps closed by a quote or a bracket) before a space,
# unless the next word starts in lower case ("e.g. a fibre plan", "approx. five").
_SENTENCE_END = re.compile(
    r"(?:(?<=[.!?])|(?<=[.!?][\"'\u201d\u2019)\]]))\s+(?![\sa-z])")
# Abbreviations that end with a full stop but not a sentence ("Dr. Smith", "No. 5").
_ABBREVIATION = re.compile(r"(?:^|\s)(?:Mr|Mrs|Ms|Dr|Prof|St|No|Nr|vs|ca|approx|"
                           r"e\.g|i\.e|cf|Fig|Inc|Ltd|Co)\.$", re.IGNORECASE)
# Markdown lines that are blocks of their own: headings, list items, table rows, quotes,
# code fences.
BLOCK_LINE = re.compile(r"^\s{0,3}(?:#{1,6}\s|[-*+\u2022]\s|\d{1,3}[.)]\s|>|\||```|~~~)")
FENCE = re.compile(r"^\s{0,3}(?:```|~~~)")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s")
# After a heading or a table row the next line starts anew, whatever it looks like.
_ENDS_ITS_LINE = re.compile(r"^\s{0,3}(?:#{1,6}\s|\|)")


def split_passages(content: str, max_chars: int = MAX_PASSAGE_CHARS) -> list[str]:
    """A heading never ends a passage (it moves on to the passage of its section), and a
    passage that starts inside a section starts with the headings above it (the
    document's, the section's), so every passage says what it is about."""
    passages: list[str] = []
    current: list[str] = []
    trail: list[tuple[int, str]] = []  # the headings above the current piece: (level, line)
    for piece in _pieces(content, max_chars):
        if current and len("\n".join(current)) + 1 + len(piece) > max_chars:
            carried = []
            while current and _HEADING.match(current[-1]):
                carried.insert(0, current.pop())
            if current:
                passages.append("\n".join(current))
            if not carried and not _HEADING.match(piece):
                carried = [line for _, line in trail]
            while carried and len("\n".join([*carried, piece])) > max_chars:
                carried.pop(0)  # the nearest headings matter most
            current = carried
        current.append(piece)
        for line in piece.split("\n"):
            if heading := _HEADING.match(line):
                level = len(heading[1])
                trail = [(lv, ln) for lv, ln in trail if lv < level] + [(level, line)]
    if current:
        passages.append("\n".join(current))
    return passages


def split_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    for piece in _SENTENCE_END.split(text):
        piece = piece.strip()
        if not piece:
            continue
        if sentences and _ABBREVIATION.search(sentences[-1]):
            sentences[-1] += " " + piece
        else:
            sentences.append(piece)
    return sentences


def _pieces(content: str, max_chars: int):
    """Paragraphs, with over-long ones cut into lines, sentence runs (or hard cuts)."""
    for paragraph in _PARAGRAPH_BREAK.split(content.replace("\r\n", "\n")):
        lines = _block_lines(paragraph)
        if not lines:
            continue
        paragraph = "\n".join(lines)
        if len(paragraph) <= max_chars:
            yield paragraph
            continue
        for line in lines:
            if len(line) <= max_chars:
                yield line
                continue
            for sentence in split_sentences(line):
                for start in range(0, len(sentence), max_chars):
                    yield sentence[start:start + max_chars]


def _block_lines(paragraph: str) -> list[str]:
    """The paragraph's lines, each with its spacing collapsed: a wrapped line joins the
    one before it, a line that starts a block (or follows a heading, a table row or a
    fence, or sits inside a fence) stands on its own."""
    lines: list[str] = []
    in_code = stands_alone = False
    for raw in paragraph.split("\n"):
        line = " ".join(raw.split())
        if not line:
            continue
        fence = bool(FENCE.match(raw))
        if lines and not (in_code or fence or stands_alone or BLOCK_LINE.match(raw)):
            lines[-1] += " " + line
        else:
            lines.append(line)
        in_code ^= fence
        stands_alone = in_code or fence or bool(_ENDS_ITS_LINE.match(raw))
    return lines


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
