"""Where a process's CPU goes, by component: py-spy samples the running processes (their
Python stacks, `--format raw`), and each sample is put down to the innermost frame of a
known component, looking from the leaf outward. A frame of the standard library (json,
socket, threading…) belongs to whoever called it.

py-spy is optional (`pip install py-spy`); without it, `py_spy()` is None.
"""

import os
import re
import shutil
import signal
import sys
from collections import Counter
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.harness import LOGS, ROOT, log_says, process

RATE = 200  # samples a second
LONGEST_SECONDS = 600  # py-spy's own limit; it is stopped (SIGINT) when the pass ends

SDK = "SDK (anthropic, httpx, httpcore, pydantic)"
# Each component: the top-level packages (under site-packages, or Parley's own under
# ROOT) whose frames are its. The SDK's HTTP client is httpx2/httpcore2 in this version.
WORKER_COMPONENTS = {
    SDK: ("anthropic", "httpx", "httpx2", "httpcore", "httpcore2", "h11", "pydantic",
          "pydantic_core", "jiter", "anyio", "sniffio", "distro", "opentelemetry"),
    "database (sqlalchemy, psycopg)": ("sqlalchemy", "flask_sqlalchemy", "psycopg",
                                       "psycopg_binary"),
    "Redis (events, heartbeats)": ("redis",),
    "Celery/kombu": ("celery", "kombu", "billiard", "vine", "amqp"),
    "Parley code (app/, workers/)": ("app", "workers"),
}
API_COMPONENTS = {
    "Flask/werkzeug (and extensions)": ("flask", "werkzeug", "flask_cors", "flask_limiter",
                                        "limits", "blinker", "itsdangerous", "jinja2",
                                        "markupsafe"),
    "flask_smorest/marshmallow/webargs": ("flask_smorest", "marshmallow", "webargs",
                                          "apispec"),
    "sqlalchemy/psycopg": ("sqlalchemy", "flask_sqlalchemy", "psycopg", "psycopg_binary"),
    "redis": ("redis",),
    "kombu/celery (publishing)": ("celery", "kombu", "billiard", "vine", "amqp"),
    "Parley app code (app/)": ("app", "workers"),
    "gunicorn": ("gunicorn",),
}
OTHER = "other (standard library, the rest)"
# A leaf frame that only waits. py-spy leaves idle threads out unless given --idle; these
# are counted apart, to show that it did (a count near 0).
IDLE_FUNCTIONS = {"wait", "select", "poll", "epoll", "sleep", "_wait_for_tstate_lock",
                  "accept"}
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*):\d+\)$")


def py_spy() -> str | None:
    """py-spy next to this Python (a virtualenv's bin/), else on the PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


@contextmanager
def record(pids: list[int], name: str):
    """py-spy recording each process in `pids` and its subprocesses while the block runs;
    yields the raw output files, complete once the block has ended."""
    outputs = [LOGS / f"py-spy-{name}-{pid}.txt" for pid in pids]
    with ExitStack() as stack:
        spies = [stack.enter_context(process(
            [py_spy(), "record", "--format", "raw", "--rate", str(RATE), "--subprocesses",
             # --gil: only the thread holding the GIL, so Python's CPU: without it a
             # thread waiting on a socket inside a driver's C code counts as running
             # (its samples added up to 2.5 times the CPU the process used).
             "--nonblocking", "--gil", "--full-filenames", "--pid", str(pid),
             "--output", str(out),
             "--duration", str(LONGEST_SECONDS)],
            os.environ, f"py-spy-{name}-{pid}", ready=log_says("Sampling process")))
            for pid, out in zip(pids, outputs)]
        yield outputs
        for spy in spies:  # py-spy writes its file when interrupted, as on Control-C
            spy.send_signal(signal.SIGINT)
        for spy in spies:
            spy.wait(timeout=60)


def samples_by_component(outputs: list[Path], components: dict[str, tuple[str, ...]]
                         ) -> tuple[Counter, int, Counter]:
    """(samples per component, idle-looking samples left out, the innermost files of the
    samples put down to OTHER)."""
    package_of = {package: name for name, packages in components.items()
                  for package in packages}
    shares, other_files, idle = Counter(), Counter(), 0
    for line in (line for out in outputs for line in out.read_text().splitlines()):
        stack, count = line.rsplit(" ", 1)
        frames = [match for match in map(FRAME.match, stack.split(";")) if match]
        if not frames:
            continue
        if _idle(frames[-1]):
            idle += int(count)
            continue
        component = _component([package_of.get(_package(f["file"])) for f in frames],
                               package_of)
        shares[component] += int(count)
        if component == OTHER:
            other_files[_short(frames[-1]["file"])] += int(count)
    return shares, idle, other_files


def _component(owners: list[str | None], package_of: dict[str, str]) -> str:
    """The innermost known component of a stack (owners root first). A Redis call that
    kombu makes is the broker's, not Parley's events or heartbeats: it goes to the
    Celery/kombu component."""
    known = [owner for owner in reversed(owners) if owner]
    if not known:
        return OTHER
    callers = [owner for owner in known if owner != known[0]]
    if known[0] == package_of["redis"] and callers and callers[0] == package_of["kombu"]:
        return callers[0]
    return known[0]


def _idle(leaf: re.Match) -> bool:
    return leaf["function"] in IDLE_FUNCTIONS or leaf["file"].endswith("/selectors.py")


def _package(path: str) -> str | None:
    """The top-level package a file belongs to: under site-packages, or Parley's own
    (under ROOT); None for the standard library."""
    for marker in ("/site-packages/", "/dist-packages/", f"{ROOT}/"):
        if marker in path:
            top = path.split(marker, 1)[1].split("/", 1)[0]
            return top.removesuffix(".py")
    return None


def _short(path: str) -> str:
    return "/".join(Path(path).parts[-2:])
