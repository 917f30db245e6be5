"""cpu_per_message: the CPU time Parley spends on one message (issue "Half the CPU per
message"), the model answering at once: user + system time of the web processes
(gunicorn's master and workers: "API") and of the worker processes ("worker"), from
just before the first POST until every task is SUCCESS, divided by the messages.

Baseline, in the same run: the bare worker's CPU per task for the minimal real pipeline
(bench/bare_celery.py's bare.reply: the same model through the SDK, one row), its tasks
sent straight to the broker by this process.

Then, with py-spy installed, a second pass of the same size split by component (see
bench/profiling.py): the share of the samples, and that share of the CPU per message.
"""

import os
import time
from contextlib import ExitStack

from bench import profiling
from bench.harness import cpu_seconds, gunicorn, median, report
from bench.run import (CLIENT_THREADS, QUESTION, ROUNDS, WARM_UP, bare_pipeline_env,
                       bare_tasks, bare_worker, create_conversations, data_set_with_document,
                       parley_on_fake_model, parley_workers, post_questions,
                       wait_until_succeeded)

MESSAGES = int(os.environ.get("PARLEY_BENCH_CPU_MESSAGES", 1000))
# Worker thread slots, Parley's shared by its processes, the bare worker's in its one:
# twice the 16 clients, so that no message waits for a slot.
SLOTS = 32
TARGET_MS = 5.0
COMPONENTS = {"API": profiling.API_COMPONENTS, "worker": profiling.WORKER_COMPONENTS}


def cpu_per_message() -> None:
    with parley_on_fake_model(0) as at:
        url, key, port, env = at.url, at.key, at.port, at.env
        with gunicorn("app.wsgi:app", port, env, "parley-web") as web, \
                parley_workers(env, SLOTS) as workers:
            roles = {"API": [web.pid], "worker": [worker.pid for worker in workers]}
            data_set_id = data_set_with_document(port, key["api_key"])

            def questions(size: int):
                # The conversations are made before the CPU is read: not measured.
                ids = create_conversations(url, key["org_id"], size, data_set_id)
                return lambda: _ask(url, port, key["api_key"], ids)

            questions(WARM_UP)()
            parley = [_cpu_ms_per_message(questions(MESSAGES), roles)
                      for _ in range(ROUNDS)]
            split = _split(questions(MESSAGES), roles)
        with bare_worker(bare_pipeline_env(url, at.model_port), SLOTS) as bare_process:
            bare_tasks(WARM_UP, "bare.reply", QUESTION)
            bare = [_cpu_ms_per_message(lambda: bare_tasks(MESSAGES, "bare.reply",
                                                           QUESTION),
                                        {"worker": [bare_process.pid]})["worker"]
                    for _ in range(ROUNDS)]
    report_cpu(parley, bare)
    report_split(split, parley)


def _ask(url: str, port: int, api_key: str, conversation_ids: list[int]) -> None:
    started = time.perf_counter()
    post_questions(port, api_key, conversation_ids)
    wait_until_succeeded(url, conversation_ids, started)


def _cpu_ms_per_message(run, roles: dict[str, list[int]]) -> dict[str, float]:
    """CPU milliseconds per message of each role's processes (and their children) while
    `run` sends MESSAGES messages and waits for them all."""
    before = {role: cpu_seconds(pids) for role, pids in roles.items()}
    run()
    return {role: (cpu_seconds(pids) - before[role]) * 1000 / MESSAGES
            for role, pids in roles.items()}


def _split(run, roles: dict[str, list[int]]) -> dict | str:
    """Each role's samples by component during one more pass (py-spy running), with the
    CPU measured meanwhile; or why there is no split."""
    if not profiling.py_spy():
        return "py-spy is not installed (pip install py-spy): no split by component"
    with ExitStack() as stack:
        try:
            outputs = {role: stack.enter_context(profiling.record(pids, role))
                       for role, pids in roles.items()}
        except RuntimeError as exc:  # e.g. not allowed to ptrace the processes
            return f"py-spy could not sample the processes: {exc}"
        cpu = _cpu_ms_per_message(run, roles)
    return {role: (profiling.samples_by_component(files, COMPONENTS[role]), cpu[role])
            for role, files in outputs.items()}


def report_cpu(parley: list[dict[str, float]], bare: list[float]) -> None:
    api, worker = median([r["API"] for r in parley]), median([r["worker"] for r in parley])
    total = median([r["API"] + r["worker"] for r in parley])
    b = median(bare)
    report(f"cpu per message: {MESSAGES} questions from {CLIENT_THREADS} threads, instant "
           "model, CPU ms per message (baseline: bare worker, SDK call + one row; target "
           f"total <= {TARGET_MS:g} ms)", [
               ("API (gunicorn master + workers)", f"{api:.2f}", "", ""),
               ("worker (Celery processes)", f"{worker:.2f}", f"{b:.2f}",
                f"{worker / b:.2f}"),
               ("total", f"{total:.2f}", f"{b:.2f}", f"{total / b:.2f}"),
               ("rounds, total", ", ".join(f"{r['API'] + r['worker']:.2f}" for r in parley),
                ", ".join(f"{x:.2f}" for x in bare), "")])


def report_split(split: dict | str, parley: list[dict[str, float]]) -> None:
    if isinstance(split, str):
        print(f"\n({split})", flush=True)
        return
    for role, ((samples, idle, other_files), pass_cpu_ms) in split.items():
        ms = median([r[role] for r in parley])
        active = sum(samples.values())
        rows = [(component, str(count), f"{count / active:.0%}", f"{count / active * ms:.2f}")
                for component, count in samples.most_common()]
        report(f"cpu per message, split of the {role}'s CPU by component (py-spy, one more "
               f"pass of {MESSAGES}; ms: the share of {ms:.2f} ms per message)", rows,
               header=("component", "samples", "share", "est. CPU ms per message"))
        # Samples / rate is the time py-spy saw threads running; against the CPU measured
        # in the same pass it tells whether the samples stand for the CPU.
        sampled = active / profiling.RATE
        measured = pass_cpu_ms * MESSAGES / 1000
        print(f"  sampled {sampled:.1f} s of running threads vs {measured:.1f} s of CPU "
              f"measured in that pass; {idle} idle-looking samples left out; "
              f"'{profiling.OTHER}' most often in: "
              + ", ".join(f"{name} ({n})" for name, n in other_files.most_common(4)),
              flush=True)
