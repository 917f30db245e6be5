"""The offline model: an honest extractive answer, deterministic and without network.

It quotes the sentences of the retrieved passages that share the most words with the
question, and names the document each comes from. With no passages it says plainly
that the data set does not contain the answer. Asked for a summary, it quotes the
first sentence of the latest questions and of the latest reply.
"""

import time

from app.services.agent_io import OFFLINE_MODEL_NAME, Result, Source
from app.services.text import query_terms, split_sentences
from workers.llm.base import LLMRequest, OnText, OnTool

MAX_QUOTES = 3
MAX_SUMMARY_QUESTIONS = 5
CHUNK_WORDS = 4
NOT_FOUND = ("I could not find the answer in this data set: none of its documents "
             "mention what you asked about.")


class OfflineProvider:
    name = "offline"

    def __init__(self, chunk_delay: float = 0.0):
        # A pause between chunks, so the answer streams as a model's would.
        self.chunk_delay = chunk_delay

    def generate(self, request: LLMRequest, on_text: OnText | None = None,
                 on_tool: OnTool | None = None) -> Result:
        """The reply; it never calls a tool, so on_tool is never called."""
        text = _TEXTS[request.kind](request)
        if on_text:
            for number, chunk in enumerate(_chunks(text)):
                if number and self.chunk_delay:
                    time.sleep(self.chunk_delay)
                on_text(chunk)
        return Result(text=text, model=OFFLINE_MODEL_NAME,
                         input_tokens=sum(len(m["content"].split()) for m in request.messages),
                         output_tokens=len(text.split()))


def _answer(question: str, sources: list[Source]) -> str:
    quotes = _best_sentences(set(query_terms(question)), sources)
    if not quotes:
        return NOT_FOUND
    by_title: dict[str, list[str]] = {}
    for title, sentence in quotes:
        by_title.setdefault(title, []).append(sentence)
    parts = [f"According to \u201c{title}\u201d: " + " ".join(sentences)
             for title, sentences in by_title.items()]
    return " ".join(parts)


def _summary(turns: list[Source]) -> str:
    """An extractive summary: the first sentence of each of the latest questions, and
    of the latest reply. `turns` are the conversation's messages, titled by role."""
    questions = [_first_sentence(t.text) for t in turns if t.title == "user"]
    replies = [_first_sentence(t.text) for t in turns if t.title == "agent"]
    parts = [f"A conversation of {len(turns)} messages."]
    if questions:
        parts.append("It asked: " + " / ".join(questions[-MAX_SUMMARY_QUESTIONS:]))
    if replies:
        parts.append(f"The latest reply: {replies[-1]}")
    return " ".join(parts)


def _first_sentence(text: str) -> str:
    sentences = split_sentences(text)
    return sentences[0] if sentences else text.strip()


def _best_sentences(terms: set[str], sources: list[Source]) -> list[tuple[str, str]]:
    """The highest-overlap sentences, in the order the passages were ranked."""
    scored = []
    for rank, source in enumerate(sources):
        for position, sentence in enumerate(split_sentences(source.text)):
            overlap = len(terms & set(query_terms(sentence)))
            if overlap:
                scored.append((-overlap, rank, position, source.title, sentence))
    if not scored:
        return []
    # Quote only sentences about as relevant as the best one, not every passing mention.
    threshold = (-min(scored)[0] + 1) // 2
    best = [s for s in sorted(scored)[:MAX_QUOTES] if -s[0] >= threshold]
    # Quote in reading order: by passage rank, then position within the passage.
    return [(title, sentence) for *_, title, sentence in sorted(best, key=lambda s: s[1:3])]


# What the offline model says, by what it is asked: an answer from the passages, a
# summary, or (recite) words an agent decided by its own rules, streamed as a model's.
_TEXTS = {"answer": lambda request: _answer(request.question, request.sources),
          "summarize": lambda request: _summary(request.sources),
          "recite": lambda request: request.question}


def _chunks(text: str):
    words = text.split(" ")
    for start in range(0, len(words), CHUNK_WORDS):
        chunk = " ".join(words[start:start + CHUNK_WORDS])
        yield chunk if start == 0 else " " + chunk
