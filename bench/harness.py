"""What every benchmark needs: a database of its own on the local PostgreSQL, a Redis
database, the fake model, gunicorn and Celery processes, wrk, and a table printer.

Benchmarks run by hand on one machine (see bench/README.md); nothing here runs in CI.
"""

import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import psycopg
import redis

# free_port: the benchmarks' ports, imported from here by bench/run.py and streaming.py.
from tests.support.processes import free_port, stop_process  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get("PARLEY_BENCH_POSTGRES",
                                    "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PARLEY_BENCH_REDIS", "redis://127.0.0.1:6379/14")
LOGS = Path(tempfile.mkdtemp(prefix="parley-bench-"))


@contextmanager
def bench_database():
    """A fresh, migrated PostgreSQL database; yields its SQLAlchemy URL."""
    name = f"parley_bench_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace(
        "postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, check=True,
                   env={**os.environ, "DATABASE_URL": url}, capture_output=True)
    try:
        yield url
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def plain_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def flush_redis() -> None:
    redis.Redis.from_url(REDIS_URL).flushdb()


def env_for(database_url: str, **extra) -> dict:
    return {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, **extra}


@contextmanager
def process(command: list[str], env: dict, name: str, ready=None, timeout: float = 60):
    """A child process, logged to LOGS/name.log, stopped (SIGTERM, then KILL) on exit."""
    log_path = LOGS / f"{name}.log"
    with log_path.open("w") as log:
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                 stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while ready is not None and not ready(log_path):
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; see {log_path}")
            time.sleep(0.1)
        yield child
    finally:
        stop_process(child)


def log_says(marker: str):
    return lambda path: marker in path.read_text()


def gunicorn(app: str, port: int, env: dict, name: str, workers: int = 2, threads: int = 16):
    command = [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}",
               "--worker-class", "gthread", "--workers", str(workers),
               "--threads", str(threads), "--no-control-socket", "--log-level", "warning"]
    return process(command, env, name, ready=lambda _: _answers(port))


def celery_worker(app: str, env: dict, name: str, concurrency: int,
                  queues: str | None = None, exclude: str | None = None):
    """A worker of `app`, consuming `queues`, or every queue the app declares but
    `exclude`."""
    command = [sys.executable, "-m", "celery", "-A", app, "worker", "--pool", "threads",
               "--concurrency", str(concurrency), *(["--queues", queues] if queues else []),
               *(["--exclude-queues", exclude] if exclude else []),
               "--loglevel", "INFO", "--without-gossip", "--without-mingle",
               "--without-heartbeat", "--hostname", f"{name}-{secrets.token_hex(3)}@%h"]
    return process(command, env, name, ready=log_says(" ready."))


def _proc_stats() -> dict[int, list[str]]:
    """Every process's /proc/<pid>/stat fields after the command (field 3 on)."""
    stats = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            stats[int(stat.parent.name)] = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
    return stats


def descendants(root: int, stats: dict[int, list[str]] | None = None) -> set[int]:
    parents = {pid: int(fields[1]) for pid, fields in (stats or _proc_stats()).items()}
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def cpu_seconds(roots: list[int]) -> float:
    """User + system CPU time so far of these processes and all their descendants. The
    children they have already reaped count too (cutime, cstime), so a gunicorn worker
    restarted between two readings does not take its CPU time away with it."""
    stats = _proc_stats()
    pids = set(roots).union(*(descendants(root, stats) for root in roots))
    ticks = sum(sum(int(value) for value in stats[pid][11:15]) for pid in pids if pid in stats)
    return ticks / os.sysconf("SC_CLK_TCK")


def _answers(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
        return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def wrk(url: str, seconds: int = 10, connections: int = 32, threads: int = 2,
        script: str | None = None) -> dict:
    """Run wrk; requests per second and latency percentiles (ms)."""
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
               "--latency", url]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        if script:
            lua.write(script)
    if script:
        command[1:1] = ["-s", lua.name]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise RuntimeError(f"wrk saw {non_2xx.group(1)} error responses:\n{out}")
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": _ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1)),
            "p99_ms": _ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1))}


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def lua_headers(headers: dict) -> str:
    return "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    return f"{os.cpu_count()} cores, {cpu}, Python {sys.version.split()[0]}"


def report(title: str, rows: list[tuple[str, ...]],
           header: tuple[str, ...] = ("measure", "Parley", "baseline", "ratio")) -> None:
    """rows: (measure, Parley, baseline, ratio), or the columns of `header`."""
    print(f"\n## {title}")
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    sys.stdout.flush()


def post_json(url: str, body: dict, headers: dict) -> dict:
    request = urllib.request.Request(url, method="POST", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())
