"""Batch benchmarks, each against a baseline measured in the same run:

- batch_accept: 10,000 questions in one POST /api/batches, time until the 202, against
  the same 10,000 as single POST /api/conversations/{id} from 16 client threads;
- batch_through: 10,000 questions with an instant model (the fake Claude answering at
  once, through the SDK), time until the batch is completed and replies per second per
  core of its worker, against the same 10,000 posted singly and answered by the
  interactive workers;
- interactive_under_batch: POST -> SUCCESS of single questions (the model answering
  after 0.2 s) while a 10,000-question batch runs, against the same on an idle system.
"""

import time
from concurrent.futures import ThreadPoolExecutor

import psycopg

from bench.harness import (bench_database, flush_redis, free_port, gunicorn, median,
                           percentile, plain_url, report)
from bench.run import (CLIENT_THREADS, QUESTION, ROUNDS, Client, batch_worker,
                       create_conversations, create_key, data_set_with_document, parley_env,
                       parley_on_fake_model, parley_workers, post_questions)

BATCH = 10_000
INTERACTIVE_QUESTIONS = 100
INTERACTIVE_MODEL_SECONDS = 0.2


def _requests(conversation_ids: list[int]) -> list[dict]:
    return [{"custom_id": f"r{n}", "conversation_id": cid, "question_message": QUESTION}
            for n, cid in enumerate(conversation_ids)]


def _post_batch(client: Client, conversation_ids: list[int]) -> tuple[str, float]:
    started = time.perf_counter()
    batch = client.call("POST", "/api/batches", {"requests": _requests(conversation_ids)})
    return batch["id"], time.perf_counter() - started


def _post_singly(port: int, api_key: str, conversation_ids: list[int]) -> float:
    started = time.perf_counter()
    post_questions(port, api_key, conversation_ids, CLIENT_THREADS)
    return time.perf_counter() - started


def _wait_until_none_unfinished(url: str, org_id: str, started: float) -> float:
    with psycopg.connect(plain_url(url), autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM tasks WHERE org_id = %s AND state IN "
                           "('PENDING', 'STARTED')", (org_id,)).fetchone()[0]:
            time.sleep(0.1)
    return time.perf_counter() - started


def batch_accept() -> None:
    batch_seconds, single_seconds = [], []
    with bench_database() as url:
        flush_redis()
        key = create_key(url)
        port = free_port()
        with gunicorn("app.wsgi:app", port, parley_env(url), "parley-web"):
            client = Client(port, key["api_key"])
            for _ in range(ROUNDS):  # no worker: only accepting is measured
                batch_seconds.append(_post_batch(client, create_conversations(
                    url, key["org_id"], BATCH))[1])
                single_seconds.append(_post_singly(port, key["api_key"], create_conversations(
                    url, key["org_id"], BATCH)))
    flush_redis()
    b, s = median(batch_seconds), median(single_seconds)
    report(f"batch accept: {BATCH:,} questions, time until accepted (baseline: single "
           f"POSTs from {CLIENT_THREADS} threads; target: >= 20x faster)", [
               ("seconds, median", f"{b:.2f}", f"{s:.2f}", f"{s / b:.1f}x faster"),
               ("rounds", ", ".join(f"{x:.2f}" for x in batch_seconds),
                ", ".join(f"{x:.2f}" for x in single_seconds), "")])


def batch_through() -> None:
    batch_seconds, single_seconds = [], []
    with parley_on_fake_model(0) as at:
        url, key, port, env = at.url, at.key, at.port, at.env
        with gunicorn("app.wsgi:app", port, env, "parley-web"), \
                parley_workers(env, 200), batch_worker(env):
            client = Client(port, key["api_key"])
            for _ in range(ROUNDS):
                ids = create_conversations(url, key["org_id"], BATCH)
                started = time.perf_counter()
                batch_id, _ = _post_batch(client, ids)
                while client.call("GET", f"/api/batches/{batch_id}?wait=60"
                                  )["status"] != "completed":
                    pass
                batch_seconds.append(time.perf_counter() - started)
                ids = create_conversations(url, key["org_id"], BATCH)
                started = time.perf_counter()
                _post_singly(port, key["api_key"], ids)
                single_seconds.append(_wait_until_none_unfinished(url, key["org_id"],
                                                                  started))
    flush_redis()
    b, s = median(batch_seconds), median(single_seconds)
    report(f"batch through: {BATCH:,} questions, instant model, time until all answered "
           "(baseline: the same posted singly, answered by the interactive workers)", [
               ("seconds, median", f"{b:.1f}", f"{s:.1f}", f"{b / s:.2f}"),
               ("replies/s per core (batch: its 1 worker process; singles: "
                f"{len(ids) and 'all cores'})", f"{BATCH / b:.0f}", f"{BATCH / s:.0f}", ""),
               ("rounds", ", ".join(f"{x:.1f}" for x in batch_seconds),
                ", ".join(f"{x:.1f}" for x in single_seconds), "")])


def interactive_under_batch() -> None:
    idle, loaded, batch_answered = [], [], []
    with parley_on_fake_model(INTERACTIVE_MODEL_SECONDS) as at:
        url, key, port, env = at.url, at.key, at.port, at.env
        with gunicorn("app.wsgi:app", port, env, "parley-web"), \
                parley_workers(env, 200), batch_worker(env):
            data_set_with_document(port, key["api_key"])
            client = Client(port, key["api_key"])
            for _ in range(ROUNDS):
                idle += _interactive(port, key["api_key"], create_conversations(
                    url, key["org_id"], INTERACTIVE_QUESTIONS))
                batch_id, _ = _post_batch(client, create_conversations(
                    url, key["org_id"], BATCH))
                before = _once_answering(client, batch_id)
                loaded += _interactive(port, key["api_key"], create_conversations(
                    url, key["org_id"], INTERACTIVE_QUESTIONS))
                still = client.call("GET", f"/api/batches/{batch_id}")
                batch_answered.append(still["request_counts"]["succeeded"] - before)
                client.call("POST", f"/api/batches/{batch_id}/cancel")
                while client.call("GET", f"/api/batches/{batch_id}?wait=60"
                                  )["status"] != "canceled":
                    pass
    flush_redis()
    report(f"interactive under batch load: POST -> SUCCESS of {INTERACTIVE_QUESTIONS} single "
           f"questions per round, model {INTERACTIVE_MODEL_SECONDS} s, while a {BATCH:,}-"
           "question batch runs (baseline: idle; target: p50 ratio <= 1.5)", [
               ("p50 ms", f"{median(loaded) * 1000:.0f}", f"{median(idle) * 1000:.0f}",
                f"{median(loaded) / median(idle):.2f}"),
               ("p99 ms", f"{percentile(loaded, 99) * 1000:.0f}",
                f"{percentile(idle, 99) * 1000:.0f}",
                f"{percentile(loaded, 99) / percentile(idle, 99):.2f}"),
               ("batch questions answered while the singles ran, per round",
                ", ".join(str(n) for n in batch_answered), "", ""),
               ("batch requests still unfinished when the last round ended",
                f"{still['request_counts']['queued'] + still['request_counts']['running']}",
                "", "")])


def _once_answering(client: Client, batch_id: str) -> int:
    """Wait until the batch's worker is answering it (its first replies are stored), so
    the singles are measured against a batch that really runs; the count answered."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        succeeded = client.call("GET", f"/api/batches/{batch_id}")["request_counts"][
            "succeeded"]
        if succeeded >= 50:
            return succeeded
        time.sleep(0.2)
    raise RuntimeError(f"batch {batch_id} answered nothing within 120 s")


def _interactive(port: int, api_key: str, conversation_ids: list[int]) -> list[float]:
    """Each question posted, then long-polled until it finishes, 4 clients at a time."""

    def ask(cid: int) -> float:
        client = Client(port, api_key)
        started = time.perf_counter()
        task_id = client.call("POST", f"/api/conversations/{cid}",
                              {"question_message": QUESTION})["task_id"]
        while client.call("GET", f"/api/task_status/{task_id}?wait=30")["state"] == "PENDING":
            pass
        return time.perf_counter() - started

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(ask, conversation_ids))
