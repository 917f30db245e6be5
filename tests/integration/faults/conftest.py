"""Fixtures of the fault tests: a stack with a broker of its own that a test may stop and
a worker it may kill (tests/support/faults.py), and a PostgreSQL cluster of its own that
a test may stop and start."""

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from app.extensions import db
from tests.support.apps import make_real_app
from tests.support.environment import IN_CI
from tests.support.faults import FAULT_ENV, FaultStack
from tests.support.postgres import Cluster, postgres_bin
from tests.support.processes import free_port


@pytest.fixture
def fault_stack(postgres_url, fake_model, tmp_path):
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    env = {**FAULT_ENV, "DATABASE_URL": postgres_url, "REDIS_URL": redis_url,
           "ANTHROPIC_BASE_URL": fake_model.url}
    app = make_real_app(postgres_url, redis_url)
    with app.app_context():
        stack = FaultStack(app, env, tmp_path, port)
        try:
            yield stack
        finally:
            stack.close()
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def cluster():
    bindir = postgres_bin()
    if bindir is None:
        message = "no PostgreSQL server binaries (pg_ctl) on this machine"
        if IN_CI:
            pytest.fail(message + "; with CI=true the integration tests must run")
        pytest.skip(message)
    # Not under pytest's tmp_path: the postgres user cannot enter root's folders there.
    folder = Path(tempfile.mkdtemp(prefix="parley-pg-"))
    server = Cluster(bindir, folder, free_port())
    server.start()
    yield server
    try:
        server.stop()
    except subprocess.CalledProcessError:
        pass  # already stopped
    shutil.rmtree(folder, ignore_errors=True)
