"""Fixtures of the fault tests: a stack with a broker of its own that a test may stop and
a worker it may kill (tests/support/faults.py), and a PostgreSQL cluster of its own that
a test may stop and start."""

import pytest

from app.extensions import db
from tests.support.apps import make_real_app
from tests.support.environment import IN_CI
from tests.support.faults import FAULT_ENV, FaultStack
from tests.support.postgres import throwaway_cluster
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


def _cluster():
    try:
        with throwaway_cluster(free_port()) as server:
            yield server
    except LookupError as exc:
        if IN_CI:
            pytest.fail(f"{exc}; with CI=true the integration tests must run")
        pytest.skip(str(exc))


@pytest.fixture
def cluster():
    """A PostgreSQL server of the test's own, which it may stop and start."""
    yield from _cluster()


@pytest.fixture(scope="module")
def module_cluster():
    """The same, shared by a module's tests."""
    yield from _cluster()
