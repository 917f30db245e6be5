"""While the database is unreachable the API answers 503 with a JSON error, and it
recovers by itself when the database returns. The test stops and starts a PostgreSQL
server of its own (a throwaway cluster on its own port), never the machine's."""

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from app.extensions import db
from app.services import organizations
from tests.integration.conftest import IN_CI, make_app
from tests.integration.test_faults import free_port

pytestmark = pytest.mark.integration


def _postgres_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return os.path.dirname(found[-1])
    pg_ctl = shutil.which("pg_ctl")
    return os.path.dirname(pg_ctl) if pg_ctl else None


class Cluster:
    """A PostgreSQL cluster in a temporary folder. As root it runs as the postgres
    user, since PostgreSQL refuses to run as root."""

    def __init__(self, bindir: str, folder, port: int):
        self.bindir, self.data, self.port = bindir, folder / "data", port
        self.sockets = folder / "sockets"
        self.sockets.mkdir()
        self.log = folder / "postgres.log"
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
            shutil.chown(self.sockets, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def _run(self, program: str, *arguments: str) -> None:
        command = [os.path.join(self.bindir, program), *arguments]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o",
                  f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1",
                  "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def cluster():
    bindir = _postgres_bin()
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


def test_database_outage_is_503_then_recovers_by_itself(cluster):
    from flask_migrate import upgrade

    app = make_app(cluster.url, "memory://", AUTH_CACHE_SECONDS=0)
    with app.app_context():
        upgrade()
        auth = {"X-API-Key": organizations.create_key("outage")["api_key"]}
    # Each request in its own app context, as under gunicorn.
    client = app.test_client()
    assert client.get("/api/data_sets", headers=auth).status_code == 200

    cluster.stop()
    down = [client.get("/api/data_sets", headers=auth),
            client.post("/api/data_sets", json={"name": "x"}, headers=auth),
            client.get("/api/task_status/00000000-0000-0000-0000-000000000000",
                       headers=auth)]
    cluster.start()
    recovered = _first_success(client, auth)
    with app.app_context():
        db.engine.dispose()

    for response in down:
        assert response.status_code == 503, response.get_data(as_text=True)
        assert response.get_json()["message"] == "The database is unavailable; try again shortly."
    assert recovered < 3, "the API should recover within a request or two"


def _first_success(client, auth) -> int:
    """How many requests it took, once the database is back, to get a 200."""
    for attempt in range(10):
        response = client.get("/api/data_sets", headers=auth)
        assert response.status_code in (200, 503), response.get_data(as_text=True)
        if response.status_code == 200:
            return attempt
        time.sleep(0.2)
    raise AssertionError("the API did not recover after the database returned")
