"""Answer quality: how often retrieval finds the passage that answers a question, and
how often the offline model's answer starts with the sentence that answers it.

Three documents of different kinds (bench/qa_data: a product sheet, a policy, a how-to,
in markdown with headings, lists and tables), uploaded as files would be (titled by
their file names), and 60 questions written as users ask them (other word forms,
synonyms, words the answer does not share), each with the sentence or table row that
answers it; and questions the documents do not answer, which the offline model must
say it cannot. A second list of 15 questions (held_out), written after the first list
and the paraphrase table were tuned, is reported on its own: it tells how far the
figures carry to questions nobody tuned for. Runs in-process: the search service and the data-set QA agent with the
offline model, on SQLite and, when it is reachable, PostgreSQL.

    python -m bench.run qa        # PARLEY_BENCH_QA_VERBOSE=1 lists every miss

With the semantic extra installed it also measures what hybrid retrieval costs at scale:
the three documents stored COPIES times (about 12 passages each time), with and without
vectors, and the questions searched over them.
"""

import json
import os
import re
import statistics
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.extensions import db
from app.services import data_sets, organizations, search
from app.services.agent_io import ReplyInput, Source
from app.services.text import split_sentences
from bench.harness import bench_database
from tests.support.apps import make_app, migrate
from workers.agents import data_set_qa
from workers.llm.offline import NOT_FOUND, OfflineProvider

DATA = Path(__file__).resolve().parent / "qa_data"
DEPTHS = (1, 4)
COPIES = int(os.environ.get("PARLEY_BENCH_QA_COPIES", 400))
VERBOSE = os.environ.get("PARLEY_BENCH_QA_VERBOSE") == "1"
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
# "According to “title”: " opens every quote the offline model makes.
_ATTRIBUTION = re.compile(r"^According to \u201c[^\u201d]*\u201d:\s*")


@dataclass
class Scores:
    found: dict  # depth: questions whose answer was in the top `depth` passages
    answered: int = 0  # answers opening with the expected sentence
    declined: int = 0  # unanswerable questions the model said it cannot answer
    search_seconds: list = None
    answer_seconds: list = None


def qa() -> None:
    data = json.loads((DATA / "questions.json").read_text())
    for database, url in _databases():
        with _loaded(url, data) as (app, data_set_id):
            for mode in _modes(app):
                scores = _evaluate(app, data_set_id, data["questions"], data, mode)
                _print(database, mode, scores, data["questions"], data)
                held_out = _evaluate(app, data_set_id, data["held_out"], None, mode)
                _print(database, mode, held_out, data["held_out"], None)
            if len(_modes(app)) > 1:
                _scale(app, database, data)


def _scale(app, database: str, data: dict) -> None:
    """Storing passages with and without their vectors, and searching many, by mode."""
    org_id = organizations.create_key("bench-qa-scale")["org_id"]
    stored = {}
    for mode in _modes(app):
        app.config["RETRIEVAL_MODE"] = mode
        data_set = data_sets.create_data_set(org_id, f"Scale {mode}")
        started = time.perf_counter()
        for copy in range(COPIES):
            for name in data["documents"]:
                data_sets.add_document(org_id, data_set.id, f"{name}-{copy}",
                                       (DATA / f"{name}.md").read_text())
        passages = sum(d.passage_count for d in data_sets.list_documents(org_id, data_set.id))
        stored[mode] = (data_set.id, (time.perf_counter() - started) / passages, passages)
    data_set_id, _, passages = stored[_modes(app)[-1]]
    print(f"\n## retrieval at scale: {database}, {passages} passages in one data set")
    print("| mode | storing, per passage | search per question, median |\n| --- | --- | --- |")
    for mode in _modes(app):
        app.config["RETRIEVAL_MODE"] = mode
        seconds = []
        for item in data["questions"]:
            started = time.perf_counter()
            search.search_passages(data_set_id, item["question"], 4)
            seconds.append(time.perf_counter() - started)
        print(f"| {mode} | {stored[mode][1] * 1000:.2f} ms | "
              f"{statistics.median(seconds) * 1000:.2f} ms |", flush=True)


def _databases():
    with tempfile.TemporaryDirectory(prefix="parley-bench-qa-") as folder:
        yield "SQLite", f"sqlite:///{folder}/qa.db"
    try:
        with bench_database() as url:
            yield "PostgreSQL", url
    except Exception as exc:  # no PostgreSQL here: SQLite alone says enough
        print(f"\n(PostgreSQL skipped: {exc})")


def _modes(app) -> list[str]:
    """The retrieval modes this installation can run."""
    available = getattr(search, "available_modes", None)
    return list(available()) if available else ["fulltext"]


@contextmanager
def _loaded(url: str, data: dict):
    """An app on a migrated database holding the three documents in one data set."""
    app = make_app(url)
    migrate(app)
    # Stored as an installation with the semantic extra stores them: with their vectors.
    app.config["RETRIEVAL_MODE"] = _modes(app)[-1]
    with app.app_context():
        org_id = organizations.create_key("bench-qa")["org_id"]
        data_set = data_sets.create_data_set(org_id, "Bench QA")
        for name in data["documents"]:
            data_sets.add_document(org_id, data_set.id, name,
                                   (DATA / f"{name}.md").read_text())
        try:
            yield app, data_set.id
        finally:
            db.session.remove()
            db.engine.dispose()


def _evaluate(app, data_set_id: int, questions: list, data: dict | None,
              mode: str) -> Scores:
    """The questions' scores; with `data`, the unanswerable questions' too."""
    app.config["RETRIEVAL_MODE"] = mode
    depth = app.config["RETRIEVAL_PASSAGES"]
    scores = Scores(found=dict.fromkeys(DEPTHS, 0), search_seconds=[], answer_seconds=[])
    for item in questions:
        hits, reply = _ask(item["question"], data_set_id, max(depth, *DEPTHS), depth, scores)
        expected = [_normal(answer) for answer in item["answers"]]
        rank = next((n for n, hit in enumerate(hits)
                     if any(e in _normal(hit.text) for e in expected)), None)
        for k in DEPTHS:
            scores.found[k] += rank is not None and rank < k
        if _opens_with(reply, expected):
            scores.answered += 1
        elif VERBOSE:
            print(f"  miss ({mode}, passage rank {rank}): {item['question']}\n"
                  f"    expected: {item['answers'][0]}\n    got: {reply}")
    for question in data["unanswerable"] if data else []:
        _, reply = _ask(question, data_set_id, depth, depth, scores)
        if reply == NOT_FOUND:
            scores.declined += 1
        elif VERBOSE:
            print(f"  answered the unanswerable ({mode}): {question}\n    got: {reply}")
    return scores


def _ask(question: str, data_set_id: int, search_depth: int, answer_depth: int,
         scores: Scores):
    """The passages found (the deeper list, for recall) and the offline model's answer
    from the first `answer_depth` of them, as a reply task gathers them."""
    started = time.perf_counter()
    hits = search.search_passages(data_set_id, question, search_depth)
    searched = time.perf_counter()
    job = ReplyInput(question=question, history=[], data_set_name="Bench QA",
                     passages=[Source(h.document_title, h.text) for h in hits[:answer_depth]])
    reply = data_set_qa.answer(job, OfflineProvider(), max_tokens=1024).text
    scores.search_seconds.append(searched - started)
    scores.answer_seconds.append(time.perf_counter() - searched)
    return hits, reply


def _opens_with(reply: str, expected: list[str]) -> bool:
    """The reply's first sentence is, or holds, an expected answer, and is a quote of
    about its size: a sentence holding a whole table or section does not count."""
    sentences = split_sentences(_ATTRIBUTION.sub("", reply))
    first = _normal(sentences[0]) if sentences else ""
    return any(e in first and len(first) <= 2 * len(e) + 40 for e in expected)


def _normal(text: str) -> str:
    """Letters and digits only, lower case: markdown, punctuation and spacing aside."""
    return _NOT_ALNUM.sub("", text.lower())


def _print(database: str, mode: str, scores: Scores, questions: list,
           data: dict | None) -> None:
    """A set's table; `data` (the main set's) adds the unanswerable questions."""
    asked = len(questions)
    unanswerable = len(data["unanswerable"]) if data else 0
    kind = f"{unanswerable} unanswerable" if data else "held out"
    print(f"\n## answer quality: {database}, retrieval {mode} ({asked} questions, {kind})")
    print("| measure | value |\n| --- | --- |")
    for k in DEPTHS:
        print(f"| retrieval recall@{k} (the answer's passage in the top {k}) | "
              f"{_share(scores.found[k], asked)} |")
    print(f"| offline answer accuracy (first sentence is the answer) | "
          f"{_share(scores.answered, asked)} |")
    if data:
        print(f"| unanswerable questions declined | "
              f"{_share(scores.declined, unanswerable)} |")
    print(f"| search per question, median | "
          f"{statistics.median(scores.search_seconds) * 1000:.2f} ms |")
    print(f"| offline answer per question, median | "
          f"{statistics.median(scores.answer_seconds) * 1000:.2f} ms |", flush=True)


def _share(count: int, total: int) -> str:
    return f"{count}/{total} ({100 * count / total:.0f} %)"
