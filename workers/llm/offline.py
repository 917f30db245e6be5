"""The offline model: an honest extractive answer, deterministic and without network.

It quotes the sentence of the retrieved passages that answers the question, then at most
one supporting sentence (workers/llm/extractive.py finds them), and names the document
each comes from. When no sentence answers, or nothing was retrieved, it says plainly that
the data set does not contain the answer. Asked for a summary, it quotes the first
sentence of the latest questions and of the latest reply.
"""

import time

from app.services.agent_io import OFFLINE_MODEL_NAME, Result, Source
from app.services.text import split_sentences
from workers.llm.base import LLMRequest, OnText, OnTool
from workers.llm.extractive import answering_sentences

MAX_SUMMARY_QUESTIONS = 5
CHUNK_WORDS = 4
NOT_FOUND = ("I could not find the answer in this data set: none of its documents "
             "mention what you asked about.")
NO_DATA_SET = (
    "The offline model answers only from a data set, and this conversation has none. To "
    "attach one, create a data set with documents (POST /api/data_sets, then POST "
    "/api/data_sets/{id}/documents) and send its id as data_set_id with the conversation "
    "or with your question: see \u201cAPI: the conversations (polling) face\u201d in the "
    "README. With Claude configured (ANTHROPIC_API_KEY), questions without a data set get "
    "a plain assistant's answer.")


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
    quotes = answering_sentences(question, sources)
    if not quotes:
        return NOT_FOUND
    # The answering sentence first; a supporting one from the same document joins it.
    parts: list[tuple[str, list[str]]] = []
    for title, sentence in quotes:
        if parts and parts[-1][0] == title:
            parts[-1][1].append(sentence)
        else:
            parts.append((title, [sentence]))
    return " ".join(f"According to \u201c{title}\u201d: " + " ".join(sentences)
                    for title, sentences in parts)


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


# What the offline model says, by what it is asked: an answer from the passages, that it
# answers only from a data set (chat: there is none), a summary, or (recite) words an
# agent decided by its own rules, streamed as a model's.
_TEXTS = {"answer": lambda request: _answer(request.question, request.sources),
          "chat": lambda request: NO_DATA_SET,
          "summarize": lambda request: _summary(request.sources),
          "recite": lambda request: request.question}


def _chunks(text: str):
    words = text.split(" ")
    for start in range(0, len(words), CHUNK_WORDS):
        chunk = " ".join(words[start:start + CHUNK_WORDS])
        yield chunk if start == 0 else " " + chunk
