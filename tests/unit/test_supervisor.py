"""`parley up`'s restart policy (app/supervisor.py `_wait`), with fake children and a
fake clock: a child that exits is restarted after a delay that doubles up to a cap,
starts from the first delay again once it has lived a while, is never given up on, and
a stop request ends the wait at once."""

import os
import signal
import threading
import time

import pytest

from app import supervisor
from app.supervisor import (POLL_SECONDS, RESTART_FIRST_DELAY_SECONDS,
                            RESTART_MAX_DELAY_SECONDS, RESTART_RESET_AFTER_SECONDS, _wait)


@pytest.fixture(autouse=True)
def environment_restored():
    """The supervisor sets variables in os.environ for its children (FLOWER_BASIC_AUTH,
    PROMETHEUS_MULTIPROC_DIR, PARLEY_METRICS_TOKEN); none may outlive its test (a
    monkeypatch.delenv of an unset variable records nothing to restore)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


WORKER = ["python", "-m", "celery", "-A", "workers.celery_app", "worker",
          "--hostname", "parley-0@%h"]
WEB = ["python", "-m", "gunicorn", "app.wsgi:app"]


class FakeChild:
    """A child process that exits when the fake clock reaches `exits_at` (never if None)."""

    def __init__(self, args, clock, lifetime=None):
        self.args, self.clock = args, clock
        self.exits_at = None if lifetime is None else clock.now + lifetime
        self.returncode = None

    def poll(self):
        if self.exits_at is not None and self.clock.now >= self.exits_at:
            self.returncode = 1
        return self.returncode


class FakeClock:
    """Time that passes only when `_wait` sleeps; stops `_wait` (with a real SIGTERM)
    once it reaches `stop_at`."""

    def __init__(self, stop_at):
        self.now, self.stop_at = 0.0, stop_at

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        if self.now >= self.stop_at:
            signal.raise_signal(signal.SIGTERM)


class Spawner:
    """Starts fake children that live `lifetimes[args]` each, and records when."""

    def __init__(self, clock, lifetimes):
        self.clock, self.lifetimes, self.spawned = clock, lifetimes, []

    def __call__(self, args):
        self.spawned.append((self.clock.now, args))
        return FakeChild(args, self.clock, self.lifetimes(args))


@pytest.fixture(autouse=True)
def _keep_signal_handlers():
    """`_wait` installs its own SIGINT/SIGTERM handlers; give pytest its own back."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def run(lifetimes, stop_at, first=(WORKER, WEB)):
    clock = FakeClock(stop_at)
    spawn = Spawner(clock, lifetimes)
    children = [FakeChild(args, clock, lifetimes(args)) for args in first]
    result = _wait(children, spawn=spawn, clock=clock, sleep=clock.sleep)
    return result, children, [when for when, args in spawn.spawned if args is WORKER]


def gaps(times):
    return [round(b - a, 1) for a, b in zip(times, times[1:])]


def test_a_child_that_keeps_exiting_is_restarted_with_growing_delays_and_never_stops_all():
    # The worker exits as soon as it starts (Redis is down); the web process runs on.
    result, children, restarts = run(lambda args: 0.0 if args is WORKER else None,
                                     stop_at=600)

    assert result == 0  # ended by the stop request only
    assert len(restarts) > 20
    delays = [round(restarts[0], 1)] + gaps(restarts)
    expected = [RESTART_FIRST_DELAY_SECONDS * 2 ** n for n in range(5)]
    # Each restart is noticed within a poll, after the delay.
    for delay, wanted in zip(delays, expected):
        assert wanted <= delay <= wanted + 2 * POLL_SECONDS
    assert all(RESTART_MAX_DELAY_SECONDS <= d <= RESTART_MAX_DELAY_SECONDS + 2 * POLL_SECONDS
               for d in delays[6:])
    assert children[1].poll() is None  # the web process was left alone


def test_the_delay_starts_again_once_a_child_has_lived_a_while():
    lifetimes = iter([0.0, 0.0, 0.0, 0.0, RESTART_RESET_AFTER_SECONDS + 5, 0.0, 0.0])
    result, _, restarts = run(lambda args: next(lifetimes, None) if args is WORKER else None,
                              stop_at=200, first=(WORKER,))

    delays = [round(restarts[0], 1)] + gaps(restarts)
    # 1, 2, 4, 8, then a long life, then 1 again (not 16), then 2.
    assert [round(d) for d in delays[:4]] == [1, 2, 4, 8]
    assert round(delays[4] - RESTART_RESET_AFTER_SECONDS - 5) == 1
    assert round(delays[5]) == 2


def test_each_restart_is_logged_with_its_delay(capsys):
    lifetimes = iter([0.0, 0.0])
    run(lambda args: next(lifetimes, None), stop_at=10, first=(WORKER,))

    logged = capsys.readouterr().err.splitlines()
    assert logged[0].startswith("parley: celery -A workers.celery_app worker parley-0@%h "
                                "exited with 1 after 0.0 s; restarting in 1 s")
    assert logged[1].endswith("restarting in 2 s")


def test_a_stop_request_during_a_backoff_returns_promptly(monkeypatch):
    monkeypatch.setattr(supervisor, "RESTART_FIRST_DELAY_SECONDS", 60.0)
    spawned = []
    exited = FakeChild(WORKER, FakeClock(stop_at=float("inf")), lifetime=0.0)
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()

    started = time.monotonic()
    result = _wait([exited], spawn=spawned.append)  # real clock, real sleep, real signal
    took = time.monotonic() - started

    assert result == 0
    assert spawned == []  # still waiting out its 60 s delay when the stop came
    assert took < 0.5 + 3 * POLL_SECONDS


def test_flowers_password_is_generated_once_and_given_to_it_by_environment(tmp_path,
                                                                           monkeypatch):
    monkeypatch.delenv("FLOWER_BASIC_AUTH", raising=False)

    first = supervisor._flower_login(tmp_path)

    password = (tmp_path / "flower-password").read_text().strip()
    assert first == supervisor.FlowerLogin("admin", tmp_path / "flower-password", password)
    assert os.environ["FLOWER_BASIC_AUTH"] == f"admin:{password}"
    monkeypatch.delenv("FLOWER_BASIC_AUTH")
    again = supervisor._flower_login(tmp_path)
    assert again.new_password is None  # shown on the first run only
    assert os.environ["FLOWER_BASIC_AUTH"] == f"admin:{password}"


def test_an_operators_own_flower_login_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWER_BASIC_AUTH", "ops:their-own")

    assert supervisor._flower_login(tmp_path) == supervisor.FlowerLogin("ops", None)
    assert os.environ["FLOWER_BASIC_AUTH"] == "ops:their-own"
    assert not (tmp_path / "flower-password").exists()


def test_flower_runs_on_its_port_and_host_with_no_password_on_its_command_line(tmp_path):
    with_flower = supervisor._commands("0.0.0.0", 8000, 8, tmp_path, flower_port=5601)
    without = supervisor._commands("0.0.0.0", 8000, 8, tmp_path, flower_port=0)

    flower = [command for command in with_flower if "flower" in command]
    assert len(flower) == 1
    assert flower[0][-2:] == ["--address=0.0.0.0", "--port=5601"]
    assert not any("basic" in argument for argument in flower[0])
    assert not any("flower" in command for command in without)
    assert len(with_flower) == len(without) + 1


def test_the_banner_says_where_flower_and_its_password_are(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.db")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    login = supervisor.FlowerLogin("admin", tmp_path / "flower-password", "s3cret")

    supervisor._announce("127.0.0.1", 8000, None, 5555, login)
    first = capsys.readouterr().out
    supervisor._announce("127.0.0.1", 8000, None, 5555,
                         supervisor.FlowerLogin("admin", tmp_path / "flower-password"))
    later = capsys.readouterr().out
    supervisor._announce("127.0.0.1", 8000, None, 0, None)
    off = capsys.readouterr().out

    where = f"http://127.0.0.1:5555  (user admin, password in {tmp_path / 'flower-password'})"
    assert where in first and where in later
    assert "s3cret" in first and "s3cret" not in later
    assert "Flower:   off" in off


def test_metrics_get_a_directory_emptied_at_start_and_a_token_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.delenv("PARLEY_METRICS_TOKEN", raising=False)
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_123.db").write_bytes(b"last run's counts")
    (directory / "notes.txt").write_text("not prometheus_client's")

    token_file = supervisor._prepare_metrics(tmp_path)
    token = os.environ["PARLEY_METRICS_TOKEN"]
    monkeypatch.delenv("PARLEY_METRICS_TOKEN")
    supervisor._prepare_metrics(tmp_path)

    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(directory)
    assert sorted(path.name for path in directory.iterdir()) == ["notes.txt"]
    assert token_file == tmp_path / "metrics-token"
    assert token_file.read_text().strip() == token == os.environ["PARLEY_METRICS_TOKEN"]


def test_an_operators_metrics_token_and_directory_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("PARLEY_METRICS_TOKEN", "operators-own")

    assert supervisor._prepare_metrics(tmp_path) is None
    assert os.environ["PARLEY_METRICS_TOKEN"] == "operators-own"
    assert (tmp_path / "elsewhere").is_dir()
    assert not (tmp_path / "metrics-token").exists()


def test_flower_counts_outside_the_metrics_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    commands = supervisor._commands("127.0.0.1", 8000, 8, tmp_path, flower_port=5555)
    flower = [command for command in commands if "workers.flower_app" in command]

    assert len(flower) == 1
    assert "PROMETHEUS_MULTIPROC_DIR" not in supervisor._environment_of(flower[0])
    for command in commands:
        if command is not flower[0]:
            assert supervisor._environment_of(command)["PROMETHEUS_MULTIPROC_DIR"] == str(
                tmp_path)
