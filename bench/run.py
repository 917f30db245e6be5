"""Parley's benchmarks, each against a baseline measured in the same run.

    python -m bench.run                 # all of them
    python -m bench.run in_flight status  # some

Needs the local PostgreSQL and Redis (PARLEY_BENCH_POSTGRES, PARLEY_BENCH_REDIS) and
wrk. Prints one table per benchmark: medians over several rounds, and the ratios.
"""

import http.client
import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import cache

import psycopg
import redis
from celery import Celery

from bench.harness import (REDIS_URL, ROOT, bench_database, celery_worker, env_for,
                           flush_redis, free_port, gunicorn, log_says, lua_headers, machine,
                           median, percentile, plain_url, post_json, process, report, wrk)
from app.services.batches import QUEUE as BATCH_QUEUE
from bench.guard import injection_guard
from bench.streaming import first_content, first_token, open_streams

ROUNDS = int(os.environ.get("PARLEY_BENCH_ROUNDS", 3))
BATCH_SLOTS = int(os.environ.get("PARLEY_BATCH_CONCURRENCY", 100))
WORKER_PROCESSES = int(os.environ.get("PARLEY_WORKER_PROCESSES", os.cpu_count() or 1))
WRK_SECONDS = int(os.environ.get("PARLEY_BENCH_SECONDS", 5))
QUESTION = "Does FiberUP Business Duplex include an SLA?"
DOCUMENT = ("FiberUP Business Duplex includes an SLA guaranteeing 99.9% uptime, with an "
            "optional priority support package.")


# -- setting up ---------------------------------------------------------------------------

def create_key(database_url: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "app.cli", "keys", "create", "bench"],
                         cwd=ROOT, env=env_for(database_url), capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def create_conversations(database_url: str, org_id: str, count: int,
                         data_set_id: int | None = None) -> list[int]:
    with psycopg.connect(plain_url(database_url)) as conn:
        rows = conn.execute(
            "INSERT INTO conversations (public_id, org_id, data_set_id, last_seq, started_at, "
            "tags, state, metadata, updated_at) "
            "SELECT 'conv_bench_' || gen_random_uuid(), %s, %s, 0, now(), "
            "'[]', '{}', '{}', now() "
            "FROM generate_series(1, %s) RETURNING id", (org_id, data_set_id, count)).fetchall()
    return sorted(r[0] for r in rows)


@contextmanager
def fake_model(latency: float):
    """The fake Messages API in its own process, answering after `latency` seconds; its
    port."""
    port = free_port()
    with process([sys.executable, "-m", "tests.support.fake_anthropic", "--port", str(port)],
                 os.environ, "fake-model", ready=log_says("http://")):
        configure_model(port, latency=latency)
        yield port


@dataclass(frozen=True)
class Setup:
    url: str  # the benchmark's own database
    key: dict  # an API key: {"org_id", "key_id", "api_key"}
    model_port: int
    env: dict  # for Parley's processes (parley_env)
    port: int  # free, for Parley's API


@contextmanager
def parley_on_fake_model(latency: float):
    """What most benchmarks start from: a fresh database and Redis database, an API key,
    and the fake model answering after `latency` seconds."""
    with bench_database() as url:
        flush_redis()
        key = create_key(url)
        with fake_model(latency) as model_port:
            yield Setup(url, key, model_port, parley_env(url, model_port), free_port())


def configure_model(port: int, **settings) -> None:
    post_json(f"http://127.0.0.1:{port}/_control", settings, {})


def parley_env(database_url: str, model_port: int | None = None) -> dict:
    # Retrieval as the default install has it (full text: the semantic extra is not
    # installed by `make up`), whatever this virtualenv holds; PARLEY_BENCH_RETRIEVAL
    # measures hybrid.
    extra = {"PARLEY_LLM": "offline",
             "PARLEY_RETRIEVAL": os.environ.get("PARLEY_BENCH_RETRIEVAL", "fulltext")}
    if model_port:
        extra.update({"PARLEY_LLM": "anthropic", "ANTHROPIC_API_KEY": "bench",
                      "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{model_port}"})
    return env_for(database_url, **extra)


def parley_worker(env: dict, concurrency: int):
    return celery_worker("workers.celery_app", env, "parley-worker", concurrency)


@contextmanager
def parley_workers(env: dict, slots: int):
    """One worker node: a worker process per core, sharing the slots between them, as
    `parley up` runs it (a thread pool's Python code runs on one core at a time), and
    like it leaving the batch queue to a worker of its own (batch_worker). Yields the
    worker processes."""
    processes = WORKER_PROCESSES
    with ExitStack() as stack:
        yield [stack.enter_context(celery_worker("workers.celery_app", env,
                                                 f"parley-worker-{n}", slots // processes,
                                                 exclude=BATCH_QUEUE))
               for n in range(processes)]


def batch_worker(env: dict, slots: int = BATCH_SLOTS):
    """The batch queue's own worker, as `parley up` runs it."""
    return celery_worker("workers.celery_app", env, "parley-batch", slots, queues=BATCH_QUEUE)


def bare_worker(env: dict, concurrency: int):
    return celery_worker("bench.bare_celery", env, "bare-worker", concurrency, "bare")


def bare_pipeline_env(database_url: str, model_port: int) -> dict:
    """The bare worker's environment for its minimal real pipeline (bare.reply: the fake
    model through the SDK, one row), the row's table created in the bench database."""
    with psycopg.connect(plain_url(database_url)) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bare_replies "
                     "(id serial PRIMARY KEY, text text NOT NULL)")
    return env_for(database_url, BARE_MODEL_URL=f"http://127.0.0.1:{model_port}",
                   BARE_DATABASE_URL=plain_url(database_url))


@cache
def _bare_app() -> Celery:
    return Celery("bench", broker=REDIS_URL)


def bare_tasks(size: int, task: str, *args) -> float:
    """Seconds from sending `size` bare tasks (each given args and a shared counter)
    until the counter says all are done."""
    counter = f"bench:done:{uuid.uuid4()}"
    marks = redis.Redis.from_url(REDIS_URL)
    started = time.perf_counter()
    for _ in range(size):
        _bare_app().send_task(task, args=[*args, counter], queue="bare")
    while int(marks.get(counter) or 0) < size:
        _give_up_after(started, "bare Celery")
        time.sleep(0.01)
    return time.perf_counter() - started


class Client:
    """A keep-alive HTTP client for one thread."""

    def __init__(self, port: int, api_key: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"X-API-Key": api_key, "Content-Type": "application/json"}

    def call(self, method: str, path: str, body=None) -> dict:
        payload = json.dumps(body) if body else None
        try:
            self.connection.request(method, path, body=payload, headers=self.headers)
            response = self.connection.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closed the idle keep-alive connection: once more on a new one.
            self.connection.close()
            self.connection.request(method, path, body=payload, headers=self.headers)
            response = self.connection.getresponse()
        payload = json.loads(response.read())
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {payload}")
        return payload


CLIENT_THREADS = 16  # the clients posting questions at once (issue "Half the CPU per message")


def post_questions(port: int, api_key: str, conversation_ids: list[int],
                   threads: int = CLIENT_THREADS) -> list[float]:
    """One question to each conversation, POSTed from `threads` keep-alive clients; the
    seconds each POST took until its task_id came back."""

    def post_all(ids: list[int]) -> list[float]:
        client, latencies = Client(port, api_key), []
        for cid in ids:
            started = time.perf_counter()
            client.call("POST", f"/api/conversations/{cid}", {"question_message": QUESTION})
            latencies.append(time.perf_counter() - started)
        return latencies

    with ThreadPoolExecutor(threads) as pool:
        chunks = pool.map(post_all, [conversation_ids[n::threads] for n in range(threads)])
        return [latency for chunk in chunks for latency in chunk]


def wait_until_succeeded(url: str, conversation_ids: list[int], started: float,
                         who: str = "Parley") -> float:
    """Seconds from `started` until the tasks of these conversations (consecutive ids,
    one task each) are all SUCCESS."""
    first, last = min(conversation_ids), max(conversation_ids)
    with psycopg.connect(plain_url(url), autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM tasks WHERE state = 'SUCCESS' AND "
                           "conversation_id BETWEEN %s AND %s",
                           (first, last)).fetchone()[0] < len(conversation_ids):
            _give_up_after(started, who)
            time.sleep(0.01)
    return time.perf_counter() - started


def data_set_with_document(port: int, api_key: str) -> int:
    client = Client(port, api_key)
    data_set = client.call("POST", "/api/data_sets", {"name": "Plans"})
    client.call("POST", f"/api/data_sets/{data_set['id']}/documents",
                {"title": "FiberUP Business Duplex", "content": DOCUMENT})
    return data_set["id"]


# -- 1. in flight ---------------------------------------------------------------------------

IN_FLIGHT = int(os.environ.get("PARLEY_BENCH_IN_FLIGHT", 500))
WARM_UP = 50  # a first, untimed round: connection pools filled, code paths warm
GIVE_UP_SECONDS = 120  # a round that has not finished by then is reported as stuck


ACCEPT_TARGET_SECONDS = 1.5  # all 500 accepted
ACCEPT_P99_TARGET_MS = 100


def in_flight() -> None:
    """500 messages to 500 conversations, the model answering after 1.0 s each: wall
    time from the first POST until all are SUCCESS, over bare Celery running 500 tasks
    that each stream the same model's reply through the SDK and store it (and, as a
    floor, 500 tasks that only sleep 1.0 s), on 500 thread slots. The same rounds time
    how fast the POSTs are accepted meanwhile ("accept under load")."""
    parley, accepted, latencies = [], [], []
    sizes = [WARM_UP] + [IN_FLIGHT] * ROUNDS
    with parley_on_fake_model(1.0) as at:
        url, key, port = at.url, at.key, at.port
        with gunicorn("app.wsgi:app", port, at.env, "parley-web"), \
                parley_workers(at.env, IN_FLIGHT):
            data_set_id = data_set_with_document(port, key["api_key"])
            for size in sizes:
                ids = create_conversations(url, key["org_id"], size, data_set_id)
                wall, accept, post_latencies = _parley_in_flight(url, port,
                                                                 key["api_key"], ids)
                parley.append(wall)
                accepted.append(accept)
                latencies.append(post_latencies)
        with bare_worker(bare_pipeline_env(url, at.model_port), IN_FLIGHT):
            pipeline = [bare_tasks(size, "bare.reply", QUESTION) for size in sizes]
            sleeping = [bare_tasks(size, "bare.sleep", 1.0) for size in sizes]
    # The warm-up rounds do not count.
    parley, pipeline, sleeping, accepted = parley[1:], pipeline[1:], sleeping[1:], accepted[1:]
    report_in_flight(parley, pipeline, sleeping)
    report_accept(accepted, [latency for post in latencies[1:] for latency in post])


def _parley_in_flight(url: str, port: int, api_key: str,
                      conversation_ids: list[int]) -> tuple[float, float, list[float]]:
    """(seconds until all are SUCCESS, seconds until the last task_id, each POST's
    seconds)."""
    started = time.perf_counter()
    post_latencies = post_questions(port, api_key, conversation_ids)
    accepted = time.perf_counter() - started
    print(f"  (all {len(conversation_ids)} accepted after {accepted:.2f} s)", flush=True)
    return wait_until_succeeded(url, conversation_ids, started), accepted, post_latencies


def report_in_flight(parley: list[float], pipeline: list[float],
                     sleeping: list[float]) -> None:
    def rounds(times):
        return ", ".join(f"{t:.2f}" for t in times)

    p = median(parley)
    report(f"in flight: {IN_FLIGHT} replies, the model taking 1.0 s each (floor 1.0 s)", [
        ("wall time, median s (baseline: SDK call + one row)", f"{p:.2f}",
         f"{median(pipeline):.2f}", f"{p / median(pipeline):.2f}"),
        ("wall time, median s (baseline: sleep 1.0 s)", f"{p:.2f}",
         f"{median(sleeping):.2f}", f"{p / median(sleeping):.2f}"),
        ("rounds (baseline: SDK call + one row)", rounds(parley), rounds(pipeline), ""),
        ("rounds (baseline: sleep 1.0 s)", "", rounds(sleeping), "")])


def report_accept(accepted: list[float], latencies: list[float]) -> None:
    """Against the issue's targets, printed in the baseline column."""
    until_last = median(accepted)
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    report(f"accept under load: {IN_FLIGHT} POSTs from {CLIENT_THREADS} client threads, "
           "during the in-flight rounds (baseline column: the target; ratio: to it)", [
               ("until the last task_id, median s", f"{until_last:.2f}",
                f"<= {ACCEPT_TARGET_SECONDS:.2f}", f"{until_last / ACCEPT_TARGET_SECONDS:.2f}"),
               (f"POST latency p50, ms ({len(latencies)} POSTs)", f"{p50:.1f}", "", ""),
               (f"POST latency p99, ms ({len(latencies)} POSTs)", f"{p99:.1f}",
                f"<= {ACCEPT_P99_TARGET_MS}", f"{p99 / ACCEPT_P99_TARGET_MS:.2f}"),
               ("rounds, s until the last task_id", ", ".join(f"{t:.2f}" for t in accepted),
                "", "")])


def _give_up_after(started: float, who: str) -> None:
    if time.perf_counter() - started > GIVE_UP_SECONDS:
        raise RuntimeError(f"{who}'s round did not finish in {GIVE_UP_SECONDS} s")


# -- 2. enqueue and 3. status ---------------------------------------------------------------

ENQUEUE_LUA = """
local threads = 0
function setup(thread)
  thread:set("next_id", %(first)d + threads * %(stride)d)
  threads = threads + 1
end
function request()
  next_id = next_id + 1
  return wrk.format("POST", "%(prefix)s" .. next_id, nil, '{"question_message": "%(question)s"}')
end
"""


def enqueue_and_status() -> None:
    """Requests per second of the message endpoint, and of the task-status endpoint,
    under gunicorn, over a hand-written WSGI endpoint doing the same work with the
    driver directly (bench/minimal_app.py) under the same gunicorn; and, to show what
    the web framework alone costs, the same hand-written work served by bare Flask."""
    stride = 20_000  # conversations per wrk thread and run: each request a new one
    apps = {"parley": ("app.wsgi:app", "/api/conversations/", "/api/task_status/"),
            "minimal": ("bench.minimal_app:app", "/enqueue/", "/status/"),
            "flask": ("bench.minimal_app:flask_app", "/enqueue/", "/status/")}
    enqueue_rps = {name: [] for name in apps}
    status_rps = {name: [] for name in apps}
    with bench_database() as url, ExitStack() as stack:
        flush_redis()
        key = create_key(url)
        env = env_for(url)
        ports = {name: free_port() for name in apps}
        for name, (wsgi, _, _) in apps.items():
            stack.enter_context(gunicorn(wsgi, ports[name], env, f"{name}-web"))
        headers = {"X-API-Key": key["api_key"], "Content-Type": "application/json"}
        task_id = Client(ports["parley"], key["api_key"]).call(
            "POST", f"/api/conversations/{create_conversations(url, key['org_id'], 1)[0]}",
            {"question_message": QUESTION})["task_id"]
        for _ in range(ROUNDS):
            for name, (_, enqueue_prefix, status_prefix) in apps.items():
                first = create_conversations(url, key["org_id"], 2 * stride)[0] - 1
                script = lua_headers(headers) + ENQUEUE_LUA % {
                    "first": first, "stride": stride, "prefix": enqueue_prefix,
                    "question": QUESTION}
                root = f"http://127.0.0.1:{ports[name]}"
                enqueue_rps[name].append(wrk(f"{root}/", WRK_SECONDS, script=script)["rps"])
                status_rps[name].append(wrk(f"{root}{status_prefix}{task_id}", WRK_SECONDS,
                                            script=lua_headers(headers))["rps"])
    flush_redis()
    for title, rps in (("enqueue: POST a message, requests/s (target ratio >= 0.7)",
                        enqueue_rps),
                       ("status: GET the task status, requests/s (target ratio >= 0.8)",
                        status_rps)):
        p, m, f = (median(rps[name]) for name in ("parley", "minimal", "flask"))
        report(title, [("requests/s, median", f"{p:.0f}", f"{m:.0f}", f"{p / m:.2f}"),
                       ("rounds", ", ".join(f"{r:.0f}" for r in rps["parley"]),
                        ", ".join(f"{r:.0f}" for r in rps["minimal"]), ""),
                       ("bare Flask, same hand-written work: requests/s, median (ratio: "
                        "the framework's own ceiling)", f"{f:.0f}", f"{m:.0f}",
                        f"{f / m:.2f}")])


# -- 4. round trip --------------------------------------------------------------------------

ROUND_TRIPS = int(os.environ.get("PARLEY_BENCH_ROUND_TRIPS", 200))
POLL_SECONDS = 0.001


def round_trip() -> None:
    """With an instant model, the time from POST to a status of SUCCESS (polling every
    millisecond), over the round trip of two bare Celery tasks on the same Redis: a
    no-op, and the minimal real pipeline (the same model through the SDK, one row)."""
    with parley_on_fake_model(0) as at:
        with gunicorn("app.wsgi:app", at.port, at.env, "parley-web"), \
                parley_worker(at.env, 8):
            data_set_id = data_set_with_document(at.port, at.key["api_key"])
            ids = create_conversations(at.url, at.key["org_id"], ROUND_TRIPS + 20,
                                       data_set_id)
            client = Client(at.port, at.key["api_key"])
            parley = [_parley_round_trip(client, cid) for cid in ids][20:]  # warmed up
        with bare_worker(bare_pipeline_env(at.url, at.model_port), 8):
            baselines = {
                "bare no-op task": [_bare_round_trip("bare.noop")
                                    for _ in range(ROUND_TRIPS + 20)][20:],
                "SDK call + one row": [_bare_round_trip("bare.reply", QUESTION)
                                       for _ in range(ROUND_TRIPS + 20)][20:]}
    rows = [(f"p{p}, ms (baseline: {name})", f"{percentile(parley, p) * 1000:.1f}",
             f"{percentile(bare, p) * 1000:.1f}",
             f"{percentile(parley, p) / percentile(bare, p):.2f}")
            for p in (50, 99) for name, bare in baselines.items()]
    report(f"round trip: POST to SUCCESS, instant model, {ROUND_TRIPS} in a row "
           "(target: p50 ratio <= 1.5 against SDK call + one row)", rows)


def _parley_round_trip(client: Client, conversation_id: int) -> float:
    started = time.perf_counter()
    task_id = client.call("POST", f"/api/conversations/{conversation_id}",
                          {"question_message": QUESTION})["task_id"]
    while client.call("GET", f"/api/task_status/{task_id}")["state"] == "PENDING":
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - started


def _bare_round_trip(task: str, *args) -> float:
    """Send one bare task, then poll every millisecond for the key it sets when done."""
    marks = redis.Redis.from_url(REDIS_URL)
    key = f"bench:done:{uuid.uuid4()}"
    started = time.perf_counter()
    _bare_app().send_task(task, args=[*args, key], queue="bare")
    while not marks.get(key):
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - started


# -- 5. deep history ------------------------------------------------------------------------

DEEP = 100_000


def deep_history() -> None:
    """A page of 20 messages from the end of a 100,000-message conversation, over the
    same page of a 20-message one."""
    with bench_database() as url:
        key = create_key(url)
        deep, shallow = create_conversations(url, key["org_id"], 2)
        _fill(url, deep, DEEP)
        _fill(url, shallow, 20)
        port = free_port()
        latency = {"deep": [], "shallow": []}
        with gunicorn("app.wsgi:app", port, env_for(url), "parley-web"):
            headers = lua_headers({"X-API-Key": key["api_key"]})
            for _ in range(ROUNDS):
                for name, cid in (("deep", deep), ("shallow", shallow)):
                    latency[name].append(wrk(
                        f"http://127.0.0.1:{port}/api/conversations/{cid}?limit=20",
                        WRK_SECONDS, connections=8, script=headers)["p50_ms"])
    d, s = median(latency["deep"]), median(latency["shallow"])
    report("deep history: the last 20 messages, p50 latency (target ratio <= 1.5)", [
        ("p50 ms, median of rounds", f"{d:.2f} (100,000 messages)", f"{s:.2f} (20 messages)",
         f"{d / s:.2f}")])


def _fill(url: str, conversation_id: int, count: int) -> None:
    with psycopg.connect(plain_url(url)) as conn:
        conn.execute(
            "INSERT INTO messages (conversation_id, seq, role, text, created_at, public_id) "
            "SELECT %s, g, CASE WHEN g %% 2 = 1 THEN 'user' ELSE 'agent' END, "
            "'Message number ' || g, now(), 'msg_bench_' || g FROM generate_series(1, %s) g",
            (conversation_id, count))
        conn.execute("UPDATE conversations SET last_seq = %s WHERE id = %s",
                     (count, conversation_id))
        conn.execute("ANALYZE messages")


# -- 10. long poll ----------------------------------------------------------------------------

LONG_POLL_TASKS = 50
MODEL_SECONDS = 1.0
POLL_EVERY = 0.2


def long_poll() -> None:
    """Requests the server answers per finished task, and how late a client learns the
    task finished: a client polling the status every 0.2 s (the baseline) vs one
    long-polling with ?wait=30, 50 questions at once, the model answering after 1 s."""
    with parley_on_fake_model(MODEL_SECONDS) as at:
        # Threads enough for every long poll to wait at once.
        with gunicorn("app.wsgi:app", at.port, at.env, "parley-web",
                      threads=LONG_POLL_TASKS), \
                parley_worker(at.env, 2 * LONG_POLL_TASKS):
            data_set_id = data_set_with_document(at.port, at.key["api_key"])
            results = {}
            for name, wait in (("polling every 0.2 s", 0), ("?wait=30", 30)):
                ids = create_conversations(at.url, at.key["org_id"], LONG_POLL_TASKS,
                                           data_set_id)
                with ThreadPoolExecutor(LONG_POLL_TASKS) as pool:
                    results[name] = list(pool.map(
                        lambda cid: _watch(at.port, at.key["api_key"], cid, wait), ids))
    polled, waited = results["polling every 0.2 s"], results["?wait=30"]
    requests_polled = median([r for r, _ in polled])
    requests_waited = median([r for r, _ in waited])
    report(f"long poll: {LONG_POLL_TASKS} questions at once, the model answering after "
           f"{MODEL_SECONDS:.0f} s (baseline: polling every {POLL_EVERY} s)", [
               ("status requests per finished task, median", f"{requests_waited:.0f}",
                f"{requests_polled:.0f}", f"{requests_waited / requests_polled:.2f}"),
               ("POST to knowing it finished, median s",
                f"{median([t for _, t in waited]):.2f}",
                f"{median([t for _, t in polled]):.2f}",
                f"{median([t for _, t in waited]) / median([t for _, t in polled]):.2f}")])


def _watch(port: int, api_key: str, conversation_id: int, wait: int) -> tuple[int, float]:
    """Ask, then watch the status until the task finishes: (status requests, seconds)."""
    client = Client(port, api_key)
    started = time.perf_counter()
    task_id = client.call("POST", f"/api/conversations/{conversation_id}",
                          {"question_message": QUESTION})["task_id"]
    requests = 0
    while True:
        requests += 1
        state = client.call("GET", f"/api/task_status/{task_id}?wait={wait}")["state"]
        if state != "PENDING":
            return requests, time.perf_counter() - started
        if not wait:
            time.sleep(POLL_EVERY)


def _cpu():
    from bench import cpu  # it imports this module
    return cpu


def _batches():
    from bench import batches  # it imports this module
    return batches


def _qa():
    from bench import qa  # in-process: needs neither wrk nor Celery
    return qa


BENCHMARKS = {"in_flight": in_flight, "enqueue": enqueue_and_status,
              "status": enqueue_and_status, "round_trip": round_trip,
              "deep_history": deep_history, "first_content": first_content,
              "open_streams": open_streams, "first_token": first_token,
              "injection_guard": injection_guard, "long_poll": long_poll,
              "batch_accept": lambda: _batches().batch_accept(),
              "batch_through": lambda: _batches().batch_through(),
              "interactive_under_batch": lambda: _batches().interactive_under_batch(),
              "qa": lambda: _qa().qa(),
              "cpu_per_message": lambda: _cpu().cpu_per_message()}


def main(names: list[str]) -> None:
    print(f"# Parley benchmarks\n{machine()}; {ROUNDS} rounds; "
          f"command: python -m bench.run {' '.join(names)}".rstrip())
    chosen = dict.fromkeys(BENCHMARKS[name] for name in (names or BENCHMARKS))
    for benchmark in chosen:
        benchmark()


if __name__ == "__main__":
    main(sys.argv[1:])
